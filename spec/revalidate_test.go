package spec

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

// old is a stale 200 stored for a plain GET at t0+date with max-age=10
// and the given fields; lookups at now150 must validate it.
func old(id string, date int, kv ...string) Pair {
	return pr(id, get(), rsp(200, at(date), append([]string{"Date", hd(at(date)), "Cache-Control", "max-age=10"}, kv...)...))
}

// notMod is a 304 received at now150.
func notMod(kv ...string) Response {
	return rsp(http.StatusNotModified, now150, append([]string{"Date", hd(now150)}, kv...)...)
}

// RFC 9111 §4.3.1: the validation request carries the entity tags of all
// stored responses that could be chosen, and the selected one's
// Last-Modified; the client's own validators and Range are replaced.
func TestRevalidate_RFC9111_4_3_1_ConditionalRequest(t *testing.T) {
	p := private(now150)
	lm := hd(at(-3600))
	runLookups(t, []lookupCase{
		{"ETag and Last-Modified", p, []Pair{old("a", 0, "ETag", `"a"`, "Last-Modified", lm)}, get(),
			want{state: "NeedRevalidation", code: "stale", fwd: map[string]string{"If-None-Match": `"a"`, "If-Modified-Since": lm}}},
		{"all entity tags of the stored responses", p,
			[]Pair{old("a", 0, "ETag", `"a"`), old("b", 5, "ETag", `W/"b"`, "Last-Modified", lm), old("c", 1)}, get(),
			want{state: "NeedRevalidation", fwd: map[string]string{"If-None-Match": `"a", W/"b"`, "If-Modified-Since": lm}}},
		{"Last-Modified of the selected (most recent) response", p,
			[]Pair{old("a", 0, "Last-Modified", hd(at(-99))), old("b", 5, "Last-Modified", lm)}, get(),
			want{state: "NeedRevalidation", fwd: map[string]string{"If-None-Match": absent, "If-Modified-Since": lm}}},
		{"no validators: unconditional", p, []Pair{old("a", 0)}, get("If-Modified-Since", lm),
			want{state: "NeedRevalidation", fwd: map[string]string{"If-None-Match": absent, "If-Modified-Since": absent}}},
		{"client's tags joined to the stored ones (§4.3.2)", p, []Pair{old("a", 0, "ETag", `"a"`)}, get("If-None-Match", `"c"`),
			want{state: "NeedRevalidation", fwd: map[string]string{"If-None-Match": `"c", "a"`}}},
		{"client's * replaced by the stored tags", p, []Pair{old("a", 0, "ETag", `"a"`)}, get("If-None-Match", "*"),
			want{state: "NeedRevalidation", fwd: map[string]string{"If-None-Match": `"a"`}}},
		{"client's If-Modified-Since, Range and If-Range replaced", p, []Pair{old("a", 0, "ETag", `"a"`, "Last-Modified", lm)},
			get("If-Modified-Since", hd(at(-10)), "Range", "bytes=0-9", "If-Range", `"a"`, "Accept-Encoding", "gzip", "Authorization", "x"),
			want{state: "NeedRevalidation", fwd: map[string]string{"If-Modified-Since": lm, "Range": absent, "If-Range": absent,
				"Accept-Encoding": "gzip", "Authorization": "x"}}},
		{"partial responses' tags not included", p,
			[]Pair{old("a", 0, "ETag", `"a"`), pr("part", get(), rsp(206, t0, "Date", hd(t0), "Cache-Control", "max-age=10",
				"ETag", `"p"`, "Content-Range", "bytes 0-9/100"))}, get(),
			want{state: "NeedRevalidation", fwd: map[string]string{"If-None-Match": `"a"`}}},
	})

	// The client's request is not changed.
	req := get("Range", "bytes=0-9")
	nr := revalidation(t, p, req, old("a", 0, "ETag", `"a"`))
	if joined(req.Header, "Range") != "bytes=0-9" || joined(req.Header, "If-None-Match") != absent {
		t.Errorf("the client's request was modified: %v", req.Header)
	}
	if nr.Forward.Method != http.MethodGet || nr.Forward.URL.String() != testURL {
		t.Errorf("Forward = %s %s", nr.Forward.Method, nr.Forward.URL)
	}
}

