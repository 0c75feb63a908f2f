package spec

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// part is a stored 206 holding cr ("first-last/complete") received at
// t0+date, with max-age=600 and the given fields.
func part(id, cr string, date int, kv ...string) Pair {
	first, last, _, _ := parseContentRange("bytes " + cr)
	return pr(id, get(), rsp(http.StatusPartialContent, at(date), append([]string{"Date", hd(at(date)),
		"Cache-Control", "max-age=600", "Content-Range", "bytes " + cr, "Content-Length", itoa(int(last - first + 1))}, kv...)...))
}

// RFC 9111 §3.3: a 206 may be stored, apart from other ranges of the same
// representation, when it has a single byte range and a complete length.
func TestPartial_RFC9111_3_3_Store206(t *testing.T) {
	r206 := func(cr string, kv ...string) Response {
		return rsp(206, t0, append([]string{"Date", hd(t0), "Cache-Control", "max-age=600", "ETag", `"a"`, "Content-Range", cr}, kv...)...)
	}
	req := get("Range", "bytes=0-499")
	runStores(t, []storeCase{
		{"single range with complete length", private(t0), req, r206("bytes 0-499/1000", "Content-Length", "500"),
			want{state: "StoreAndUse", code: "max-age", status: 206, body: plan(BodyAll), cs: "cellar; fwd=uri-miss; fwd-status=206; ttl=600; stored"}},
		{"unknown complete length", private(t0), req, r206("bytes 0-499/*"), want{state: "CouldNotBeStored", code: "partial-unusable", status: 206}},
		{"unsatisfied-range form", private(t0), req, r206("bytes */1000"), want{state: "CouldNotBeStored", code: "partial-unusable"}},
		{"other unit", private(t0), req, r206("items 0-4/10"), want{state: "CouldNotBeStored", code: "partial-unusable"}},
		{"multipart/byteranges (no Content-Range)", private(t0), req,
			rsp(206, t0, "Date", hd(t0), "Cache-Control", "max-age=600", "Content-Type", "multipart/byteranges; boundary=x"),
			want{state: "CouldNotBeStored", code: "partial-unusable"}},
		{"invalid range", private(t0), req, r206("bytes 500-499/1000"), want{state: "CouldNotBeStored", code: "partial-unusable"}},
		{"Content-Length shorter than the range", private(t0), req, r206("bytes 0-499/1000", "Content-Length", "400"),
			want{state: "CouldNotBeStored", code: "partial-length-mismatch", status: 206}},
		{"Content-Length longer than the range", private(t0), req, r206("bytes 0-499/1000", "Content-Length", "501"),
			want{state: "CouldNotBeStored", code: "partial-length-mismatch"}},
		{"invalid Content-Length", private(t0), req, r206("bytes 0-499/1000", "Content-Length", "5x"),
			want{state: "CouldNotBeStored", code: "partial-length-mismatch"}},
	})
	// Without Content-Length, the body must hold the whole range (§3.3).
	if sa := as[StoreAndUse](t, missFor(t, private(t0), req).Next(r206("bytes 0-499/1000"))); sa.ExpectedLength != 500 {
		t.Errorf("ExpectedLength of a 206 without Content-Length = %d, want the range's 500", sa.ExpectedLength)
	}

	m := missFor(t, private(t0), req)
	a := as[StoreAndUse](t, m.Next(r206("bytes 0-499/1000", "Content-Length", "500")))
	b := as[StoreAndUse](t, m.Next(r206("bytes 500-999/1000", "Content-Length", "500")))
	if a.Key != b.Key {
		t.Errorf("parts of one URI have different keys %q, %q", a.Key, b.Key)
	}
	if a.Variant == b.Variant {
		t.Errorf("two ranges share the variant %q: storing one would replace the other", a.Variant)
	}
	if a.ExpectedLength != 500 {
		t.Errorf("ExpectedLength = %d, want the part's 500", a.ExpectedLength)
	}
	if joined(a.Pair.Response.Header, "Content-Range") != "bytes 0-499/1000" {
		t.Errorf("Content-Range not stored")
	}
}

