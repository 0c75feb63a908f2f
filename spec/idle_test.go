package spec

import (
	"net/http"
	"testing"
)

// varied is a fresh 200 stored for a GET of testURL whose request carried
// reqKV and whose response has Vary: vary.
func varied(id, vary string, date int, reqKV ...string) Pair {
	return pr(id, get(reqKV...), rsp(http.StatusOK, at(date),
		"Date", hd(at(date)), "Cache-Control", "max-age=3600", "Vary", vary, "ETag", `"`+id+`"`))
}

// RFC 9111 §4: with nothing stored the request goes forward unchanged.
func TestLookup_RFC9111_4_NothingStored(t *testing.T) {
	runLookups(t, []lookupCase{
		{name: "uri-miss", opts: private(t0), req: get(),
			want: want{state: "CacheMiss", code: "uri-miss"}},
		{name: "client conditionals and Range left for the origin (§4.3.2)", opts: private(t0),
			req: get("If-None-Match", `"x"`, "If-Modified-Since", hd(at(-60)), "Range", "bytes=0-9"),
			want: want{state: "CacheMiss", code: "uri-miss",
				fwd: map[string]string{"If-None-Match": `"x"`, "If-Modified-Since": hd(at(-60)), "Range": "bytes=0-9"}}},
	})
	miss := missFor(t, private(t0), get())
	check(t, miss.Next(ok200("Cache-Control", "max-age=60")), want{cs: "cellar; fwd=uri-miss; fwd-status=200; ttl=60; stored"})
}

// RFC 9111 §4: the method must be one the stored response can answer.
func TestLookup_RFC9111_4_Method(t *testing.T) {
	fresh := storedGET("g", ok200("Cache-Control", "max-age=60", "Content-Length", "5"))
	runLookups(t, []lookupCase{
		{name: "HEAD served from stored GET (RFC 9110 §9.3.2)", opts: private(at(10)), stored: []Pair{fresh},
			req: rq(http.MethodHead, testURL),
			want: want{state: "FromCache", code: "fresh", status: 200, body: plan(BodyNone), id: "g",
				header: map[string]string{"Content-Length": "5", "Age": "10"}}},
		{name: "empty method is GET, as in net/http", opts: private(at(10)), stored: []Pair{fresh},
			req:  Request{URL: mustURL(testURL), Header: http.Header{}},
			want: want{state: "FromCache", code: "fresh", status: 200, body: plan(BodyAll), id: "g"}},
		{name: "OPTIONS is safe but not cacheable", opts: private(at(10)), stored: []Pair{fresh},
			req:  rq(http.MethodOptions, testURL),
			want: want{state: "CacheMiss", code: "method-not-cacheable"}},
		{name: "POST response stored under the POST key does not answer GET", opts: Options{Clock: fixed(at(10)), CacheableMethods: []string{"GET", "POST"}},
			stored: []Pair{pr("p", rq(http.MethodPost, testURL), ok200("Cache-Control", "max-age=60"))},
			req:    get(),
			want:   want{state: "CacheMiss", code: "vary-miss"}},
	})
}

// RFC 9111 §4.1: a stored response is selected only when the fields its
// Vary nominates match, after normalization, between the two requests.
func TestLookup_RFC9111_4_1_Vary(t *testing.T) {
	o := private(at(10))
	gzip := varied("gzip", "Accept-Encoding", 0, "Accept-Encoding", "gzip, br")
	runLookups(t, []lookupCase{
		{name: "same value", opts: o, stored: []Pair{gzip}, req: get("Accept-Encoding", "gzip, br"),
			want: want{state: "FromCache", code: "fresh", id: "gzip"}},
		{name: "case of a case-insensitive field", opts: o, stored: []Pair{gzip}, req: get("Accept-Encoding", "GZIP, Br"),
			want: want{state: "FromCache", id: "gzip"}},
		{name: "whitespace", opts: o, stored: []Pair{gzip}, req: get("Accept-Encoding", "gzip,br"),
			want: want{state: "FromCache", id: "gzip"}},
		{name: "several field lines combine", opts: o, stored: []Pair{gzip}, req: get("Accept-Encoding", "gzip", "Accept-Encoding", " br"),
			want: want{state: "FromCache", id: "gzip"}},
		{name: "other value", opts: o, stored: []Pair{gzip}, req: get("Accept-Encoding", "br"),
			want: want{state: "CacheMiss", code: "vary-miss", fwd: map[string]string{"Accept-Encoding": "br"}}},
		{name: "field absent from the request", opts: o, stored: []Pair{gzip}, req: get(),
			want: want{state: "CacheMiss", code: "vary-miss"}},
		{name: "absent in both requests matches", opts: o,
			stored: []Pair{varied("none", "Accept-Language", 0)}, req: get("Accept-Encoding", "gzip"),
			want: want{state: "FromCache", id: "none"}},
		{name: "Vary names several fields, all must match", opts: o,
			stored: []Pair{varied("both", "Accept-Encoding, Accept-Language", 0, "Accept-Encoding", "gzip", "Accept-Language", "fr")},
			req:    get("Accept-Encoding", "gzip", "Accept-Language", "de"),
			want:   want{state: "CacheMiss", code: "vary-miss"}},
		{name: "Vary on several lines and in lower case", opts: o,
			stored: []Pair{pr("lines", get("Accept-Encoding", "gzip", "Accept-Language", "fr"), rsp(200, t0,
				"Date", hd(t0), "Cache-Control", "max-age=60", "Vary", "accept-encoding", "Vary", "ACCEPT-LANGUAGE"))},
			req:  get("Accept-Encoding", "gzip", "Accept-Language", "fr"),
			want: want{state: "FromCache", id: "lines"}},
		{name: "Vary: * never matches", opts: o,
			stored: []Pair{varied("star", "*", 0)}, req: get(),
			want: want{state: "CacheMiss", code: "vary-miss", cs: ""}},
		{name: "Vary: * among other names never matches", opts: o,
			stored: []Pair{varied("star", "Accept-Encoding, *", 0, "Accept-Encoding", "gzip")}, req: get("Accept-Encoding", "gzip"),
			want: want{state: "CacheMiss", code: "vary-miss"}},
	})
}

