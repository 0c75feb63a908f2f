package spec

import (
	"net/http"
	"testing"
)

// RFC 9211 §2 with RFC 9651 §4.1: how CacheStatus serializes.
func TestCacheStatus_RFC9211_2_Value(t *testing.T) {
	cases := []struct {
		name  string
		cache string
		cs    CacheStatus
		want  string
	}{
		{"hit with ttl (§2.1, §2.4)", "cellar", CacheStatus{Hit: true, TTL: 90, HasTTL: true}, "cellar; hit; ttl=90"},
		{"hit, stale", "cellar", CacheStatus{Hit: true, TTL: -5, HasTTL: true, Detail: "max-stale"}, "cellar; hit; ttl=-5; detail=max-stale"},
		{"ttl zero is shown when known", "cellar", CacheStatus{Hit: true, HasTTL: true}, "cellar; hit; ttl=0"},
		{"fwd with fwd-status and stored (§2.2, §2.3, §2.5)", "cellar",
			CacheStatus{Fwd: FwdURIMiss, FwdStatus: 200, TTL: 60, HasTTL: true, Stored: true},
			"cellar; fwd=uri-miss; fwd-status=200; ttl=60; stored"},
		{"fwd without a known status", "cellar", CacheStatus{Fwd: FwdStale}, "cellar; fwd=stale"},
		{"collapsed (§2.6)", "cellar", CacheStatus{Fwd: FwdMiss, FwdStatus: 200, Collapsed: true}, "cellar; fwd=miss; fwd-status=200; collapsed"},
		{"collapse failed (§2.6: collapsed=?0)", "cellar", CacheStatus{Fwd: FwdURIMiss, FwdStatus: 200, CollapseFailed: true}, "cellar; fwd=uri-miss; fwd-status=200; collapsed=?0"},
		{"collapse failed on a hit: no parameter", "cellar", CacheStatus{Hit: true, CollapseFailed: true}, "cellar; hit"},
		{"stored and collapsed mean nothing on a hit", "cellar",
			CacheStatus{Hit: true, Stored: true, Collapsed: true, Fwd: FwdStale, FwdStatus: 200}, "cellar; hit"},
		{"key is an sf-string (§2.7)", "cellar", CacheStatus{Hit: true, Key: `http://x/"q"\`}, `cellar; hit; key="http://x/\"q\"\\"`},
		{"non-ASCII is dropped from sf-strings", "cellar", CacheStatus{Hit: true, Key: "a\u00e9b\n"}, `cellar; hit; key="ab"`},
		{"detail as a token (§2.8)", "cellar", CacheStatus{Fwd: FwdURIMiss, FwdStatus: 200, Detail: "no-store"},
			"cellar; fwd=uri-miss; fwd-status=200; detail=no-store"},
		{"detail that is not a token is a string", "cellar", CacheStatus{Hit: true, Detail: "not a token"}, `cellar; hit; detail="not a token"`},
		{"detail starting with a digit is a string", "cellar", CacheStatus{Hit: true, Detail: "304-unmatched"}, `cellar; hit; detail="304-unmatched"`},
		{"cache name that is a token", "ExampleCDN/v1:edge", CacheStatus{Hit: true}, "ExampleCDN/v1:edge; hit"},
		{"cache name that is not a token", "my cache", CacheStatus{Hit: true}, `"my cache"; hit`},
		{"neither hit nor fwd", "cellar", CacheStatus{Detail: "only-if-cached"}, "cellar; detail=only-if-cached"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cs.Value(tc.cache); got != tc.want {
				t.Errorf("Value = %s, want %s", got, tc.want)
			}
		})
	}
}

// RFC 9211 §2: the parameters come from the core's decision, for every
// state that serves something.
func TestCacheStatus_RFC9211_2_FromTheCore(t *testing.T) {
	fresh := storedGET("p", ok200("Cache-Control", "max-age=100", "ETag", `"a"`))
	cases := []struct {
		name string
		s    func(t *testing.T) State
		want string
	}{
		{"fresh hit", func(t *testing.T) State {
			return NewIdleClient(private(at(10))).Next(get(), []Pair{fresh})
		}, "cellar; hit; ttl=90"},
		{"hit answered with 304", func(t *testing.T) State {
			return NewIdleClient(private(at(10))).Next(get("If-None-Match", `"a"`), []Pair{fresh})
		}, "cellar; hit; ttl=90"},
		{"stale served with max-stale", func(t *testing.T) State {
			return NewIdleClient(private(at(150))).Next(get("Cache-Control", "max-stale"), []Pair{fresh})
		}, "cellar; hit; ttl=-50; detail=max-stale"},
		{"miss, stored", func(t *testing.T) State {
			return missFor(t, private(t0), get()).Next(ok200("Cache-Control", "max-age=60"))
		}, "cellar; fwd=uri-miss; fwd-status=200; ttl=60; stored"},
		{"miss, not stored", func(t *testing.T) State {
			return missFor(t, private(t0), get()).Next(ok200("Cache-Control", "no-store"))
		}, "cellar; fwd=uri-miss; fwd-status=200; detail=no-store"},
		{"vary miss", func(t *testing.T) State {
			v := varied("v", "Accept-Language", 0, "Accept-Language", "fr")
			m := as[CacheMiss](t, NewIdleClient(private(at(10))).Next(get("Accept-Language", "de"), []Pair{v}))
			return m.Next(ok200("Cache-Control", "max-age=60", "Vary", "Accept-Language"))
		}, "cellar; fwd=vary-miss; fwd-status=200; ttl=50; stored"},
		{"method", func(t *testing.T) State {
			return missFor(t, private(t0), rq(http.MethodOptions, testURL)).Next(ok200())
		}, "cellar; fwd=method; fwd-status=200; detail=method-not-cacheable"},
		{"partial", func(t *testing.T) State {
			p := part("p", "0-9/100", 0, "ETag", `"a"`)
			m := as[CacheMiss](t, NewIdleClient(private(at(10))).Next(get("Range", "bytes=50-59"), []Pair{p}))
			return m.Next(rsp(206, at(10), "Date", hd(at(10)), "Cache-Control", "max-age=60", "ETag", `"a"`, "Content-Range", "bytes 50-59/100"))
		}, "cellar; fwd=partial; fwd-status=206; ttl=60; stored"},
		{"complete response requested, a part stored (§2.2 partial)", func(t *testing.T) State {
			p := part("p", "0-9/100", 0, "ETag", `"a"`)
			m := as[CacheMiss](t, NewIdleClient(private(at(10))).Next(get(), []Pair{p}))
			return m.Next(ok200("Cache-Control", "max-age=60", "ETag", `"a"`))
		}, "cellar; fwd=partial; fwd-status=200; ttl=50; stored"},
		{"range within a stored part: a hit (§2.1)", func(t *testing.T) State {
			p := part("p", "0-9/100", 0, "ETag", `"a"`)
			return NewIdleClient(private(at(10))).Next(get("Range", "bytes=2-5"), []Pair{p})
		}, "cellar; hit; ttl=590; detail=partial"},
		{"revalidated with 304", func(t *testing.T) State {
			return revalidation(t, private(at(150)), get(), fresh).Next(rsp(304, at(150), "Date", hd(at(150)), "ETag", `"a"`))
		}, "cellar; fwd=stale; fwd-status=304; ttl=100"},
		{"revalidation replaced by a full response", func(t *testing.T) State {
			full := rsp(200, at(150), "Date", hd(at(150)), "Cache-Control", "max-age=30", "ETag", `"b"`)
			m := as[CacheMiss](t, revalidation(t, private(at(150)), get(), fresh).Next(full))
			return m.Next(full)
		}, "cellar; fwd=stale; fwd-status=200; ttl=30; stored"},
		{"request forbade the fresh response", func(t *testing.T) State {
			return revalidation(t, private(at(10)), get("Cache-Control", "max-age=5"), fresh).Next(rsp(304, at(10), "Date", hd(at(10)), "ETag", `"a"`))
		}, "cellar; fwd=request; fwd-status=304; ttl=100"},
		{"request no-cache on a stale response is fwd=stale", func(t *testing.T) State {
			return revalidation(t, private(at(150)), get("Cache-Control", "no-cache"), fresh).Next(rsp(304, at(150), "Date", hd(at(150)), "ETag", `"a"`))
		}, "cellar; fwd=stale; fwd-status=304; ttl=100"},
		{"stale-if-error", func(t *testing.T) State {
			st := storedGET("p", ok200("Cache-Control", "max-age=100, stale-if-error=600"))
			return revalidation(t, private(at(150)), get(), st).Next(rsp(503, at(150)))
		}, "cellar; fwd=stale; fwd-status=503; ttl=-50; detail=stale-if-error"},
		{"only-if-cached", func(t *testing.T) State {
			return NewIdleClient(private(t0)).Next(get("Cache-Control", "only-if-cached"), nil)
		}, "cellar; detail=only-if-cached"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check(t, tc.s(t), want{cs: tc.want})
		})
	}
}
