package spec

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

// RFC 9111 §3: each condition under which a response may be stored.
func TestStore_RFC9111_3_Conditions(t *testing.T) {
	p, s := private(t0), shared(t0)
	head := rq(http.MethodHead, testURL)
	runStores(t, []storeCase{
		{"max-age makes it storable", p, get(), ok200("Cache-Control", "max-age=60"),
			want{state: "StoreAndUse", code: "max-age"}},
		{"method not understood as cacheable", p, rq(http.MethodOptions, testURL), ok200("Cache-Control", "max-age=60"),
			want{state: "CouldNotBeStored", code: "method-not-cacheable"}},
		{"POST opted in via Options.CacheableMethods", Options{Clock: fixed(t0), CacheableMethods: []string{"GET", "POST"}},
			rq(http.MethodPost, testURL), ok200("Cache-Control", "max-age=60"),
			want{state: "StoreAndUse", code: "max-age"}},
		{"HEAD response has no content to store (§4.3.5 uses it)", p, head, ok200("Cache-Control", "max-age=60"),
			want{state: "CouldNotBeStored", code: "head-response"}},
		{"1xx is not final", p, get(), rsp(103, t0, "Cache-Control", "max-age=60"),
			want{state: "CouldNotBeStored", code: "status-not-final"}},
		{"304 to a client conditional is not stored", p, get("If-None-Match", `"a"`), rsp(304, t0, "Cache-Control", "max-age=60", "ETag", `"a"`),
			want{state: "CouldNotBeStored", code: "not-modified", status: 304}},
		{"request no-store (§5.2.1.5)", p, get("Cache-Control", "no-store"), ok200("Cache-Control", "max-age=60"),
			want{state: "CouldNotBeStored", code: "request-no-store", status: 200}},
		{"response no-store (§5.2.2.5)", p, get(), ok200("Cache-Control", "max-age=60, no-store"),
			want{state: "CouldNotBeStored", code: "no-store", cs: "cellar; fwd=uri-miss; fwd-status=200; detail=no-store"}},
		{"no explicit freshness, not public, status not heuristically cacheable", p, get(), rsp(302, t0, "Location", "/x"),
			want{state: "CouldNotBeStored", code: "not-cacheable"}},
		{"307 with max-age is storable", p, get(), rsp(307, t0, "Location", "/x", "Cache-Control", "max-age=60"),
			want{state: "StoreAndUse", code: "max-age", status: 307}},
		{"Expires makes it storable", p, get(), rsp(302, t0, "Expires", hd(at(60))),
			want{state: "StoreAndUse", code: "expires"}},
		{"invalid Expires still counts as explicit (§5.3)", p, get(), rsp(302, t0, "Expires", "0", "ETag", `"v"`), // a validator: §3 alone is under test
			want{state: "StoreAndUse", code: "expires"}},
		{"public makes it storable", p, get(), rsp(302, t0, "Cache-Control", "public", "ETag", `"v"`),
			want{state: "StoreAndUse", code: "public"}},
		{"s-maxage makes it storable in a shared cache", s, get(), rsp(302, t0, "Cache-Control", "s-maxage=60"),
			want{state: "StoreAndUse", code: "s-maxage"}},
		{"s-maxage means nothing to a private cache", p, get(), rsp(302, t0, "Cache-Control", "s-maxage=60"),
			want{state: "CouldNotBeStored", code: "not-cacheable"}},
		{"heuristically cacheable 200 (RFC 9110 §15.1)", p, get(), ok200("Last-Modified", hd(at(-1000))),
			want{state: "StoreAndUse", code: "heuristic"}},
		{"heuristically cacheable 404", p, get(), rsp(404, t0, "ETag", `"v"`),
			want{state: "StoreAndUse", code: "heuristic", status: 404}},
		{"heuristically cacheable 501", s, get(), rsp(501, t0, "ETag", `"v"`),
			want{state: "StoreAndUse", code: "heuristic"}},
		{"500 is not heuristically cacheable", s, get(), rsp(500, t0),
			want{state: "CouldNotBeStored", code: "not-cacheable"}},
		{"Vary: * is of no use to store (§4.1)", p, get(), ok200("Cache-Control", "max-age=60", "Vary", "Accept, *"),
			want{state: "CouldNotBeStored", code: "vary-star"}},
		{"extension directives are ignored (§5.2.3)", p, get(), ok200("Cache-Control", `community="UCI", max-age=60, x-ext`),
			want{state: "StoreAndUse", code: "max-age"}},
	})
}