// RFC 9111 §3.4: stored 206 responses sharing a strong validator whose
// ranges meet combine into one stored response (PartialUpdate).
func TestPartial_RFC9111_3_4_Combine(t *testing.T) {
	o := private(at(10))
	tag := []string{"ETag", `"a"`}
	cases := []struct {
		name     string
		stored   []Pair
		parts    []string // IDs of the parts combined; nil: no combining
		ranges   []ByteRange
		status   int    // Combined.Status
		cr       string // Combined Content-Range
		length   string // Combined Content-Length
		notState string // when not combined: the state instead
	}{
		{"adjacent halves make the whole",
			[]Pair{part("a", "0-499/1000", 0, tag...), part("b", "500-999/1000", 5, tag...)},
			[]string{"a", "b"}, []ByteRange{{0, 500}, {500, 500}}, 200, absent, "1000", ""},
		{"overlapping parts",
			[]Pair{part("b", "400-999/1000", 5, tag...), part("a", "0-599/1000", 0, tag...)},
			[]string{"a", "b"}, []ByteRange{{0, 600}, {400, 600}}, 200, absent, "1000", ""},
		{"three parts out of order",
			[]Pair{part("c", "200-299/300", 2, tag...), part("a", "0-99/300", 0, tag...), part("b", "100-199/300", 1, tag...)},
			[]string{"a", "b", "c"}, []ByteRange{{0, 100}, {100, 100}, {200, 100}}, 200, absent, "300", ""},
		{"union short of the whole stays partial",
			[]Pair{part("a", "0-199/1000", 0, tag...), part("b", "200-399/1000", 5, tag...)},
			[]string{"a", "b"}, []ByteRange{{0, 200}, {200, 200}}, 206, "bytes 0-399/1000", "400", ""},
		{"a gap does not combine",
			[]Pair{part("a", "0-399/1000", 0, tag...), part("b", "500-999/1000", 5, tag...)}, nil, nil, 0, "", "", "CacheMiss"},
		{"weak validators do not combine",
			[]Pair{part("a", "0-499/1000", 0, "ETag", `W/"a"`), part("b", "500-999/1000", 5, "ETag", `W/"a"`)}, nil, nil, 0, "", "", "CacheMiss"},
		{"different validators do not combine",
			[]Pair{part("a", "0-499/1000", 0, "ETag", `"a"`), part("b", "500-999/1000", 5, "ETag", `"b"`)}, nil, nil, 0, "", "", "CacheMiss"},
		{"no validator does not combine",
			[]Pair{part("a", "0-499/1000", 0), part("b", "500-999/1000", 5)}, nil, nil, 0, "", "", "CacheMiss"},
		{"different complete lengths do not combine",
			[]Pair{part("a", "0-499/1000", 0, tag...), part("b", "500-999/1001", 5, tag...)}, nil, nil, 0, "", "", "CacheMiss"},
		{"a 206 in the unsatisfied-range form is no part",
			[]Pair{part("a", "0-499/1000", 0, tag...), pr("bad", get(), rsp(206, t0, "Date", hd(t0), "Cache-Control", "max-age=600",
				"Content-Range", "bytes */1000", "ETag", `"a"`))}, nil, nil, 0, "", "", "CacheMiss"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := NewIdleClient(o).Next(get(), tc.stored)
			if tc.parts == nil {
				check(t, s, want{state: tc.notState, code: "partial"})
				return
			}
			pu := as[PartialUpdate](t, s)
			check(t, pu, want{code: "combine-partial"})
			if got := ids(pu.Parts); !slices.Equal(got, tc.parts) {
				t.Errorf("Parts = %v, want %v", got, tc.parts)
			}
			if !slices.Equal(pu.Ranges, tc.ranges) {
				t.Errorf("Ranges = %v, want %v", pu.Ranges, tc.ranges)
			}
			if pu.Combined.Status != tc.status {
				t.Errorf("Combined.Status = %d, want %d", pu.Combined.Status, tc.status)
			}
			if got := joined(pu.Combined.Header, "Content-Range"); got != tc.cr {
				t.Errorf("Combined Content-Range = %q, want %q", got, tc.cr)
			}
			if got := joined(pu.Combined.Header, "Content-Length"); got != tc.length {
				t.Errorf("Combined Content-Length = %q, want %q", got, tc.length)
			}
			if pu.Key != Key(get()) {
				t.Errorf("Key = %q", pu.Key)
			}
			if (tc.status == 206) != strings.Contains(pu.Variant, "bytes ") {
				t.Errorf("Variant = %q: a partial combination keeps its range apart", pu.Variant)
			}
		})
	}
}

