package spec

import (
	"bytes"
	"io"
	"mime"
	mimemultipart "mime/multipart"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// body is the stored representation the range tests serve from.
var body = func() []byte {
	b := make([]byte, 1000)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}()

func wholeStored(kv ...string) Pair {
	return storedGET("p", ok200(append([]string{"Cache-Control", "max-age=600", "ETag", `"a"`, "Content-Length", "1000",
		"Content-Type", "text/plain", "Last-Modified", hd(at(-3600))}, kv...)...))
}

// RFC 9110 §14.2 (RFC 9111 §4.3.2, §3.3): a Range request answered from a
// complete stored 200.
func TestRange_RFC9110_14_2_FromComplete200(t *testing.T) {
	o := private(at(10))
	st := []Pair{wholeStored()}
	partial := func(cr, cl string) want {
		return want{state: "FromCache", code: "fresh", status: 206, body: plan(BodyRanges),
			header: map[string]string{"Content-Range": cr, "Content-Length": cl, "Content-Type": "text/plain", "Etag": `"a"`}}
	}
	whole := want{state: "FromCache", status: 200, body: plan(BodyAll),
		header: map[string]string{"Content-Range": absent, "Content-Length": "1000"}}
	runLookups(t, []lookupCase{
		{"first bytes", o, st, get("Range", "bytes=0-99"), partial("bytes 0-99/1000", "100")},
		{"open-ended", o, st, get("Range", "bytes=900-"), partial("bytes 900-999/1000", "100")},
		{"suffix", o, st, get("Range", "bytes=-100"), partial("bytes 900-999/1000", "100")},
		{"last-pos past the end is clamped", o, st, get("Range", "bytes=990-5000"), partial("bytes 990-999/1000", "10")},
		{"unit is case-insensitive", o, st, get("Range", "Bytes=0-0"), partial("bytes 0-0/1000", "1")},
		{"unsatisfiable spec dropped among satisfiable", o, st, get("Range", "bytes=5000-6000, 0-9"), partial("bytes 0-9/1000", "10")},
		{"If-Range with the strong ETag (§13.1.5)", o, st, get("Range", "bytes=0-9", "If-Range", `"a"`), partial("bytes 0-9/1000", "10")},
		{"If-Range with the Last-Modified date", o, st, get("Range", "bytes=0-9", "If-Range", hd(at(-3600))), partial("bytes 0-9/1000", "10")},
		{"If-Range with another ETag: whole", o, st, get("Range", "bytes=0-9", "If-Range", `"b"`), whole},
		{"If-Range with a weak ETag never matches: whole", o, st, get("Range", "bytes=0-9", "If-Range", `W/"a"`), whole},
		{"If-Range with another date: whole", o, st, get("Range", "bytes=0-9", "If-Range", hd(at(-3599))), whole},
		{"If-Range with a weak Last-Modified: whole", o, []Pair{wholeStored("Last-Modified", hd(t0))},
			get("Range", "bytes=0-9", "If-Range", hd(t0)), whole},
		{"unsatisfiable: 416", o, st, get("Range", "bytes=1000-2000"), want{state: "FromCache", status: 416, body: plan(BodyNone),
			header: map[string]string{"Content-Range": "bytes */1000", "Content-Length": "0", "Content-Type": absent}}},
		{"other unit ignored", o, st, get("Range", "items=0-9"), whole},
		{"invalid range ignored", o, st, get("Range", "bytes=9-0"), whole},
		{"several Range lines ignored", o, st, get("Range", "bytes=0-9", "Range", "bytes=10-19"), whole},
		{"unknown stored length: whole", o, []Pair{storedGET("p", ok200("Cache-Control", "max-age=600"))},
			get("Range", "bytes=0-9"), want{state: "FromCache", status: 200, body: plan(BodyAll)}},
		{"invalid stored Content-Length: whole", o, []Pair{storedGET("p", ok200("Cache-Control", "max-age=600", "Content-Length", "+1000"))},
			get("Range", "bytes=0-9"), want{state: "FromCache", status: 200, body: plan(BodyAll)}},
		{"negative stored Content-Length: whole", o, []Pair{storedGET("p", ok200("Cache-Control", "max-age=600", "Content-Length", "-1"))},
			get("Range", "bytes=0-9"), want{state: "FromCache", status: 200, body: plan(BodyAll)}},
		{"HEAD ignores Range", o, st, rq(http.MethodHead, testURL, "Range", "bytes=0-9"),
			want{state: "FromCache", status: 200, body: plan(BodyNone), header: map[string]string{"Content-Range": absent}}},
	})

	fc := as[FromCache](t, NewIdleClient(o).Next(get("Range", "bytes=-100"), st))
	if !slices.Equal(fc.Serve.Ranges, []ByteRange{{Start: 900, Length: 100}}) {
		t.Errorf("Ranges = %v", fc.Serve.Ranges)
	}
	if n := fc.Serve.ContentLength(1000); n != 100 {
		t.Errorf("ContentLength = %d, want 100", n)
	}
	if p, c := fc.Serve.Parts(); p != nil || c != nil {
		t.Errorf("Parts of a single range = %v, %q", p, c)
	}
}

// RFC 9110 §14.6: several ranges are sent as multipart/byteranges, with a
// Content-Length that is exactly the length of the framed body.
func TestRange_RFC9110_14_6_Multipart(t *testing.T) {
	fc := as[FromCache](t, NewIdleClient(private(at(10))).Next(get("Range", "bytes=0-9, 500-509, -5"), []Pair{wholeStored()}))
	check(t, fc, want{status: 206, body: plan(BodyRanges), header: map[string]string{"Content-Range": absent}})
	h := fc.Serve.Header()
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/byteranges" || params["boundary"] == "" {
		t.Fatalf("Content-Type = %q (%v)", h.Get("Content-Type"), err)
	}
	want := []ByteRange{{0, 10}, {500, 10}, {995, 5}}
	if !slices.Equal(fc.Serve.Ranges, want) {
		t.Errorf("Ranges = %v, want %v", fc.Serve.Ranges, want)
	}

	// Build the body as a caller would and parse it back.
	parts, closing := fc.Serve.Parts()
	var buf bytes.Buffer
	for _, p := range parts {
		buf.Write(p.Header)
		buf.Write(body[p.Range.Start : p.Range.Start+p.Range.Length])
	}
	buf.Write(closing)
	if cl := h.Get("Content-Length"); cl != itoa(buf.Len()) {
		t.Errorf("Content-Length = %s, framed body is %d bytes", cl, buf.Len())
	}
	if n := fc.Serve.ContentLength(1000); n != int64(buf.Len()) {
		t.Errorf("ContentLength = %d, framed body is %d bytes", n, buf.Len())
	}
	if bytes.Contains(body, []byte(params["boundary"])) {
		t.Errorf("boundary occurs in the content")
	}
	mr := mimemultipart.NewReader(&buf, params["boundary"])
	for i, r := range want {
		part, err := mr.NextPart()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if ct := part.Header.Get("Content-Type"); ct != "text/plain" {
			t.Errorf("part %d Content-Type = %q", i, ct)
		}
		if cr, w := part.Header.Get("Content-Range"), contentRange(r, 1000); cr != w {
			t.Errorf("part %d Content-Range = %q, want %q", i, cr, w)
		}
		got, _ := io.ReadAll(part)
		if !bytes.Equal(got, body[r.Start:r.Start+r.Length]) {
			t.Errorf("part %d = %q", i, got)
		}
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Errorf("after the last part: %v, want EOF", err)
	}
	// The boundary is deterministic: the core has no randomness.
	fc2 := as[FromCache](t, NewIdleClient(private(at(10))).Next(get("Range", "bytes=0-9, 500-509, -5"), []Pair{wholeStored()}))
	if h2 := fc2.Serve.Header(); h2.Get("Content-Type") != h.Get("Content-Type") {
		t.Errorf("boundary differs between two identical lookups")
	}
	if !strings.HasPrefix(params["boundary"], "cellar-") {
		t.Errorf("boundary = %q", params["boundary"])
	}
}