// RFC 9111 §5.2.2.3: must-understand limits storing to caches that
// understand the status code, and then overrides no-store.
func TestStore_RFC9111_5_2_2_3_MustUnderstand(t *testing.T) {
	p := private(t0)
	runStores(t, []storeCase{
		{"understood status: no-store is ignored", p, get(), ok200("Cache-Control", "max-age=60, must-understand, no-store"),
			want{state: "StoreAndUse", code: "max-age"}},
		{"understood 404, heuristic", p, get(), rsp(404, t0, "Cache-Control", "must-understand, no-store", "ETag", `"v"`),
			want{state: "StoreAndUse", code: "heuristic"}},
		{"status not understood", p, get(), rsp(299, t0, "Cache-Control", "max-age=60, must-understand, no-store"),
			want{state: "CouldNotBeStored", code: "must-understand"}},
		{"status not understood, without no-store", p, get(), rsp(499, t0, "Cache-Control", "max-age=60, must-understand"),
			want{state: "CouldNotBeStored", code: "must-understand"}},
		{"unknown status without must-understand may be stored with explicit freshness", p, get(), rsp(299, t0, "Cache-Control", "max-age=60"),
			want{state: "StoreAndUse", code: "max-age"}},
	})
}

// RFC 9111 §5.2.2.7: private forbids a shared cache to store the response;
// private=field only the named fields.
func TestStore_RFC9111_5_2_2_7_Private(t *testing.T) {
	runStores(t, []storeCase{
		{"shared cache refuses private", shared(t0), get(), ok200("Cache-Control", "private, max-age=60"),
			want{state: "CouldNotBeStored", code: "private"}},
		{"private cache stores private with max-age", private(t0), get(), ok200("Cache-Control", "private, max-age=60"),
			want{state: "StoreAndUse", code: "max-age"}},
		{"private marks a response storable for a private cache", private(t0), get(), rsp(302, t0, "Cache-Control", "private", "ETag", `"v"`),
			want{state: "StoreAndUse", code: "private-cache"}},
		{"shared cache stores a qualified private", shared(t0), get(), ok200("Cache-Control", `private="X-Secret", max-age=60`),
			want{state: "StoreAndUse", code: "max-age"}},
	})

	// The named fields are not stored by a shared cache, but still reach the
	// client this response was for.
	resp := ok200("Cache-Control", `private="X-Secret, x-other", max-age=60`, "X-Secret", "s", "X-Other", "o", "X-Public", "p")
	sa := as[StoreAndUse](t, missFor(t, shared(t0), get()).Next(resp))
	for _, k := range []string{"X-Secret", "X-Other"} {
		if _, ok := sa.Pair.Response.Header[k]; ok {
			t.Errorf("shared cache stores %s named by private=", k)
		}
	}
	if joined(sa.Pair.Response.Header, "X-Public") != "p" {
		t.Errorf("X-Public not stored")
	}
	check(t, sa, want{header: map[string]string{"X-Secret": "s", "X-Other": "o"}})

	// A private cache stores them.
	sa = as[StoreAndUse](t, missFor(t, private(t0), get()).Next(resp))
	if joined(sa.Pair.Response.Header, "X-Secret") != "s" {
		t.Errorf("private cache did not store X-Secret")
	}
}

// RFC 9111 §3.5: a shared cache stores a response to a request with
// Authorization only when public, must-revalidate or s-maxage allows it.
func TestStore_RFC9111_3_5_AuthorizationNeedsPublic(t *testing.T) {
	auth := get("Authorization", "Bearer t")
	runStores(t, []storeCase{
		{"shared, no directive allows it", shared(t0), auth, ok200("Cache-Control", "max-age=60"),
			want{state: "CouldNotBeStored", code: "authorization"}},
		{"shared, public", shared(t0), auth, ok200("Cache-Control", "public, max-age=60"),
			want{state: "StoreAndUse", code: "max-age"}},
		{"shared, must-revalidate", shared(t0), auth, ok200("Cache-Control", "must-revalidate, max-age=60"),
			want{state: "StoreAndUse", code: "max-age"}},
		{"shared, s-maxage", shared(t0), auth, ok200("Cache-Control", "s-maxage=60"),
			want{state: "StoreAndUse", code: "s-maxage"}},
		{"private cache is not concerned", private(t0), auth, ok200("Cache-Control", "max-age=60"),
			want{state: "StoreAndUse", code: "max-age"}},
	})

	// The Authorization value itself is not written to storage unless Vary
	// nominates it.
	sa := as[StoreAndUse](t, missFor(t, shared(t0), auth).Next(ok200("Cache-Control", "public, max-age=60")))
	if _, ok := sa.Pair.Request.Header["Authorization"]; ok {
		t.Errorf("stored request keeps Authorization: %v", sa.Pair.Request.Header)
	}
}

