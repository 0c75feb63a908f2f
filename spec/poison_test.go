package spec

import (
	"net/http"
	"testing"
)

// fat marks req as carrying content, keyed on it or not.
func fat(req Request, keyed bool) Request {
	req.HasContent, req.ContentKeyed = true, keyed
	return req
}

// RFC 9110 §9.3.1: content in a GET has no defined semantics, yet an
// origin may shape its response by it. A response to a request whose
// content the key ignores is never stored (RFC 9111 §2, §7.1: the fat GET
// poisoning of issue 12 item 1); keyed on its content, it is.
func TestStore_RFC9110_9_3_1_RequestContent(t *testing.T) {
	p, s := private(t0), shared(t0)
	post := Options{Shared: true, Clock: fixed(t0), CacheableMethods: []string{"GET", "HEAD", "POST"}}
	maxAge := ok200("Cache-Control", "max-age=60")
	runStores(t, []storeCase{
		{"GET without content is stored", s, get(), maxAge, want{state: "StoreAndUse", code: "max-age"}},
		{"GET with content is not, shared", s, fat(get(), false), maxAge, want{state: "CouldNotBeStored", code: "request-content"}},
		{"GET with content is not, private", p, fat(get(), false), maxAge, want{state: "CouldNotBeStored", code: "request-content"}},
		{"even when public", s, fat(get(), false), ok200("Cache-Control", "public, s-maxage=600"), want{state: "CouldNotBeStored", code: "request-content"}},
		{"GET keyed on its content is stored", s, fat(get(), true), maxAge, want{state: "StoreAndUse", code: "max-age"}},
		{"cacheable POST with unkeyed content is not", post, fat(rq(http.MethodPost, testURL), false), maxAge, want{state: "CouldNotBeStored", code: "request-content"}},
		{"cacheable POST keyed on its content is stored", post, fat(rq(http.MethodPost, testURL), true), maxAge, want{state: "StoreAndUse", code: "max-age"}},
	})
	// Judge and Explain run the same rule.
	if v := Judge(fat(get(), false), maxAge, s); v.Storable || v.Reason.Code != "request-content" {
		t.Errorf("Judge = %+v", v)
	}
	if e := Explain(fat(get(), false), maxAge, s); e.Storable || e.Store.Code != "request-content" {
		t.Errorf("Explain = %+v", e.Store)
	}
}

// RFC 9110 §9.3.1 with RFC 9111 §4.3.4: a 304 (or a full response) to a
// validation sent for a request with unkeyed content updates nothing in
// storage, though the stored response still answers that request.
func TestRevalidate_RFC9110_9_3_1_RequestContentUpdatesNothing(t *testing.T) {
	stored := old("a", 0, "ETag", `"a"`, "Content-Length", "10")
	o := shared(now150)
	rv := revalidation(t, o, fat(get(), false), stored)
	up := as[NeedToBeUpdated](t, rv.Next(notMod("ETag", `"a"`, "Cache-Control", "max-age=99999", "Content-Type", "text/evil")))
	if len(up.Updates) != 0 || up.Reason.Code != "request-content" {
		t.Errorf("304 to a fat GET: %d updates, reason %s", len(up.Updates), up.Reason.Code)
	}
	full := as[CacheMiss](t, rv.Next(rsp(200, now150, "Date", hd(now150), "Cache-Control", "max-age=60")))
	check(t, full.Next(rsp(200, now150, "Date", hd(now150), "Cache-Control", "max-age=60")),
		want{state: "CouldNotBeStored", code: "request-content"})
	// Keyed on its content, the 304 updates as usual.
	up = as[NeedToBeUpdated](t, revalidation(t, o, fat(get(), true), stored).Next(notMod("ETag", `"a"`, "Cache-Control", "max-age=60")))
	if len(up.Updates) != 1 {
		t.Errorf("keyed content: %d updates, want 1", len(up.Updates))
	}
}