// RFC 9111 §4.3.3: a 304 freshens, a full response replaces.
func TestRevalidate_RFC9111_4_3_3_ValidationResponse(t *testing.T) {
	stored := old("a", 0, "ETag", `"a"`, "Content-Length", "10")
	nr := revalidation(t, private(now150), get(), stored)

	check(t, nr.Next(notMod("ETag", `"a"`, "Cache-Control", "max-age=100")), want{
		state: "NeedToBeUpdated", code: "not-modified", status: 200, body: plan(BodyAll), id: "a",
		header: map[string]string{"Age": "0", "Content-Length": "10", "Cache-Control": "max-age=100"},
		cs:     "cellar; fwd=stale; fwd-status=304; ttl=100"})

	full := rsp(200, now150, "Date", hd(now150), "ETag", `"b"`, "Cache-Control", "max-age=60")
	m := as[CacheMiss](t, nr.Next(full))
	check(t, m, want{code: "validation-full-response"})
	if !m.Received {
		t.Errorf("Received = false: the full response is already at hand")
	}
	check(t, m.Next(full), want{state: "StoreAndUse", code: "max-age", status: 200,
		cs: "cellar; fwd=stale; fwd-status=200; ttl=60; stored"})

	m = as[CacheMiss](t, nr.Next(rsp(403, now150, "Date", hd(now150))))
	check(t, m.Next(rsp(403, now150, "Date", hd(now150))), want{state: "CouldNotBeStored", code: "not-cacheable", status: 403})
}

// RFC 9111 §4.3.4: which stored responses a 304 freshens.
func TestRevalidate_RFC9111_4_3_4_Selection(t *testing.T) {
	lm := at(-3600)
	cases := []struct {
		name    string
		stored  []Pair
		resp    Response
		updates []string // IDs updated; nil means CacheMiss
		served  string   // "" when the selected response is not among the updated
	}{
		{"strong ETag picks its stored response",
			[]Pair{old("a", 0, "ETag", `"a"`), old("b", 5, "ETag", `"b"`)}, notMod("ETag", `"a"`), []string{"a"}, "a"},
		{"strong ETag picks every stored response with it",
			[]Pair{old("a", 0, "ETag", `"x"`), old("b", 5, "ETag", `"x"`), old("c", 3, "ETag", `"c"`)}, notMod("ETag", `"x"`), []string{"a", "b"}, "b"},
		{"strong ETag matching nothing updates nothing",
			[]Pair{old("a", 0, "ETag", `"a"`)}, notMod("ETag", `"z"`), nil, ""},
		{"strong ETag does not match a weak stored one",
			[]Pair{old("a", 0, "ETag", `W/"a"`)}, notMod("ETag", `"a"`), nil, ""},
		{"weak ETag picks the most recent match",
			[]Pair{old("a", 0, "ETag", `W/"w"`), old("b", 5, "ETag", `W/"w"`), old("c", 9, "ETag", `"c"`)}, notMod("ETag", `W/"w"`), []string{"b"}, "b"},
		{"weak ETag compares weakly with a strong stored one",
			[]Pair{old("a", 0, "ETag", `"w"`)}, notMod("ETag", `W/"w"`), []string{"a"}, "a"},
		{"weak ETag matching nothing updates nothing",
			[]Pair{old("a", 0, "ETag", `W/"a"`)}, notMod("ETag", `W/"z"`), nil, ""},
		{"strong Last-Modified picks every match",
			[]Pair{old("a", 0, "Last-Modified", hd(lm)), old("b", 5, "Last-Modified", hd(lm)), old("c", 9, "Last-Modified", hd(at(-1)))},
			notMod("Last-Modified", hd(lm)), []string{"a", "b"}, ""},
		{"weak Last-Modified (within a second of Date) picks the most recent match",
			[]Pair{old("a", 0, "Last-Modified", hd(now150)), old("b", 5, "Last-Modified", hd(now150))},
			notMod("Last-Modified", hd(now150)), []string{"b"}, "b"},
		{"no validator, sole stored response without one",
			[]Pair{old("a", 0)}, notMod(), []string{"a"}, "a"},
		{"no validator, two stored responses",
			[]Pair{old("a", 0), old("b", 5)}, notMod(), nil, ""},
		{"no validator, two stored responses that sent theirs",
			[]Pair{old("a", 0, "ETag", `"a"`), old("b", 5, "ETag", `"b"`)}, notMod(), nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := revalidation(t, private(now150), get(), tc.stored...).Next(tc.resp)
			if tc.updates == nil {
				check(t, s, want{state: "CacheMiss", code: "304-unmatched",
					fwd: map[string]string{"If-None-Match": absent, "If-Modified-Since": absent}})
				return
			}
			check(t, s, want{state: "NeedToBeUpdated", code: "not-modified", status: 200, id: tc.served})
			if got := ids(s.(NeedToBeUpdated).Updates); !slices.Equal(got, tc.updates) {
				t.Errorf("Updates = %v, want %v", got, tc.updates)
			}
		})
	}
}