// RFC 9111 §3.4 with §3.2: the combined response's header is the stored
// one updated by the newer part's fields; its times are the newest part's.
func TestPartial_RFC9111_3_4_CombinedHeader(t *testing.T) {
	a := part("a", "0-499/1000", 0, "ETag", `"a"`, "X-Old", "from a", "X-Both", "a", "Age", "7")
	b := part("b", "500-999/1000", 5, "ETag", `"a"`, "X-Both", "b")
	b.Response.Header.Set("Cache-Control", "max-age=900")
	pu := as[PartialUpdate](t, NewIdleClient(private(at(10))).Next(get(), []Pair{b, a}))
	h := pu.Combined.Header
	for k, v := range map[string]string{
		"X-Both":        "b",
		"X-Old":         "from a", // §3.2: fields the newer response lacks are kept
		"Cache-Control": "max-age=900",
		"Date":          hd(at(5)),
		"Age":           absent, // the older part's Age does not describe the combination
		"Etag":          `"a"`,
	} {
		if got := joined(h, k); got != v {
			t.Errorf("combined %s = %q, want %q", k, got, v)
		}
	}
	if !pu.Combined.ResponseTime.Equal(at(5)) {
		t.Errorf("combined ResponseTime = %v, want the newest part's", pu.Combined.ResponseTime)
	}
}

// RFC 9111 §3.4 and the seed's graph: PartialUpdate → FromCache |
// NeedRevalidation | CacheMiss once the combined response is stored.
func TestPartial_RFC9111_3_4_NextAfterCombining(t *testing.T) {
	tag := []string{"ETag", `"a"`}
	whole := []Pair{part("a", "0-499/1000", 0, tag...), part("b", "500-999/1000", 5, tag...)}
	half := []Pair{part("a", "0-199/1000", 0, tag...), part("b", "200-399/1000", 5, tag...)}
	cases := []struct {
		name   string
		now    int
		stored []Pair
		req    Request
		want   want
	}{
		{"whole and fresh: served", 10, whole, get(), want{state: "FromCache", code: "fresh", status: 200, id: "c"}},
		{"whole, Range: 206", 10, whole, get("Range", "bytes=490-509"), want{state: "FromCache", status: 206,
			header: map[string]string{"Content-Range": "bytes 490-509/1000"}}},
		{"whole but stale: validate", 1000, whole, get(), want{state: "NeedRevalidation", code: "stale",
			fwd: map[string]string{"If-None-Match": `"a"`}}},
		{"still partial, Range inside: 206", 10, half, get("Range", "bytes=100-299"), want{state: "FromCache", code: "partial-hit", status: 206,
			header: map[string]string{"Content-Range": "bytes 100-299/1000", "Content-Length": "200"}}},
		{"still partial, whole requested: miss", 10, half, get(), want{state: "CacheMiss", code: "partial"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := private(at(tc.now))
			pu := as[PartialUpdate](t, NewIdleClient(o).Next(tc.req, tc.stored))
			combined := Pair{ID: "c", Request: get(), Response: pu.Combined}
			check(t, pu.Next(combined), tc.want)
		})
	}
	// The served ranges are offsets into the combined body.
	pu := as[PartialUpdate](t, NewIdleClient(private(at(10))).Next(get("Range", "bytes=100-299"), half))
	fc := as[FromCache](t, pu.Next(Pair{ID: "c", Request: get(), Response: pu.Combined}))
	if !slices.Equal(fc.Serve.Ranges, []ByteRange{{100, 200}}) {
		t.Errorf("Ranges = %v", fc.Serve.Ranges)
	}
}

