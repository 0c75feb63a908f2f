package spec

import (
	"net/http"
	"testing"
)

// fresh600 is stored with max-age=600 at t0; lookups at t0+100s find it
// 100s old, 500s from stale.
func fresh600(cc ...string) Pair {
	v := "max-age=600"
	for _, c := range cc {
		v += ", " + c
	}
	return storedGET("p", ok200("Cache-Control", v, "ETag", `"v1"`))
}

// RFC 9111 §5.2.1: request directives.
func TestRequest_RFC9111_5_2_1_Directives(t *testing.T) {
	o := private(at(100))
	st := []Pair{fresh600()}
	cc := func(v string) Request { return get("Cache-Control", v) }
	hit := want{state: "FromCache", code: "fresh", status: 200}
	runLookups(t, []lookupCase{
		{"max-age above the age (§5.2.1.1)", o, st, cc("max-age=200"), hit},
		{"max-age equal to the age", o, st, cc("max-age=100"), hit},
		{"max-age below the age", o, st, cc("max-age=50"), want{state: "NeedRevalidation", code: "request-max-age",
			fwd: map[string]string{"If-None-Match": `"v1"`, "Cache-Control": "max-age=50"}}},
		{"max-age=0", o, st, cc("max-age=0"), want{state: "NeedRevalidation", code: "request-max-age"}},
		{"invalid max-age asks for validation", o, st, cc("max-age=soon"), want{state: "NeedRevalidation", code: "request-max-age"}},
		{"min-fresh satisfied (§5.2.1.3)", o, st, cc("min-fresh=400"), hit},
		{"min-fresh equal to the remaining freshness", o, st, cc("min-fresh=500"), hit},
		{"min-fresh not satisfied", o, st, cc("min-fresh=501"), want{state: "NeedRevalidation", code: "request-min-fresh"}},
		{"invalid min-fresh is ignored", o, st, cc("min-fresh=x"), hit},
		{"no-cache (§5.2.1.4)", o, st, cc("no-cache"), want{state: "NeedRevalidation", code: "request-no-cache",
			fwd: map[string]string{"If-None-Match": `"v1"`}}},
		{"no-store does not prevent reuse (§5.2.1.5)", o, st, cc("no-store"), hit},
		{"max-stale on a fresh response (§5.2.1.2)", o, st, cc("max-stale=10"), hit},
		{"only-if-cached, fresh (§5.2.1.7)", o, st, cc("only-if-cached"), hit},
		{"only-if-cached, nothing stored: 504", o, nil, cc("only-if-cached"), want{state: "FromCache", code: "only-if-cached",
			status: http.StatusGatewayTimeout, body: plan(BodyNone), cs: "cellar; detail=only-if-cached"}},
		{"only-if-cached, no matching variant: 504", o, []Pair{varied("v", "Accept-Language", 0, "Accept-Language", "fr")},
			cc("only-if-cached"), want{state: "FromCache", code: "only-if-cached", status: 504}},
		{"only-if-cached and validation needed: 504", o, st, cc("only-if-cached, no-cache"),
			want{state: "FromCache", code: "only-if-cached", status: 504}},
		{"unknown request directives are ignored (§5.2.3)", o, st, cc("x-whatever=1, foo"), hit},
		{"directive names are case-insensitive", o, st, cc("NO-CACHE"), want{state: "NeedRevalidation", code: "request-no-cache"}},
		{"several field lines", o, st, get("Cache-Control", "max-stale", "Cache-Control", "no-cache"),
			want{state: "NeedRevalidation", code: "request-no-cache"}},
	})

	// §5.2.1.5: no-store in the request forbids storing the response.
	check(t, missFor(t, o, cc("no-store")).Next(ok200("Cache-Control", "max-age=60")),
		want{state: "CouldNotBeStored", code: "request-no-store"})

	// RFC 9211 §2.2: fwd=request when the request forbade a fresh response.
	nr := revalidation(t, o, cc("no-cache"), st...)
	check(t, nr.Next(rsp(304, at(100), "Date", hd(at(100)), "ETag", `"v1"`)),
		want{state: "NeedToBeUpdated", status: 200, cs: "cellar; fwd=request; fwd-status=304; ttl=600"})
}

// RFC 9111 §5.4: Pragma: no-cache counts as Cache-Control: no-cache only in
// a request without Cache-Control.
func TestRequest_RFC9111_5_4_Pragma(t *testing.T) {
	o := private(at(100))
	st := []Pair{fresh600()}
	runLookups(t, []lookupCase{
		{"Pragma: no-cache without Cache-Control", o, st, get("Pragma", "no-cache"),
			want{state: "NeedRevalidation", code: "request-no-cache"}},
		{"among other members, any case", o, st, get("Pragma", "x-foo, No-Cache"),
			want{state: "NeedRevalidation", code: "request-no-cache"}},
		{"on a second line", o, st, get("Pragma", "x-foo", "Pragma", "no-cache"),
			want{state: "NeedRevalidation", code: "request-no-cache"}},
		{"Cache-Control present: Pragma ignored", o, st, get("Pragma", "no-cache", "Cache-Control", "max-stale"),
			want{state: "FromCache", code: "fresh"}},
		{"other Pragma values mean nothing", o, st, get("Pragma", "no-cache-please"),
			want{state: "FromCache", code: "fresh"}},
		{"Pragma in a response means nothing", o, []Pair{storedGET("p", ok200("Cache-Control", "max-age=600", "Pragma", "no-cache"))}, get(),
			want{state: "FromCache", code: "fresh"}},
	})
}

// Options.IgnoreRequestDirectives (issue 12, item 4): a shared cache that,
// like Varnish and nginx, does not let a client force a refresh or a miss
// with RFC 9111 §5.2.1 request directives or Pragma (§5.4).
func TestIgnoreRequestDirectives_ClientForcedRefresh(t *testing.T) {
	o := shared(at(100))
	o.IgnoreRequestDirectives = true
	st := []Pair{fresh600()}
	cc := func(v string) Request { return get("Cache-Control", v) }
	hit := want{state: "FromCache", code: "fresh", status: 200}
	runLookups(t, []lookupCase{
		{"no-cache (§5.2.1.4) is ignored", o, st, cc("no-cache"), hit},
		{"max-age=0 (§5.2.1.1) is ignored", o, st, cc("max-age=0"), hit},
		{"min-fresh (§5.2.1.3) is ignored", o, st, cc("min-fresh=9999"), hit},
		{"Pragma: no-cache (§5.4) is ignored", o, st, get("Pragma", "no-cache"), hit},
		{"only-if-cached (§5.2.1.7) is ignored", o, nil, cc("only-if-cached"), want{state: "CacheMiss"}},
	})
	// §5.2.1.5: the request's no-store no longer keeps the response out.
	check(t, missFor(t, o, cc("no-store")).Next(ok200("Cache-Control", "max-age=60", "ETag", `"a"`)),
		want{state: "StoreAndUse"})

	// The default still honours them (RFC 9111).
	o.IgnoreRequestDirectives = false
	runLookups(t, []lookupCase{
		{"no-cache honoured by default", o, st, cc("no-cache"), want{state: "NeedRevalidation", code: "request-no-cache"}},
	})
}