// RFC 9111 §4.3.4: after an unmatched 304 the request is sent again without
// the cache's conditionals, and the cache answers the client's own.
func TestRevalidate_RFC9111_4_3_4_UnmatchedThenFull(t *testing.T) {
	nr := revalidation(t, private(now150), get("If-None-Match", `"n"`, "Range", "bytes=0-1"), old("a", 0, "ETag", `"a"`))
	m := as[CacheMiss](t, nr.Next(notMod("ETag", `"z"`)))
	if m.Received {
		t.Errorf("Received = true: the request must be sent again")
	}
	check(t, m, want{fwd: map[string]string{"If-None-Match": absent, "Range": absent}})
	// The full response carries the tag the client has: 304 to the client.
	check(t, m.Next(rsp(200, now150, "Date", hd(now150), "ETag", `"n"`, "Cache-Control", "max-age=60")),
		want{state: "StoreAndUse", status: 304, body: plan(BodyNone)})
}

// RFC 9111 §3.2: a 304 replaces stored fields, except those never stored
// and Content-Length; the stored response's times become the 304's.
func TestRevalidate_RFC9111_3_2_HeaderUpdate(t *testing.T) {
	stored := old("a", 0, "ETag", `"a"`, "Content-Length", "100", "Content-Type", "text/plain",
		"X-Old", "1", "Age", "5", "Content-Range", "bytes 0-99/100")
	orig := stored.Response.Header.Clone()
	resp := notMod("ETag", `"a"`, "Cache-Control", "max-age=500", "X-New", "n", "Content-Length", "0",
		"Content-Type", "text/html", "Content-Range", "bytes 0-0/1",
		"Connection", "X-Conn", "X-Conn", "c", "Keep-Alive", "timeout=1", "Proxy-Authenticate", "Basic")
	resp.RequestTime = at(149)
	up := as[NeedToBeUpdated](t, revalidation(t, private(now150), get(), stored).Next(resp))
	if len(up.Updates) != 1 {
		t.Fatalf("Updates = %v", ids(up.Updates))
	}
	u := up.Updates[0]
	for k, v := range map[string]string{
		"Content-Length":     "100",            // §3.2: never updated
		"Content-Range":      "bytes 0-99/100", // processed with the content
		"Content-Type":       "text/html",      // Content-* is not a signal (§3.2)
		"Cache-Control":      "max-age=500",
		"Date":               hd(now150),
		"X-Old":              "1",
		"X-New":              "n",
		"Etag":               `"a"`,
		"Age":                absent, // the old Age described the old response
		"Connection":         absent,
		"X-Conn":             absent, // §3.1: named by Connection
		"Keep-Alive":         absent,
		"Proxy-Authenticate": absent,
	} {
		if got := joined(u.Response.Header, k); got != v {
			t.Errorf("updated %s = %q, want %q", k, got, v)
		}
	}
	if !u.Response.ResponseTime.Equal(now150) || !u.Response.RequestTime.Equal(at(149)) {
		t.Errorf("times = %v, %v; want the 304's", u.Response.RequestTime, u.Response.ResponseTime)
	}
	// The new stale horizon counts from the validation: 499 s of freshness
	// left, the default stale budget (§4.2.4), then the default 24 h kept
	// for a response with a validator.
	if want := now150.Add(499*time.Second + DefaultStaleBudget + 24*time.Hour); len(up.Expires) != 1 || !up.Expires[0].Equal(want) {
		t.Errorf("Expires = %v, want [%v]", up.Expires, want)
	}
	if u.ID != "a" || u.Request.URL.String() != testURL {
		t.Errorf("updated pair lost its identity: %q %v", u.ID, u.Request.URL)
	}
	for k, v := range orig {
		if !slices.Equal(stored.Response.Header[k], v) {
			t.Errorf("the stored pair given to the core was modified: %s = %q", k, stored.Response.Header[k])
		}
	}
	check(t, up, want{status: 200, header: map[string]string{"Age": "1", "Content-Length": "100", "X-Conn": absent},
		cs: "cellar; fwd=stale; fwd-status=304; ttl=499"})

	// Without Date on the 304, the time it was received is recorded.
	resp = rsp(304, now150, "ETag", `"a"`)
	up = as[NeedToBeUpdated](t, revalidation(t, private(now150), get(), stored).Next(resp))
	if got := joined(up.Updates[0].Response.Header, "Date"); got != hd(now150) {
		t.Errorf("Date = %q, want %q", got, hd(now150))
	}
}

