package spec

import (
	"testing"
)

// RFC 9111 §5.2.2: response directives as they decide reuse. (Storing is in
// store_test.go, freshness in freshness_test.go, staleness in stale_test.go.)
func TestResponse_RFC9111_5_2_2_Directives(t *testing.T) {
	o := private(at(100))
	with := func(cc string, kv ...string) []Pair {
		return []Pair{storedGET("p", ok200(append([]string{"Cache-Control", cc, "ETag", `"v1"`, "X-Token", "t", "X-Other", "o"}, kv...)...))}
	}
	hit := want{state: "FromCache", code: "fresh", status: 200}
	runLookups(t, []lookupCase{
		{"must-revalidate, fresh: served (§5.2.2.2)", o, with("max-age=600, must-revalidate"), get(), hit},
		{"proxy-revalidate, fresh: served (§5.2.2.8)", shared(at(100)), with("max-age=600, proxy-revalidate"), get(), hit},
		{"no-cache, fresh: validated (§5.2.2.4)", o, with("max-age=600, no-cache"), get(),
			want{state: "NeedRevalidation", code: "no-cache", fwd: map[string]string{"If-None-Match": `"v1"`}}},
		{"no-cache on its own line", o, with("max-age=600", "Cache-Control", "no-cache"), get(),
			want{state: "NeedRevalidation", code: "no-cache"}},
		{"no-cache=field: served without the field", o, with(`max-age=600, no-cache="X-Token"`), get(),
			want{state: "FromCache", code: "fresh", header: map[string]string{"X-Token": absent, "X-Other": "o"}}},
		{"no-cache with a quoted list of fields", o, with(`no-cache="x-token, X-Other", max-age=600`), get(),
			want{state: "FromCache", code: "fresh", header: map[string]string{"X-Token": absent, "X-Other": absent, "Etag": `"v1"`}}},
		{"unqualified no-cache wins over a qualified one (§4.2.1)", o, with(`no-cache="X-Token", max-age=600, no-cache`), get(),
			want{state: "NeedRevalidation", code: "no-cache"}},
		{"private=field in a private cache: served with the field", o, with(`private="X-Token", max-age=600`), get(),
			want{state: "FromCache", header: map[string]string{"X-Token": "t"}}},
		{"no-transform changes nothing here (§5.2.2.6)", o, with("max-age=600, no-transform"), get(),
			want{state: "FromCache", header: map[string]string{"Cache-Control": "max-age=600, no-transform"}}},
		{"unknown extensions are ignored (§5.2.3)", o, with(`max-age=600, x-ext="a, no-cache", foo`), get(), hit},
		{"names are case-insensitive", o, with("Max-Age=600, NO-CACHE"), get(), want{state: "NeedRevalidation", code: "no-cache"}},
		{"stray commas and whitespace", o, with(" ,, max-age=600 ,\t,"), get(), hit},
	})

	// After validation the no-cache fields are left out too: the core
	// cannot tell the caller's later uses apart.
	nr := revalidation(t, o, get(), with(`max-age=10, no-cache="X-Token"`)...)
	check(t, nr.Next(rsp(304, at(100), "Date", hd(at(100)), "ETag", `"v1"`)),
		want{state: "NeedToBeUpdated", header: map[string]string{"X-Token": absent, "X-Other": "o"}})
}

// RFC 8246 §2: a fresh immutable response is served to a request whose
// max-age (a reload) would otherwise ask for validation; no-cache still
// validates, and immutable does nothing for a stale response.
func TestResponse_RFC8246_Immutable(t *testing.T) {
	st := []Pair{fresh600("immutable")}
	runLookups(t, []lookupCase{
		{"fresh immutable skips max-age=0", private(at(100)), st, get("Cache-Control", "max-age=0"),
			want{state: "FromCache", code: "fresh", status: 200}},
		{"without immutable, max-age=0 validates", private(at(100)), []Pair{fresh600()}, get("Cache-Control", "max-age=0"),
			want{state: "NeedRevalidation", code: "request-max-age"}},
		{"immutable does not skip request no-cache", private(at(100)), st, get("Cache-Control", "no-cache"),
			want{state: "NeedRevalidation", code: "request-no-cache"}},
		{"immutable does not skip Pragma: no-cache", private(at(100)), st, get("Pragma", "no-cache"),
			want{state: "NeedRevalidation", code: "request-no-cache"}},
		{"immutable does not skip response no-cache", private(at(100)), []Pair{fresh600("immutable", "no-cache")}, get("Cache-Control", "max-age=0"),
			want{state: "NeedRevalidation", code: "no-cache"}},
		{"stale immutable is validated", private(at(700)), st, get("Cache-Control", "max-age=0"),
			want{state: "NeedRevalidation", code: "request-max-age"}},
		{"stale immutable without request directives", private(at(700)), st, get(),
			want{state: "NeedRevalidation", code: "stale"}},
		{"min-fresh is not a reload", private(at(100)), st, get("Cache-Control", "min-fresh=501"),
			want{state: "NeedRevalidation", code: "request-min-fresh"}},
	})
}
