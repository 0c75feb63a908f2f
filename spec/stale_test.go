package spec

import (
	"net/http"
	"testing"
	"time"
)

// staleBy50 is stored with max-age=100 (plus cc) at t0; lookups at t0+150s
// find it stale by 50 seconds.
func staleBy50(cc string) Pair {
	v := "max-age=100"
	if cc != "" {
		v += ", " + cc
	}
	return storedGET("p", ok200("Cache-Control", v, "ETag", `"v1"`))
}

var now150 = at(150)

// RFC 9111 §4.2.4 and §5.2.1.2: a stale response is served only when
// allowed, and never when a directive forbids it.
func TestStale_RFC9111_4_2_4_ServingStale(t *testing.T) {
	p, s := private(now150), shared(now150)
	anyStale := get("Cache-Control", "max-stale")
	hit := "cellar; hit; ttl=-50; detail=max-stale"
	runLookups(t, []lookupCase{
		{"stale is validated by default", p, []Pair{staleBy50("")}, get(),
			want{state: "NeedRevalidation", code: "stale", fwd: map[string]string{"If-None-Match": `"v1"`}}},
		{"max-stale without value accepts any staleness (§5.2.1.2)", p, []Pair{staleBy50("")}, anyStale,
			want{state: "FromCache", code: "max-stale", status: 200, header: map[string]string{"Age": "150"}, cs: hit}},
		{"max-stale=60 accepts 50s", p, []Pair{staleBy50("")}, get("Cache-Control", "max-stale=60"),
			want{state: "FromCache", code: "max-stale", cs: hit}},
		{"max-stale=50 accepts 50s", p, []Pair{staleBy50("")}, get("Cache-Control", "max-stale=50"),
			want{state: "FromCache", code: "max-stale"}},
		{"max-stale=49 does not", p, []Pair{staleBy50("")}, get("Cache-Control", "max-stale=49"),
			want{state: "NeedRevalidation", code: "stale"}},
		{"invalid max-stale accepts nothing", p, []Pair{staleBy50("")}, get("Cache-Control", "max-stale=soon"),
			want{state: "NeedRevalidation", code: "stale"}},
		{"must-revalidate forbids (§5.2.2.2)", p, []Pair{staleBy50("must-revalidate")}, anyStale,
			want{state: "NeedRevalidation", code: "stale"}},
		{"proxy-revalidate forbids in a shared cache (§5.2.2.8)", s, []Pair{staleBy50("proxy-revalidate")}, anyStale,
			want{state: "NeedRevalidation", code: "stale"}},
		{"proxy-revalidate is for shared caches only", p, []Pair{staleBy50("proxy-revalidate")}, anyStale,
			want{state: "FromCache", code: "max-stale"}},
		{"s-maxage forbids in a shared cache (§5.2.2.10)", s, []Pair{staleBy50("s-maxage=100")}, anyStale,
			want{state: "NeedRevalidation", code: "stale"}},
		{"s-maxage is for shared caches only", p, []Pair{staleBy50("s-maxage=100")}, anyStale,
			want{state: "FromCache", code: "max-stale"}},
		{"no-cache forbids (§5.2.2.4)", p, []Pair{staleBy50("no-cache")}, anyStale,
			want{state: "NeedRevalidation", code: "no-cache"}},
		{"qualified no-cache does not forbid", p, []Pair{staleBy50(`no-cache="X-Token"`)}, anyStale,
			want{state: "FromCache", code: "max-stale"}},
		{"only-if-cached and stale: 504 (§5.2.1.7)", p, []Pair{staleBy50("")}, get("Cache-Control", "only-if-cached"),
			want{state: "FromCache", code: "only-if-cached", status: 504, body: plan(BodyNone),
				header: map[string]string{"Content-Length": "0"}, cs: "cellar; detail=only-if-cached"}},
		{"only-if-cached with max-stale", p, []Pair{staleBy50("")}, get("Cache-Control", "only-if-cached, max-stale"),
			want{state: "FromCache", code: "max-stale", status: 200}},
		{"the stale budget is only for an unreachable origin", Options{Clock: fixed(now150), StaleBudget: time.Hour},
			[]Pair{staleBy50("")}, get(), want{state: "NeedRevalidation", code: "stale"}},
	})
}