// RFC 9111 §3.1, §3.2 and §5.2.2.7: fields a qualified private names are
// not stored by a shared cache, whether they come with a full response or
// with a 304 that updates a stored one; the client the 304 answers still
// gets them.
func TestRevalidate_RFC9111_3_2_PrivateFieldsNotMergedInShared(t *testing.T) {
	stored := old("a", 0, "ETag", `"a"`)
	resp := notMod("ETag", `"a"`, "Cache-Control", `private="X-Secret", max-age=100`, "X-Secret", "s")
	up := as[NeedToBeUpdated](t, revalidation(t, shared(now150), get(), stored).Next(resp))
	if got := joined(up.Updates[0].Response.Header, "X-Secret"); got != absent {
		t.Errorf("shared cache stores X-Secret = %q from a 304 with private=\"X-Secret\"", got)
	}
	check(t, up, want{status: 200, header: map[string]string{"X-Secret": "s"}})

	// A private cache stores them.
	up = as[NeedToBeUpdated](t, revalidation(t, private(now150), get(), stored).Next(resp))
	if got := joined(up.Updates[0].Response.Header, "X-Secret"); got != "s" {
		t.Errorf("private cache: X-Secret = %q, want s", got)
	}
}

// RFC 9111 §7.3 with Options.StoreSetCookie: a shared cache that does not
// store Set-Cookie must not take one into storage from a 304 either, or it
// would hand one user's cookie to the next; the client the 304 answers
// still gets it.
func TestRevalidate_RFC9111_7_3_SetCookieNotMergedInShared(t *testing.T) {
	stored := old("a", 0, "ETag", `"a"`)
	resp := notMod("ETag", `"a"`, "Cache-Control", "max-age=100", "Set-Cookie", "sid=1", "Set-Cookie", "x=2")
	up := as[NeedToBeUpdated](t, revalidation(t, shared(now150), get(), stored).Next(resp))
	if got := joined(up.Updates[0].Response.Header, "Set-Cookie"); got != absent {
		t.Errorf("shared cache stores Set-Cookie = %q from a 304", got)
	}
	check(t, up, want{status: 200, header: map[string]string{"Set-Cookie": "sid=1, x=2"}})

	opted := shared(now150)
	opted.StoreSetCookie = true
	up = as[NeedToBeUpdated](t, revalidation(t, opted, get(), stored).Next(resp))
	if got := up.Updates[0].Response.Header["Set-Cookie"]; !slices.Equal(got, []string{"sid=1", "x=2"}) {
		t.Errorf("opted-in shared cache: Set-Cookie = %q", got)
	}
}