// RFC 9111 §3.3: a cache may answer a Range request wholly within a stored
// fresh 206, and must not otherwise use a partial response.
func TestPartial_RFC9111_3_3_ServeFromPart(t *testing.T) {
	p := part("p", "500-999/1000", 0, "ETag", `"a"`)
	o := private(at(10))
	runLookups(t, []lookupCase{
		{"inside the part", o, []Pair{p}, get("Range", "bytes=600-609"), want{state: "FromCache", code: "partial-hit", status: 206,
			body: plan(BodyRanges), header: map[string]string{"Content-Range": "bytes 600-609/1000", "Content-Length": "10", "Age": "10"},
			cs: "cellar; hit; ttl=590; detail=partial"}},
		{"suffix inside the part", o, []Pair{p}, get("Range", "bytes=-10"), want{state: "FromCache", status: 206,
			header: map[string]string{"Content-Range": "bytes 990-999/1000"}}},
		{"straddling the part", o, []Pair{p}, get("Range", "bytes=400-599"), want{state: "CacheMiss", code: "partial",
			fwd: map[string]string{"Range": "bytes=400-599"}}},
		{"whole requested", o, []Pair{p}, get(), want{state: "CacheMiss", code: "partial"}},
		{"several ranges", o, []Pair{p}, get("Range", "bytes=600-609, 700-709"), want{state: "CacheMiss", code: "partial"}},
		{"stale part", private(at(700)), []Pair{p}, get("Range", "bytes=600-609"), want{state: "CacheMiss", code: "partial"}},
		{"request no-cache", o, []Pair{p}, get("Range", "bytes=600-609", "Cache-Control", "no-cache"), want{state: "CacheMiss", code: "partial"}},
		{"If-Range with the part's tag", o, []Pair{p}, get("Range", "bytes=600-609", "If-Range", `"a"`), want{state: "FromCache", status: 206}},
		{"If-Range with another tag", o, []Pair{p}, get("Range", "bytes=600-609", "If-Range", `"b"`), want{state: "CacheMiss", code: "partial"}},
		{"only-if-cached and not covered: 504", o, []Pair{p}, get("Range", "bytes=0-9", "Cache-Control", "only-if-cached"),
			want{state: "FromCache", code: "only-if-cached", status: 504}},
	})
	fc := as[FromCache](t, NewIdleClient(o).Next(get("Range", "bytes=600-609"), []Pair{p}))
	if !slices.Equal(fc.Serve.Ranges, []ByteRange{{100, 10}}) {
		t.Errorf("Ranges = %v, want offset 100 into the stored part", fc.Serve.Ranges)
	}
}

// RFC 9111 §4.3.2 (RFC 9110 §13.2.2): a conditional request, Range or not,
// whose If-None-Match matches a fresh stored 206 is answered 304 from it,
// as it would be from a stored 200.
func TestPartial_RFC9111_4_3_2_ConditionalOnStoredPart(t *testing.T) {
	o := private(at(10))
	stored := []Pair{part("a", "0-9/100", 0, "ETag", `"v1"`, "Content-Type", "text/plain")}
	notMod := want{state: "FromCache", code: "partial-not-modified", status: 304, body: plan(BodyNone), id: "a",
		header: map[string]string{"Etag": `"v1"`, "Content-Range": absent, "Content-Length": absent, "Content-Type": absent}}
	runLookups(t, []lookupCase{
		{"Range inside the part", o, stored, get("Range", "bytes=0-4", "If-None-Match", `"v1"`), notMod},
		{"Range outside the part", o, stored, get("Range", "bytes=50-59", "If-None-Match", `"x", W/"v1"`), notMod},
		{"no Range", o, stored, get("If-None-Match", `"v1"`), notMod},
		{"another tag: the range is served", o, stored, get("Range", "bytes=0-4", "If-None-Match", `"v2"`),
			want{state: "FromCache", code: "partial-hit", status: 206}},
		{"stale part: not answered", private(at(1000)), stored, get("Range", "bytes=0-4", "If-None-Match", `"v1"`),
			want{state: "CacheMiss"}},
	})
}