// RFC 9111 §4.1: several variants live under one key; the one matching the
// request is chosen, and among several matches the most recent by Date.
func TestLookup_RFC9111_4_1_SeveralVariants(t *testing.T) {
	o := private(at(100))
	variants := []Pair{
		varied("identity", "Accept-Encoding", 0, "Accept-Encoding", "identity"),
		varied("gzip", "Accept-Encoding", 0, "Accept-Encoding", "gzip"),
		varied("br", "Accept-Encoding", 0, "Accept-Encoding", "br"),
	}
	runLookups(t, []lookupCase{
		{name: "first variant", opts: o, stored: variants, req: get("Accept-Encoding", "identity"),
			want: want{state: "FromCache", id: "identity"}},
		{name: "second variant", opts: o, stored: variants, req: get("Accept-Encoding", "gzip"),
			want: want{state: "FromCache", id: "gzip"}},
		{name: "third variant", opts: o, stored: variants, req: get("Accept-Encoding", "BR"),
			want: want{state: "FromCache", id: "br"}},
		{name: "no variant", opts: o, stored: variants, req: get("Accept-Encoding", "zstd"),
			want: want{state: "CacheMiss", code: "vary-miss", fwd: map[string]string{"Accept-Encoding": "zstd"}}},
		{name: "most recent of two matches wins", opts: o,
			stored: []Pair{
				varied("old", "Accept-Encoding", 0, "Accept-Encoding", "gzip"),
				varied("new", "Accept-Encoding", 50, "Accept-Encoding", "gzip"),
				varied("older", "Accept-Encoding", -50, "Accept-Encoding", "gzip"),
			},
			req:  get("Accept-Encoding", "gzip"),
			want: want{state: "FromCache", id: "new"}},
	})
}

// RFC 9111 §4.1, last rule: when one or more stored responses omit Vary,
// the most recent of those with a valid Vary field value is chosen; a newer
// default response that mistakenly omits Vary does not win. Without a
// valid one, the most recent match wins as before.
func TestLookup_RFC9111_4_1_MostRecentWithValidVary(t *testing.T) {
	o := private(at(100))
	plain := func(id string, date int, kv ...string) Pair {
		return pr(id, get(), rsp(200, at(date), append([]string{"Date", hd(at(date)), "Cache-Control", "max-age=3600"}, kv...)...))
	}
	gz := varied("varied", "Accept-Encoding", 0, "Accept-Encoding", "gzip")
	runLookups(t, []lookupCase{
		{name: "newer response without Vary loses", opts: o,
			stored: []Pair{gz, plain("plain", 20)}, req: get("Accept-Encoding", "gzip"),
			want: want{state: "FromCache", id: "varied"}},
		{name: "in either order", opts: o,
			stored: []Pair{plain("plain", 20), gz}, req: get("Accept-Encoding", "gzip"),
			want: want{state: "FromCache", id: "varied"}},
		{name: "newer response with an empty Vary loses", opts: o,
			stored: []Pair{plain("plain", 20, "Vary", ""), gz}, req: get("Accept-Encoding", "gzip"),
			want: want{state: "FromCache", id: "varied"}},
		{name: "newer response with an invalid Vary member loses", opts: o,
			stored: []Pair{gz, plain("plain", 20, "Vary", "Accept Encoding")}, req: get("Accept-Encoding", "gzip"),
			want: want{state: "FromCache", id: "varied"}},
		{name: "most recent among the valid ones", opts: o,
			stored: []Pair{gz, plain("plain", 30), varied("newer", "Accept-Encoding", 20, "Accept-Encoding", "gzip")},
			req:    get("Accept-Encoding", "gzip"),
			want:   want{state: "FromCache", id: "newer"}},
		{name: "the response without Vary serves what the varied one cannot", opts: o,
			stored: []Pair{gz, plain("plain", 20)}, req: get("Accept-Encoding", "br"),
			want: want{state: "FromCache", id: "plain"}},
		{name: "without any valid Vary, the most recent", opts: o,
			stored: []Pair{plain("a", 0), plain("b", 20), plain("c", 10)}, req: get(),
			want: want{state: "FromCache", id: "b"}},
	})
}

// RFC 9111 §4.1: when the selected response is stale, the 304 may freshen
// every stored response that could have been chosen, and only those: the
// other variants are not candidates.
func TestLookup_RFC9111_4_1_CandidatesAreMatchingVariants(t *testing.T) {
	old := func(id, enc string, date int) Pair {
		return pr(id, get("Accept-Encoding", enc), rsp(200, at(date),
			"Date", hd(at(date)), "Cache-Control", "max-age=10", "Vary", "Accept-Encoding", "ETag", `"`+id+`"`))
	}
	nr := revalidation(t, private(at(100)), get("Accept-Encoding", "gzip"),
		old("a", "gzip", 0), old("b", "br", 0), old("c", "gzip", 5))
	if got := ids(nr.Candidates); len(got) != 2 || got[0] != "a" || got[1] != "c" {
		t.Errorf("Candidates = %v, want [a c]", got)
	}
	if nr.Candidates[nr.Selected].ID != "c" {
		t.Errorf("Selected = %q, want the most recent, c", nr.Candidates[nr.Selected].ID)
	}
	check(t, nr, want{code: "stale", fwd: map[string]string{"If-None-Match": `"a", "c"`}})
}