// RFC 9111 §4.3.5: a 200 to a HEAD validation freshens the stored GET
// responses whose validators and Content-Length agree with it.
func TestRevalidate_RFC9111_4_3_5_FreshenFromHEAD(t *testing.T) {
	head := rq(http.MethodHead, testURL)
	stored := old("a", 0, "ETag", `"a"`, "Content-Length", "100")
	headResp := func(kv ...string) Response {
		return rsp(200, now150, append([]string{"Date", hd(now150), "Cache-Control", "max-age=300"}, kv...)...)
	}
	nr := revalidation(t, private(now150), head, stored)
	if nr.Forward.Method != http.MethodHead {
		t.Errorf("Forward.Method = %s, want HEAD", nr.Forward.Method)
	}
	check(t, nr, want{fwd: map[string]string{"If-None-Match": `"a"`}})

	up := as[NeedToBeUpdated](t, nr.Next(headResp("ETag", `"a"`, "Content-Length", "100", "X-New", "n")))
	check(t, up, want{code: "head-freshened", status: 200, body: plan(BodyNone), id: "a",
		header: map[string]string{"X-New": "n", "Cache-Control": "max-age=300", "Content-Length": "100"}})
	if joined(up.Updates[0].Response.Header, "Cache-Control") != "max-age=300" {
		t.Errorf("stored GET response not freshened")
	}

	lmT := at(-10)
	cases := []struct {
		name   string
		stored Pair
		resp   Response
		code   string // head-freshened, head-disagrees, or validation-full-response (freshens nothing)
	}{
		{"validators and length agree", stored, headResp("ETag", `"a"`, "Content-Length", "100"), "head-freshened"},
		{"length only, agreeing", old("b", 0, "Content-Length", "100"), headResp("Content-Length", "100"), "head-freshened"},
		{"no validator nor length: freshens nothing", old("b", 0, "Content-Length", "100"), headResp(), "validation-full-response"},
		{"ETag differs", stored, headResp("ETag", `"b"`, "Content-Length", "100"), "head-disagrees"},
		{"Content-Length differs", stored, headResp("ETag", `"a"`, "Content-Length", "101"), "head-disagrees"},
		{"Last-Modified differs", old("c", 0, "Last-Modified", hd(lmT)), headResp("Last-Modified", hd(at(-5))), "head-disagrees"},
		{"Last-Modified, same date in another form", old("c", 0, "Last-Modified", hd(lmT)),
			headResp("Last-Modified", lmT.Format("Monday, 02-Jan-06 15:04:05 GMT")), "head-freshened"},
		{"validator the stored response lacks", old("d", 0), headResp("ETag", `"a"`), "head-disagrees"},
		{"ETag with OWS: the same entity tag", stored, headResp("ETag", ` "a" `), "head-freshened"},
		{"weak HEAD tag matches a strong stored one weakly", stored, headResp("ETag", `W/"a"`), "head-freshened"},
		{"strong HEAD tag does not match a weak stored one", old("w", 0, "ETag", `W/"a"`), headResp("ETag", `"a"`), "head-disagrees"},
		{"weak tags with the same opaque tag", old("w", 0, "ETag", `W/"a"`), headResp("ETag", `W/"a"`), "head-freshened"},
		{"the same unquoted value is no entity-tag: matches nothing (RFC 9110 §8.8.3)", old("u", 0, "ETag", "abc"), headResp("ETag", "abc"), "head-disagrees"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := revalidation(t, private(now150), head, tc.stored).Next(tc.resp)
			check(t, s, want{code: tc.code})
			switch s := s.(type) {
			case CacheMiss:
				// The HEAD response is served, not stored (§3).
				check(t, s.Next(tc.resp), want{state: "CouldNotBeStored", code: "head-response", status: 200})
			case NeedToBeUpdated:
				if tc.code == "head-freshened" {
					return
				}
				// §4.3.5: "consider the stored response to be stale"; the
				// client gets the HEAD response itself.
				check(t, s, want{status: 200, body: plan(BodyNone), header: map[string]string{"Cache-Control": "max-age=300"}})
				if s.Pair != nil || len(s.Updates) != 1 {
					t.Fatalf("Pair = %v, %d updates; want the HEAD response served and the stored one marked", s.Pair, len(s.Updates))
				}
				// A later GET, even one that would have found it fresh,
				// must validate it.
				later := private(at(12))
				rv := revalidation(t, later, get(), s.Updates[0])
				check(t, rv, want{code: "stale"})
				// A 304 confirming it clears the mark.
				up := as[NeedToBeUpdated](t, rv.Next(rsp(304, at(12), "Date", hd(at(12)), "Cache-Control", "max-age=60")))
				check(t, up, want{header: map[string]string{"Age": "0"}})
			}
		})
	}

	// Candidates that agree are freshened, those that disagree marked.
	mixed := []Pair{old("a", 0, "ETag", `"a"`, "Vary", "X"), old("b", 5, "ETag", `"b"`, "Vary", "X")}
	up = as[NeedToBeUpdated](t, revalidation(t, private(now150), head, mixed...).Next(headResp("ETag", `"a"`)))
	if got := ids(up.Updates); !slices.Equal(got, []string{"a", "b"}) || len(up.Expires) != 2 {
		t.Fatalf("Updates = %v", got)
	}
	if joined(up.Updates[0].Response.Header, "Age") != absent || joined(up.Updates[1].Response.Header, "Age") != staleAge {
		t.Errorf("Age = %q, %q", joined(up.Updates[0].Response.Header, "Age"), joined(up.Updates[1].Response.Header, "Age"))
	}
	check(t, up, want{code: "head-freshened", id: "a"})
}

