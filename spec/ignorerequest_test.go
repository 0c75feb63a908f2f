package spec

import "testing"

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