// RFC 9111 §3.4: when a stored part holds the start of the requested
// range, only the missing end is asked for, with If-Range so that a changed
// representation comes back whole; the answer is stored to be combined
// only when it is exactly that part.
func TestPartial_RFC9111_3_4_Completion(t *testing.T) {
	o := private(at(10))
	stored := []Pair{part("a", "0-4/10", 0, "ETag", `"a"`)}
	runLookups(t, []lookupCase{
		{"the missing end alone", o, stored, get("Range", "bytes=0-9"),
			want{state: "CacheMiss", code: "partial-completion", fwd: map[string]string{"Range": "bytes=5-9", "If-Range": `"a"`}}},
		{"an open range", o, stored, get("Range", "bytes=2-"),
			want{state: "CacheMiss", code: "partial-completion", fwd: map[string]string{"Range": "bytes=5-9"}}},
		{"the start is not held", o, stored, get("Range", "bytes=5-9"),
			want{state: "CacheMiss", code: "partial", fwd: map[string]string{"Range": "bytes=5-9", "If-Range": absent}}},
		{"weak validator: no combining", o, []Pair{part("a", "0-4/10", 0, "ETag", `W/"a"`)}, get("Range", "bytes=0-9"),
			want{state: "CacheMiss", code: "partial", fwd: map[string]string{"Range": "bytes=0-9"}}},
		{"the client's own conditional", o, stored, get("Range", "bytes=0-9", "If-Range", `"a"`),
			want{state: "CacheMiss", code: "partial"}},
		{"stale part", private(at(1000)), stored, get("Range", "bytes=0-9"),
			want{state: "CacheMiss", code: "partial"}},
	})
	m := as[CacheMiss](t, NewIdleClient(o).Next(get("Range", "bytes=0-9"), stored))
	if m.Completes == nil || *m.Completes != (ByteRange{Start: 5, Length: 5}) {
		t.Fatalf("Completes = %v, want 5-9", m.Completes)
	}
	r206 := func(cr, tag string) Response {
		return rsp(206, at(10), "Date", hd(at(10)), "Cache-Control", "max-age=600", "ETag", tag, "Content-Range", cr, "Content-Length", "5")
	}
	for _, tc := range []struct {
		name string
		resp Response
		ok   bool
	}{
		{"the missing part", r206("bytes 5-9/10", `"a"`), true},
		{"another range", r206("bytes 4-8/10", `"a"`), false},
		{"another length", r206("bytes 5-9/11", `"a"`), false},
		{"another tag", r206("bytes 5-9/10", `"b"`), false},
		{"the whole, changed", rsp(200, at(10), "ETag", `"b"`), false},
	} {
		if got := m.Completed(tc.resp); got != tc.ok {
			t.Errorf("%s: Completed = %v, want %v", tc.name, got, tc.ok)
		}
	}
	sa := as[StoreAndUse](t, m.Next(r206("bytes 5-9/10", `"a"`)))
	combined := as[PartialUpdate](t, NewIdleClient(o).Next(get("Range", "bytes=0-9"), append(stored, Pair{ID: "b", Request: sa.Pair.Request, Response: sa.Pair.Response})))
	if combined.Combined.Status != 200 {
		t.Errorf("combined status %d, want 200", combined.Combined.Status)
	}
	plain := m.WithoutCompletion()
	check(t, plain, want{code: "partial", fwd: map[string]string{"Range": "bytes=0-9", "If-Range": absent}})
	if plain.Completes != nil {
		t.Errorf("WithoutCompletion still completes")
	}
}