// RFC 9111 §5.2.1.5, §5.2.2.5 and §5.2.2.7: a 304 whose directives (or
// whose request's) forbid storing it is not written into storage, though
// it still confirms the stored response for this request.
func TestRevalidate_RFC9111_5_2_NoStoreValidationResponseUpdatesNothing(t *testing.T) {
	stored := old("a", 0, "ETag", `"a"`, "Content-Length", "10")
	cases := []struct {
		name    string
		opts    Options
		req     Request
		cc      string
		code    string
		updates int
	}{
		{"304 with no-store", private(now150), get(), "no-store", "no-store", 0},
		{"304 with no-store and must-understand", private(now150), get(), "no-store, must-understand, max-age=60", "not-modified", 1},
		{"304 with private, shared cache", shared(now150), get(), "private, max-age=60", "private", 0},
		{"304 with private, private cache", private(now150), get(), "private, max-age=60", "not-modified", 1},
		{"304 with private=field, shared cache", shared(now150), get(), `private="X-A", max-age=60`, "not-modified", 1},
		{"request no-store", private(now150), get("Cache-Control", "no-store"), "max-age=60", "request-no-store", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := revalidation(t, tc.opts, tc.req, stored).Next(notMod("ETag", `"a"`, "Cache-Control", tc.cc))
			check(t, s, want{state: "NeedToBeUpdated", code: tc.code, status: 200, id: "a",
				header: map[string]string{"Content-Length": "10", "Cache-Control": tc.cc}})
			if n := len(s.(NeedToBeUpdated).Updates); n != tc.updates {
				t.Errorf("%d updates, want %d", n, tc.updates)
			}
		})
	}
}