// RFC 9111 §7.3: Options.StoreSetCookie decides whether a shared cache
// stores responses with Set-Cookie; field lines are never joined.
func TestStore_RFC9111_7_3_SetCookieOption(t *testing.T) {
	resp := ok200("Cache-Control", "max-age=60", "Set-Cookie", "a=1; Path=/", "Set-Cookie", "b=2, c")
	runStores(t, []storeCase{
		{"shared, default", shared(t0), get(), resp, want{state: "CouldNotBeStored", code: "set-cookie"}},
		{"shared, opted in", Options{Shared: true, StoreSetCookie: true, Clock: fixed(t0)}, get(), resp,
			want{state: "StoreAndUse", code: "max-age"}},
		{"private", private(t0), get(), resp, want{state: "StoreAndUse", code: "max-age"}},
	})
	sa := as[StoreAndUse](t, missFor(t, private(t0), get()).Next(resp))
	if got := sa.Pair.Response.Header["Set-Cookie"]; !slices.Equal(got, []string{"a=1; Path=/", "b=2, c"}) {
		t.Errorf("stored Set-Cookie = %q, want two field lines kept apart", got)
	}
}

// RFC 9111 §3.1: hop-by-hop fields, those Connection nominates and the
// proxy authentication fields are not stored (nor served).
func TestStore_RFC9111_3_1_HopByHopStripped(t *testing.T) {
	resp := ok200("Cache-Control", "max-age=60",
		"Connection", "close, X-Hop", "Connection", "x-other-hop",
		"X-Hop", "1", "X-Other-Hop", "2", "Keep-Alive", "timeout=5", "Transfer-Encoding", "chunked",
		"Upgrade", "h2c", "Trailer", "X-T", "TE", "trailers", "Proxy-Connection", "keep-alive",
		"Proxy-Authenticate", "Basic", "Proxy-Authentication-Info", "x", "Proxy-Authorization", "y",
		"X-Kept", "k", "Content-Type", "text/plain")
	sa := as[StoreAndUse](t, missFor(t, shared(t0), get()).Next(resp))
	for _, k := range []string{"Connection", "X-Hop", "X-Other-Hop", "Keep-Alive", "Transfer-Encoding", "Upgrade",
		"Trailer", "Te", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authentication-Info", "Proxy-Authorization"} {
		if v, ok := sa.Pair.Response.Header[k]; ok {
			t.Errorf("stored %s: %q", k, v)
		}
	}
	for _, k := range []string{"X-Kept", "Content-Type", "Cache-Control"} {
		if _, ok := sa.Pair.Response.Header[k]; !ok {
			t.Errorf("%s not stored", k)
		}
	}
	check(t, sa, want{header: map[string]string{
		"Connection": absent, "X-Hop": absent, "X-Other-Hop": absent, "Keep-Alive": absent,
		"Transfer-Encoding": absent, "X-Kept": "k",
	}})
	// The upstream response itself is untouched.
	if joined(resp.Header, "X-Hop") != "1" {
		t.Errorf("CacheMiss.Next changed the response it was given")
	}
}

// RFC 9110 §6.6.1: a cache with a clock adds Date to a response it stores
// without one, from the time it received it.
func TestStore_RFC9110_6_6_1_DateAdded(t *testing.T) {
	resp := rsp(200, at(-30), "Cache-Control", "max-age=60")
	sa := as[StoreAndUse](t, missFor(t, private(t0), get()).Next(resp))
	if got, want := joined(sa.Pair.Response.Header, "Date"), hd(at(-30)); got != want {
		t.Errorf("stored Date = %q, want the response time %q", got, want)
	}
	// A Date already there is kept as it is.
	resp = rsp(200, t0, "Cache-Control", "max-age=60", "Date", hd(at(-5)))
	sa = as[StoreAndUse](t, missFor(t, private(t0), get()).Next(resp))
	if got, want := joined(sa.Pair.Response.Header, "Date"), hd(at(-5)); got != want {
		t.Errorf("stored Date = %q, want %q", got, want)
	}
}