// RFC 5861 §3: stale-while-revalidate serves the stale response and asks the
// caller to refresh it in the background.
func TestStale_RFC5861_3_StaleWhileRevalidate(t *testing.T) {
	p := private(now150)
	runLookups(t, []lookupCase{
		{"inside the window", p, []Pair{staleBy50("stale-while-revalidate=60")}, get(),
			want{state: "FromCache", code: "stale-while-revalidate", status: 200,
				cs: "cellar; hit; ttl=-50; detail=stale-while-revalidate"}},
		{"at the edge of the window", p, []Pair{staleBy50("stale-while-revalidate=50")}, get(),
			want{state: "FromCache", code: "stale-while-revalidate"}},
		{"past the window", p, []Pair{staleBy50("stale-while-revalidate=49")}, get(),
			want{state: "NeedRevalidation", code: "stale"}},
		{"invalid window", p, []Pair{staleBy50("stale-while-revalidate=x")}, get(),
			want{state: "NeedRevalidation", code: "stale"}},
		{"must-revalidate wins (RFC 9111 §4.2.4)", p, []Pair{staleBy50("stale-while-revalidate=60, must-revalidate")}, get(),
			want{state: "NeedRevalidation", code: "stale"}},
		{"no-cache wins", p, []Pair{staleBy50("stale-while-revalidate=60, no-cache")}, get(),
			want{state: "NeedRevalidation", code: "no-cache"}},
		{"s-maxage wins in a shared cache", shared(now150), []Pair{staleBy50("stale-while-revalidate=60, s-maxage=100")}, get(),
			want{state: "NeedRevalidation", code: "stale"}},
	})

	fc := as[FromCache](t, NewIdleClient(p).Next(get("Range", "bytes=0-1"), []Pair{staleBy50("stale-while-revalidate=60")}))
	if fc.Refresh == nil {
		t.Fatalf("FromCache.Refresh = nil, want a background revalidation")
	}
	check(t, *fc.Refresh, want{state: "NeedRevalidation", code: "stale-while-revalidate",
		fwd: map[string]string{"If-None-Match": `"v1"`, "Range": absent}})
	// The refresh is walked to its end like any revalidation.
	up := as[NeedToBeUpdated](t, fc.Refresh.Next(rsp(304, now150, "Date", hd(now150), "ETag", `"v1"`, "Cache-Control", "max-age=100")))
	if len(up.Updates) != 1 || up.Updates[0].ID != "p" {
		t.Errorf("Updates = %v, want [p]", ids(up.Updates))
	}
	// A fresh hit asks for no refresh.
	fc = as[FromCache](t, NewIdleClient(private(at(10))).Next(get(), []Pair{staleBy50("stale-while-revalidate=60")}))
	if fc.Refresh != nil {
		t.Errorf("fresh hit asks for a refresh")
	}
}