// RFC 9111 §4.3.4 with RFC 9110 §15.4.5: a 304 that §4.3.4 cannot match to
// a stored response. Without any validator it updates the one stored
// response whose validators the request carried (when the client's were
// not merged); with one of the client's own entity tags it goes to the
// client; otherwise the request is sent again, keeping the revalidation.
func TestRevalidate_RFC9111_4_3_4_UnidentifiedNotModified(t *testing.T) {
	lm := hd(at(-3600))
	cases := []struct {
		name    string
		req     Request
		stored  []Pair
		resp    Response
		code    string
		updates []string // for NeedToBeUpdated
		served  string
	}{
		{"no validator, the one stored response sent its ETag", get(),
			[]Pair{old("a", 0, "ETag", `"a"`)}, notMod(), "304-no-validator", []string{"a"}, "a"},
		{"no validator, the one stored response sent its Last-Modified", get(),
			[]Pair{old("a", 0, "Last-Modified", lm)}, notMod(), "304-no-validator", []string{"a"}, "a"},
		{"no validator, only one of two stored responses had validators", get(),
			[]Pair{old("a", 0, "ETag", `"a"`), old("b", 5)}, notMod(), "304-no-validator", []string{"a"}, "a"},
		{"no validator, ETag of one and Last-Modified of another", get(),
			[]Pair{old("a", 0, "ETag", `"a"`), old("b", 5, "Last-Modified", lm)}, notMod(), "304-unmatched", nil, ""},
		{"no validator, two stored responses sent their ETags", get(),
			[]Pair{old("a", 0, "ETag", `"a"`), old("b", 5, "ETag", `"b"`)}, notMod(), "304-unmatched", nil, ""},
		{"no validator, the client's tags were merged", get("If-None-Match", `"c"`),
			[]Pair{old("a", 0, "ETag", `"a"`)}, notMod(), "304-unmatched", nil, ""},
		{"the client's own tag: passed on", get("If-None-Match", `"c"`),
			[]Pair{old("a", 0, "ETag", `"a"`)}, notMod("ETag", `"c"`), "304-client-tag", nil, ""},
		{"the client's own tag, weakly: passed on", get("If-None-Match", `W/"c", "d"`),
			[]Pair{old("a", 0, "ETag", `"a"`)}, notMod("ETag", `"c"`), "304-client-tag", nil, ""},
		{"a tag neither stored nor the client's", get("If-None-Match", `"c"`),
			[]Pair{old("a", 0, "ETag", `"a"`)}, notMod("ETag", `"z"`), "304-unmatched", nil, ""},
		{"a stored tag beside the client's: updated", get("If-None-Match", `"c"`),
			[]Pair{old("a", 0, "ETag", `"a"`)}, notMod("ETag", `"a"`), "not-modified", []string{"a"}, "a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := revalidation(t, private(now150), tc.req, tc.stored...).Next(tc.resp)
			switch tc.code {
			case "304-unmatched":
				m := as[CacheMiss](t, s)
				check(t, m, want{code: tc.code, fwd: map[string]string{"If-None-Match": absent, "If-Modified-Since": absent}})
				if m.Received {
					t.Errorf("Received = true: the request must be sent again")
				}
			case "304-client-tag":
				m := as[CacheMiss](t, s)
				check(t, m, want{code: tc.code})
				if !m.Received {
					t.Errorf("Received = false: the 304 is the answer")
				}
				check(t, m.Next(tc.resp), want{state: "CouldNotBeStored", status: 304,
					header: map[string]string{"Etag": first(tc.resp.Header["Etag"])}})
			default:
				check(t, s, want{state: "NeedToBeUpdated", code: tc.code, status: 200, id: tc.served})
				if got := ids(s.(NeedToBeUpdated).Updates); !slices.Equal(got, tc.updates) {
					t.Errorf("Updates = %v, want %v", got, tc.updates)
				}
			}
		})
	}
}