// RFC 9110 §14.2: a Range the cache evaluates on a response it got from the
// origin (after replacing the client's Range to validate) is answered
// there, single ranges only since the upstream body is streamed once.
func TestRange_RFC9110_14_2_OnValidatedFullResponse(t *testing.T) {
	stored := old("a", 0, "ETag", `"a"`)
	full := rsp(200, now150, "Date", hd(now150), "ETag", `"b"`, "Cache-Control", "max-age=60", "Content-Length", "1000")
	cases := []struct {
		rng  string
		want want
	}{
		{"bytes=0-9", want{status: 206, body: plan(BodyRanges), header: map[string]string{"Content-Range": "bytes 0-9/1000", "Content-Length": "10"}}},
		{"bytes=0-9, 20-29", want{status: 200, body: plan(BodyAll), header: map[string]string{"Content-Length": "1000"}}},
		{"bytes=2000-", want{status: 416, body: plan(BodyNone), header: map[string]string{"Content-Range": "bytes */1000"}}},
	}
	for _, tc := range cases {
		t.Run(tc.rng, func(t *testing.T) {
			nr := revalidation(t, private(now150), get("Range", tc.rng), stored)
			check(t, nr, want{fwd: map[string]string{"Range": absent}})
			m := as[CacheMiss](t, nr.Next(full))
			tc.want.state = "StoreAndUse"
			check(t, m.Next(full), tc.want)
		})
	}
	// After a 304 the Range is answered from the stored body, several
	// ranges included.
	st := wholeStored()
	st.Response.Header.Set("Cache-Control", "max-age=10")
	nr := revalidation(t, private(now150), get("Range", "bytes=0-9, 20-29", "If-Range", `"a"`), st)
	check(t, nr, want{fwd: map[string]string{"Range": absent, "If-Range": absent, "If-None-Match": `"a"`}})
	up := as[NeedToBeUpdated](t, nr.Next(notMod("ETag", `"a"`)))
	check(t, up, want{status: 206, body: plan(BodyRanges)})
	if parts, _ := up.Serve.Parts(); len(parts) != 2 {
		t.Errorf("%d parts, want 2", len(parts))
	}

	// On a plain miss the origin evaluates Range itself.
	m := missFor(t, private(t0), get("Range", "bytes=0-9"))
	check(t, m, want{fwd: map[string]string{"Range": "bytes=0-9"}})
	check(t, m.Next(ok200("Cache-Control", "max-age=60", "Content-Length", "1000")), want{status: 200, body: plan(BodyAll)})
}