// RFC 5861 §3 with RFC 9110 §9.3.1: a request with unkeyed content is
// served stale within stale-while-revalidate, but asks for no background
// refresh, whose response could not be stored.
func TestStale_RFC5861_3_NoRefreshForRequestContent(t *testing.T) {
	o := private(now150)
	fc := as[FromCache](t, NewIdleClient(o).Next(fat(get(), false), []Pair{staleBy50("stale-while-revalidate=60")}))
	if fc.Refresh != nil {
		t.Error("a request with unkeyed content asked for a background refresh")
	}
	fc = as[FromCache](t, NewIdleClient(o).Next(get(), []Pair{staleBy50("stale-while-revalidate=60")}))
	if fc.Refresh == nil {
		t.Error("a plain request asked for no background refresh")
	}
}

// RFC 9111 §4.2.2 allows heuristic freshness when nothing prohibits it;
// Cellar's shared cache is stricter for requests with Cookie (issue 12
// item 5): their responses are stored only with explicit freshness
// (§4.2.1), or when they vary on Cookie (§4.1).
func TestStore_RFC9111_4_2_2_CookieNeedsExplicitFreshness(t *testing.T) {
	p, s := private(t0), shared(t0)
	cookie := get("Cookie", "session=x")
	lm := []string{"Last-Modified", hd(at(-86400))}
	withLM := func(kv ...string) Response { return ok200(append(lm, kv...)...) }
	runStores(t, []storeCase{
		{"no Cookie: heuristic", s, get(), withLM(), want{state: "StoreAndUse", code: "heuristic"}},
		{"Cookie, Last-Modified only: not stored", s, cookie, withLM(), want{state: "CouldNotBeStored", code: "cookie-heuristic"}},
		{"Cookie, public only: not stored", s, cookie, withLM("Cache-Control", "public"), want{state: "CouldNotBeStored", code: "cookie-heuristic"}},
		{"Cookie, heuristic 404: not stored", s, cookie, rsp(404, t0, "Date", hd(t0)), want{state: "CouldNotBeStored", code: "cookie-heuristic", status: 404}},
		{"Cookie, max-age", s, cookie, withLM("Cache-Control", "max-age=60"), want{state: "StoreAndUse", code: "max-age"}},
		{"Cookie, s-maxage", s, cookie, withLM("Cache-Control", "s-maxage=60"), want{state: "StoreAndUse", code: "s-maxage"}},
		{"Cookie, Expires", s, cookie, withLM("Expires", hd(at(60))), want{state: "StoreAndUse", code: "expires"}},
		{"Cookie, targeted field max-age (RFC 9213)", s, cookie, withLM("CDN-Cache-Control", "max-age=60"), want{state: "StoreAndUse", code: "max-age"}},
		{"Cookie, Expires under a targeted field does not count", s, cookie, withLM("CDN-Cache-Control", "public", "Expires", hd(at(60))), want{state: "CouldNotBeStored", code: "cookie-heuristic"}},
		{"Cookie, Vary: Cookie: heuristic allowed", s, cookie, withLM("Vary", "Accept, cookie"), want{state: "StoreAndUse", code: "heuristic"}},
		{"Cookie in a private cache: heuristic", p, cookie, withLM(), want{state: "StoreAndUse", code: "heuristic"}},
	})
}

// The same rule for updates (RFC 9111 §4.3.4): a 304 to a request with
// Cookie does not update a stored response that would be left without
// explicit freshness.
func TestRevalidate_RFC9111_4_2_2_CookieUpdate(t *testing.T) {
	o := shared(now150)
	lm := hd(at(-86400))
	heuristic := pr("h", get(), rsp(200, t0, "Date", hd(t0), "Last-Modified", lm, "ETag", `"a"`))
	explicit := old("e", 0, "ETag", `"a"`)
	cookie := get("Cookie", "session=x")
	up := as[NeedToBeUpdated](t, revalidation(t, o, get("Cookie", "session=x", "Cache-Control", "no-cache"), heuristic).Next(notMod("ETag", `"a"`)))
	if len(up.Updates) != 0 || up.Reason.Code != "cookie-heuristic" {
		t.Errorf("heuristic stored, Cookie 304: %d updates, reason %s", len(up.Updates), up.Reason.Code)
	}
	up = as[NeedToBeUpdated](t, revalidation(t, o, cookie, explicit).Next(notMod("ETag", `"a"`)))
	if len(up.Updates) != 1 {
		t.Errorf("explicit stored, Cookie 304: %d updates, want 1 (%s)", len(up.Updates), up.Reason.Code)
	}
	up = as[NeedToBeUpdated](t, revalidation(t, o, get("Cache-Control", "no-cache"), heuristic).Next(notMod("ETag", `"a"`)))
	if len(up.Updates) != 1 {
		t.Errorf("heuristic stored, no Cookie: %d updates, want 1", len(up.Updates))
	}
}