// RFC 9111 §4.3.4 with RFC 5861 §4: the request sent again after an
// unidentified 304 is still the revalidation's, so stale-if-error and the
// stale budget apply to its failure, and Cache-Status says fwd=stale.
func TestRevalidate_RFC9111_4_3_4_RefetchKeepsRevalidation(t *testing.T) {
	stored := old("a", 0, "ETag", `"a"`)
	stored.Response.Header["Cache-Control"] = []string{"max-age=10, stale-if-error=3600"}
	m := as[CacheMiss](t, revalidation(t, private(now150), get(), stored).Next(notMod("ETag", `"z"`)))
	up, ok := m.StaleOnError(rsp(503, now150, "Date", hd(now150)))
	if !ok {
		t.Fatalf("a 503 to the second request serves nothing stale despite stale-if-error")
	}
	check(t, up, want{code: "stale-if-error", status: 200, id: "a", cs: "cellar; fwd=stale; fwd-status=503; ttl=-140; detail=stale-if-error"})
	if _, ok := m.StaleOnError(rsp(200, now150, "Date", hd(now150))); ok {
		t.Errorf("a 200 to the second request was taken for an error")
	}
	if up, ok := m.UpstreamFailed(); !ok || up.Pair == nil || up.Pair.ID != "a" {
		t.Errorf("no response to the second request: stale not served (%v)", ok)
	}
	full := rsp(200, now150, "Date", hd(now150), "Cache-Control", "max-age=60")
	check(t, m.Next(full), want{state: "StoreAndUse", cs: "cellar; fwd=stale; fwd-status=200; ttl=60; stored"})

	// An ordinary miss has no revalidation to fall back on.
	plain := missFor(t, private(now150), get())
	if _, ok := plain.UpstreamFailed(); ok {
		t.Errorf("a plain miss serves stale")
	}
	if _, ok := plain.StaleOnError(rsp(503, now150)); ok {
		t.Errorf("a plain miss serves stale on 503")
	}
}

// RFC 9110 §8.8.2.2 in RFC 9111 §4.3.4: a Last-Modified on a 304 without
// Date is strong when it is a second or more before the time the 304 was
// received; it then selects every stored response with it, not only the
// most recent.
func TestRevalidate_RFC9110_8_8_2_2_LastModifiedWithoutDate(t *testing.T) {
	lm := hd(at(-3600))
	stored := []Pair{old("a", 0, "Last-Modified", lm), old("b", 5, "Last-Modified", lm)}
	cases := []struct {
		name    string
		resp    Response
		updates []string
	}{
		{"no Date: strong against the receipt time", rsp(304, now150, "Last-Modified", lm), []string{"a", "b"}},
		{"no Date, Last-Modified at the receipt time: weak", rsp(304, now150, "Last-Modified", hd(now150)), nil},
		{"Date a second after: strong", rsp(304, now150, "Date", hd(at(-3599)), "Last-Modified", lm), []string{"a", "b"}},
		{"Date equal: weak, the most recent", rsp(304, now150, "Date", lm, "Last-Modified", lm), []string{"b"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := revalidation(t, private(now150), get(), stored...).Next(tc.resp)
			if tc.updates == nil {
				check(t, s, want{state: "CacheMiss"})
				return
			}
			up := as[NeedToBeUpdated](t, s)
			if got := ids(up.Updates); !slices.Equal(got, tc.updates) {
				t.Errorf("Updates = %v, want %v", got, tc.updates)
			}
		})
	}
}

// TestCollapsedRevalidationKeepsRequestDirectives (RFC 9111 §5.2.1.1, RFC
// 5861 §4): a collapsed lookup reads the request without the max-age its
// collapsed exchange satisfied, but the revalidation it returns, parsed
// once, keeps the request's max-age for what follows: the origin failing,
// the stale response is refused as it is to the same request not
// collapsed; and the request's no-store still keeps the response out of
// storage.
func TestCollapsedRevalidationKeepsRequestDirectives(t *testing.T) {
	st := storedGET("p", ok200("Cache-Control", "max-age=100, stale-if-error=600", "ETag", `"a"`))
	req := get("Cache-Control", "max-age=0, no-store")
	o := private(at(150))
	for name, next := range map[string]IdleNext{
		"looked up": NewIdleClient(o).Next(req, []Pair{st}),
		"collapsed": NewIdleClient(o).Collapsed(req, []Pair{st}),
	} {
		rv := as[NeedRevalidation](t, next)
		if up, ok := rv.UpstreamFailedWith(FailureOther); ok {
			t.Errorf("%s: served stale on failure (%s), though the request's max-age=0 refuses it", name, up.Reason.Code)
		}
		full := rsp(200, at(150), "Date", hd(at(150)), "Cache-Control", "max-age=60", "ETag", `"b"`)
		m := as[CacheMiss](t, rv.Next(full))
		if _, ok := m.Next(full).(CouldNotBeStored); !ok {
			t.Errorf("%s: the response to a no-store request was stored", name)
		}
	}
}