// RFC 9111 §3, §3.3, §4.1: what StoreAndUse tells the caller besides the
// pair: where to store it, how long the body must be, and until when the
// entry is of use.
func TestStore_RFC9111_3_StoreAndUsePlan(t *testing.T) {
	req := get("Accept-Encoding", "gzip", "Cookie", "secret")
	resp := ok200("Cache-Control", "max-age=60, stale-while-revalidate=30", "Vary", "Accept-Encoding",
		"Content-Length", "1234", "ETag", `"v1"`)
	sa := as[StoreAndUse](t, missFor(t, private(t0), req).Next(resp))
	if sa.Key != Key(req) {
		t.Errorf("Key = %q, want %q", sa.Key, Key(req))
	}
	if sa.Variant == "" {
		t.Errorf("Variant is empty for a response with Vary")
	}
	if sa.ExpectedLength != 1234 {
		t.Errorf("ExpectedLength = %d, want 1234 (§3.3: a shorter body is incomplete)", sa.ExpectedLength)
	}
	// Fresh 60s, then the longer of 30s stale-while-revalidate and the
	// default stale budget (§4.2.4), then the validator retention (24h by
	// default) for cheap revalidation.
	if want := t0.Add(time.Minute + DefaultStaleBudget + 24*time.Hour); !sa.Expires.Equal(want) {
		t.Errorf("Expires = %v, want %v", sa.Expires, want)
	}
	if got := sa.Pair.Request.Header; len(got) != 1 || joined(got, "Accept-Encoding") != "gzip" {
		t.Errorf("stored request header = %v, want only the Vary field", got)
	}
	if sa.Pair.ID != "" {
		t.Errorf("Pair.ID = %q, want empty: the store assigns it", sa.Pair.ID)
	}
	check(t, sa, want{status: 200, body: plan(BodyAll), cs: "cellar; fwd=uri-miss; fwd-status=200; ttl=60; stored"})

	// Without Content-Length the length is unknown.
	sa = as[StoreAndUse](t, missFor(t, private(t0), get()).Next(ok200("Cache-Control", "max-age=60")))
	if sa.ExpectedLength != -1 {
		t.Errorf("ExpectedLength = %d, want -1", sa.ExpectedLength)
	}
	// No validator: the entry is of no use once it cannot be served, even
	// stale while disconnected.
	if want := at(60).Add(DefaultStaleBudget); !sa.Expires.Equal(want) {
		t.Errorf("Expires = %v, want %v", sa.Expires, want)
	}
}

// StoreAndUse.Expires is the stale horizon: the end of freshness, plus the
// longest window the response may still be served stale in (RFC 5861,
// Options.StaleBudget; none when §4.2.4 forbids serving it stale), plus
// Options.ValidatorRetention when it can be revalidated (§4.3).
func TestStore_RFC9111_4_2_4_Horizon(t *testing.T) {
	day := 24 * time.Hour
	noBudget := Options{Clock: fixed(t0), StaleBudget: -1}
	cases := []struct {
		name string
		opts Options
		kv   []string
		want time.Duration
	}{
		{"fresh only", noBudget, []string{"Cache-Control", "max-age=60"}, time.Minute},
		{"stale-while-revalidate", noBudget, []string{"Cache-Control", "max-age=60, stale-while-revalidate=30"}, 90 * time.Second},
		{"stale-if-error, the longer window", noBudget, []string{"Cache-Control", "max-age=60, stale-while-revalidate=30, stale-if-error=300"}, 360 * time.Second},
		{"the default stale budget", private(t0), []string{"Cache-Control", "max-age=60, stale-if-error=300"}, DefaultStaleBudget + time.Minute},
		{"stale budget", Options{Clock: fixed(t0), StaleBudget: time.Hour}, []string{"Cache-Control", "max-age=60"}, time.Hour + time.Minute},
		{"must-revalidate: no stale window", Options{Clock: fixed(t0), StaleBudget: time.Hour}, []string{"Cache-Control", "max-age=60, must-revalidate, stale-if-error=300"}, time.Minute},
		{"validator retention", noBudget, []string{"Cache-Control", "max-age=60", "ETag", `"a"`}, time.Minute + day},
		{"Options.ValidatorRetention", Options{Clock: fixed(t0), StaleBudget: -1, ValidatorRetention: time.Hour}, []string{"Cache-Control", "max-age=60", "Last-Modified", hd(at(-9))}, time.Minute + time.Hour},
		{"negative ValidatorRetention keeps none", Options{Clock: fixed(t0), StaleBudget: -1, ValidatorRetention: -1}, []string{"Cache-Control", "max-age=60", "ETag", `"a"`}, time.Minute},
		{"stale on arrival, stale-if-error", noBudget, []string{"Cache-Control", "max-age=0, stale-if-error=30"}, 30 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sa := as[StoreAndUse](t, missFor(t, tc.opts, get()).Next(ok200(tc.kv...)))
			if want := t0.Add(tc.want); !sa.Expires.Equal(want) {
				t.Errorf("Expires = t0+%v, want t0+%v", sa.Expires.Sub(t0), tc.want)
			}
		})
	}
}