// RFC 5861 §4 and RFC 9111 §4.3.3: stale-if-error serves the stale
// response when validation gets a 5xx or no response at all.
func TestStale_RFC5861_4_StaleIfError(t *testing.T) {
	served := want{state: "NeedToBeUpdated", code: "stale-if-error", status: 200, id: "p",
		header: map[string]string{"Age": "150", "Etag": `"v1"`}}
	for _, status := range []int{500, 502, 503, 504} {
		t.Run("5xx "+http.StatusText(status), func(t *testing.T) {
			nr := revalidation(t, private(now150), get(), staleBy50("stale-if-error=60"))
			w := served
			w.cs = "cellar; fwd=stale; fwd-status=" + itoa(status) + "; ttl=-50; detail=stale-if-error"
			s := nr.Next(rsp(status, now150))
			check(t, s, w)
			if up := s.(NeedToBeUpdated); len(up.Updates) != 0 {
				t.Errorf("Updates = %v, want none: nothing was learnt", ids(up.Updates))
			}
		})
	}
	cases := []struct {
		name   string
		opts   Options
		stored Pair
		req    Request
		status int
		want   want
	}{
		{"window too short: the 5xx is used", private(now150), staleBy50("stale-if-error=49"), get(), 500,
			want{state: "CacheMiss", code: "validation-full-response"}},
		{"request stale-if-error", private(now150), staleBy50(""), get("Cache-Control", "stale-if-error=60"), 503,
			want{state: "NeedToBeUpdated", code: "stale-if-error"}},
		{"must-revalidate forbids", private(now150), staleBy50("stale-if-error=60, must-revalidate"), get(), 500,
			want{state: "CacheMiss", code: "validation-full-response"}},
		{"not on 4xx", private(now150), staleBy50("stale-if-error=60"), get(), 404,
			want{state: "CacheMiss", code: "validation-full-response"}},
		{"the stale budget is not for 5xx", Options{Clock: fixed(now150), StaleBudget: time.Hour}, staleBy50(""), get(), 500,
			want{state: "CacheMiss", code: "validation-full-response"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check(t, revalidation(t, tc.opts, tc.req, tc.stored).Next(rsp(tc.status, now150)), tc.want)
		})
	}

	// The 5xx that is used goes to the client, and is judged for storage.
	m := as[CacheMiss](t, revalidation(t, private(now150), get(), staleBy50("")).Next(rsp(500, now150)))
	if !m.Received {
		t.Errorf("CacheMiss.Received = false, want true: the response is at hand")
	}
	check(t, m.Next(rsp(500, now150)), want{state: "CouldNotBeStored", code: "not-cacheable", status: 500,
		cs: "cellar; fwd=stale; fwd-status=500; detail=not-cacheable"})
}

// RFC 5861 §4 and RFC 9111 §4.2.4: when the origin cannot be reached at all,
// stale-if-error or the configured stale budget allow serving stale.
func TestStale_RFC9111_4_2_4_UpstreamFailed(t *testing.T) {
	budget := func(d time.Duration) Options { return Options{Clock: fixed(now150), StaleBudget: d} }
	budgetShared := budget(time.Hour)
	budgetShared.Shared = true
	cases := []struct {
		name   string
		opts   Options
		stored Pair
		ok     bool
		want   want
	}{
		{"stale-if-error", private(now150), staleBy50("stale-if-error=60"), true,
			want{code: "stale-if-error", status: 200, cs: "cellar; fwd=stale; ttl=-50; detail=stale-if-error"}},
		{"stale-if-error too short", budget(-1), staleBy50("stale-if-error=10"), false, want{}},
		{"nothing allows it", budget(-1), staleBy50(""), false, want{}},
		{"the default stale budget", private(now150), staleBy50(""), true,
			want{code: "stale-budget", status: 200, cs: "cellar; fwd=stale; ttl=-50; detail=stale-budget"}},
		{"stale budget", budget(time.Minute), staleBy50(""), true,
			want{code: "stale-budget", status: 200, cs: "cellar; fwd=stale; ttl=-50; detail=stale-budget"}},
		{"stale budget too short", budget(10 * time.Second), staleBy50(""), false, want{}},
		{"stale budget yields to must-revalidate (§5.2.2.2)", budget(time.Hour), staleBy50("must-revalidate"), false, want{}},
		{"stale budget yields to no-cache", budget(time.Hour), staleBy50("no-cache"), false, want{}},
		{"stale budget yields to s-maxage in a shared cache", budgetShared, staleBy50("s-maxage=100"), false, want{}},
		{"stale budget yields to proxy-revalidate in a shared cache", budgetShared, staleBy50("proxy-revalidate"), false, want{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			up, ok := revalidation(t, tc.opts, get(), tc.stored).UpstreamFailed()
			if ok != tc.ok {
				t.Fatalf("UpstreamFailed ok = %v (%s), want %v", ok, up.Reason, tc.ok)
			}
			if ok {
				check(t, up, tc.want)
			}
		})
	}
}