// RFC 9111 §4 (collapsing) with §5.2.1.1, §5.2.1.4 and §5.4: a request that
// waited for another's exchange with the origin takes its response despite
// no-cache or max-age=0, which that exchange satisfied; nothing else is
// relaxed (issue 12 item 4).
func TestLookup_RFC9111_4_CollapsedForcedRefresh(t *testing.T) {
	o := private(at(30))
	fresh := storedGET("p", ok200("Cache-Control", "max-age=100"))
	stale := storedGET("p", ok200("Cache-Control", "max-age=10"))
	mustRevalidate := storedGET("p", ok200("Cache-Control", "max-age=100, no-cache"))
	cases := []struct {
		name           string
		stored         Pair
		req            Request
		next, collapse string
	}{
		{"Cache-Control: no-cache", fresh, get("Cache-Control", "no-cache"), "NeedRevalidation", "FromCache"},
		{"Pragma: no-cache", fresh, get("Pragma", "no-cache"), "NeedRevalidation", "FromCache"},
		{"max-age=0", fresh, get("Cache-Control", "max-age=0"), "NeedRevalidation", "FromCache"},
		{"plain request", fresh, get(), "FromCache", "FromCache"},
		{"min-fresh still applies", fresh, get("Cache-Control", "no-cache, min-fresh=90"), "NeedRevalidation", "NeedRevalidation"},
		{"a stale response stays stale", stale, get("Cache-Control", "no-cache"), "NeedRevalidation", "NeedRevalidation"},
		{"the response's no-cache still applies", mustRevalidate, get("Pragma", "no-cache"), "NeedRevalidation", "NeedRevalidation"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			idle := NewIdleClient(o)
			if got := name(idle.Next(tc.req, []Pair{tc.stored})); got != tc.next {
				t.Errorf("Next = %s, want %s", got, tc.next)
			}
			if got := name(idle.Collapsed(tc.req, []Pair{tc.stored})); got != tc.collapse {
				t.Errorf("Collapsed = %s, want %s", got, tc.collapse)
			}
		})
	}
	if _, ok := NewIdleClient(o).Collapsed(rq(http.MethodPost, testURL), nil).(InvalidateEntries); !ok {
		t.Error("Collapsed POST is not an invalidation")
	}
}

// CouldNotBeStored.ByRequest tells a response the request kept out of
// storage (another request may store one) from one that is never storable.
func TestStore_RFC9111_3_ByRequest(t *testing.T) {
	s := shared(t0)
	for _, tc := range []struct {
		name string
		req  Request
		resp Response
		want bool
	}{
		{"fat GET", fat(get(), false), ok200("Cache-Control", "max-age=60"), true},
		{"Cookie without explicit freshness", get("Cookie", "a=b"), ok200("Last-Modified", hd(at(-3600))), true},
		{"Authorization", get("Authorization", "Bearer x"), ok200("Cache-Control", "max-age=60"), true},
		{"request no-store", get("Cache-Control", "no-store"), ok200("Cache-Control", "max-age=60"), true},
		{"response no-store", get(), ok200("Cache-Control", "no-store"), false},
		{"private", get(), ok200("Cache-Control", "private"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := as[CouldNotBeStored](t, missFor(t, s, tc.req).Next(tc.resp))
			if n.ByRequest != tc.want {
				t.Errorf("ByRequest = %v, want %v (%s)", n.ByRequest, tc.want, n.Reason.Code)
			}
		})
	}
}