// RFC 9110 §14.2 and §17.15: overlapping and adjacent ranges are coalesced,
// a Range of too many parts is answered with the whole representation, and
// no answer is larger than the representation plus its part headers (100
// "0-" ranges on 1 MB made a 100 MB answer).
func TestRange_RFC9110_17_15_EgregiousRanges(t *testing.T) {
	const size = 1 << 20
	stored := storedGET("p", ok200("Cache-Control", "max-age=600", "ETag", `"a"`, "Content-Length", itoa(size), "Content-Type", "text/plain"))
	many := func(spec string, n int) string {
		return "bytes=" + strings.TrimSuffix(strings.Repeat(spec+",", n), ",")
	}
	disjoint := func(n int) string {
		var b strings.Builder
		b.WriteString("bytes=")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(itoa(i*100) + "-" + itoa(i*100+9))
		}
		return b.String()
	}
	cases := []struct {
		name  string
		rng   string
		want  want
		parts int
	}{
		{"100 times 0- is one range", many("0-", 100), want{status: 206, body: plan(BodyRanges),
			header: map[string]string{"Content-Range": "bytes 0-1048575/1048576", "Content-Length": itoa(size)}}, 0},
		{"overlapping ranges merge", "bytes=100-199, 150-299, 0-9", want{status: 206}, 2},
		{"adjacent ranges merge", "bytes=0-9, 10-19, 20-29", want{status: 206,
			header: map[string]string{"Content-Range": "bytes 0-29/1048576", "Content-Length": "30"}}, 0},
		{"suffix overlapping the start", "bytes=-1048576, 0-0", want{status: 206,
			header: map[string]string{"Content-Range": "bytes 0-1048575/1048576"}}, 0},
		{"16 disjoint parts are served", disjoint(16), want{status: 206}, 16},
		{"17 disjoint parts: the whole representation", disjoint(17), want{status: 200, body: plan(BodyAll),
			header: map[string]string{"Content-Length": itoa(size), "Content-Range": absent}}, 0},
		{"disjoint parts keep the order asked", "bytes=500-509, 0-9", want{status: 206}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fc := as[FromCache](t, NewIdleClient(private(at(10))).Next(get("Range", tc.rng), []Pair{stored}))
			check(t, fc, tc.want)
			parts, _ := fc.Serve.Parts()
			if len(parts) != tc.parts {
				t.Fatalf("%d parts, want %d", len(parts), tc.parts)
			}
			var content, framing int64
			for _, p := range parts {
				content += p.Range.Length
				framing += int64(len(p.Header))
			}
			if content > size {
				t.Errorf("parts hold %d bytes of a %d-byte representation", content, size)
			}
			if n := fc.Serve.ContentLength(size); n > size+framing+100 {
				t.Errorf("answer of %d bytes for a %d-byte representation", n, size)
			}
			if tc.name == "disjoint parts keep the order asked" && parts[0].Range.Start != 500 {
				t.Errorf("first part starts at %d, want 500 (RFC 9110 §14.6: the order asked)", parts[0].Range.Start)
			}
		})
	}
}
