package spec

import (
	"testing"
	"time"
)

// ttlOf looks up a GET for which only resp is stored and returns the
// remaining freshness (lifetime − age, in seconds) the core computed, and
// the state it chose.
func ttlOf(t *testing.T, o Options, resp Response) (int64, State) {
	t.Helper()
	s := NewIdleClient(o).Next(get(), []Pair{storedGET("p", resp)})
	switch s := s.(type) {
	case FromCache:
		if !s.Serve.CacheStatus.HasTTL {
			t.Fatalf("FromCache without ttl")
		}
		return s.Serve.CacheStatus.TTL, s
	case NeedRevalidation:
		return s.fresh.ttlSeconds(), s
	}
	t.Fatalf("state = %s (%s), want FromCache or NeedRevalidation", name(s), reasonOf(s))
	return 0, nil
}

// freshCase: resp is received at t0; the lookup happens at t0+10s. ttl is
// lifetime − age; code is the rule that gave the lifetime.
type freshCase struct {
	name string
	opts Options
	resp Response
	ttl  int64
	code string
}

func runFresh(t *testing.T, cases []freshCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ttl, s := ttlOf(t, tc.opts, tc.resp)
			if ttl != tc.ttl {
				t.Errorf("ttl = %d, want %d", ttl, tc.ttl)
			}
			wantState := "FromCache"
			if tc.ttl <= 0 {
				wantState = "NeedRevalidation"
			}
			if s.StateName() != wantState {
				t.Errorf("state = %s (%s), want %s", s.StateName(), reasonOf(s), wantState)
			}
			if tc.code != "" {
				if got := Explain(get(), tc.resp, tc.opts).LifetimeReason.Code; string(got) != tc.code {
					t.Errorf("lifetime rule = %q, want %q", got, tc.code)
				}
			}
		})
	}
}

// RFC 9111 §4.2.1: s-maxage (shared caches) › max-age › Expires − Date.
// Invalid values make the response stale; duplicates keep the first.
func TestFreshness_RFC9111_4_2_1_Precedence(t *testing.T) {
	p, s := private(at(10)), shared(at(10))
	runFresh(t, []freshCase{
		{"s-maxage over max-age in a shared cache", s, ok200("Cache-Control", "max-age=100, s-maxage=50"), 40, "s-maxage"},
		{"s-maxage ignored by a private cache", p, ok200("Cache-Control", "max-age=100, s-maxage=50"), 90, "max-age"},
		{"s-maxage over Expires", s, ok200("Cache-Control", "s-maxage=50", "Expires", hd(at(300))), 40, "s-maxage"},
		{"max-age over Expires", p, ok200("Cache-Control", "max-age=100", "Expires", hd(at(1000))), 90, "max-age"},
		{"max-age=0 over Expires", p, ok200("Cache-Control", "max-age=0", "Expires", hd(at(1000))), -10, "max-age"},
		{"Expires minus Date", p, ok200("Expires", hd(at(300))), 290, "expires"},
		{"Expires minus Date, not minus receipt time", p,
			rsp(200, t0, "Date", hd(at(-100)), "Expires", hd(at(200))), 300 - 110, "expires"},
		{"Expires in the past", p, ok200("Expires", hd(at(-1))), -10, "expires"},
		{"Expires equal to Date", p, ok200("Expires", hd(t0)), -10, "expires"},
		{"names are case-insensitive", p, ok200("Cache-Control", "MAX-AGE=100"), 90, "max-age"},
		{"quoted argument accepted (§5.2)", p, ok200("Cache-Control", `max-age="100"`), 90, "max-age"},
	})
}

// RFC 9111 §4.2.1 and §1.2.2: duplicated, malformed and overflowing values.
func TestFreshness_RFC9111_4_2_1_InvalidAndDuplicate(t *testing.T) {
	p, s := private(at(10)), shared(at(10))
	runFresh(t, []freshCase{
		{"duplicate max-age, first wins", p, ok200("Cache-Control", "max-age=100, max-age=5"), 90, "max-age"},
		{"duplicate max-age on two lines, first wins", p, ok200("Cache-Control", "max-age=100", "Cache-Control", "max-age=5"), 90, "max-age"},
		{"duplicate s-maxage, first wins", s, ok200("Cache-Control", "s-maxage=50, s-maxage=500"), 40, "s-maxage"},
		{"malformed max-age is stale, Expires not consulted", p, ok200("Cache-Control", "max-age=abc", "Expires", hd(at(300))), -10, "invalid-max-age"},
		{"negative max-age is stale", p, ok200("Cache-Control", "max-age=-1"), -10, "invalid-max-age"},
		{"empty max-age is stale", p, ok200("Cache-Control", "max-age="), -10, "invalid-max-age"},
		{"max-age without value is stale", p, ok200("Cache-Control", "max-age"), -10, "invalid-max-age"},
		{"first max-age malformed, second ignored", p, ok200("Cache-Control", "max-age=x, max-age=100"), -10, "invalid-max-age"},
		{"malformed s-maxage in a shared cache is stale", s, ok200("Cache-Control", "s-maxage=1.5, max-age=100"), -10, "invalid-s-maxage"},
		{"malformed s-maxage ignored by a private cache", p, ok200("Cache-Control", "s-maxage=1.5, max-age=100"), 90, "max-age"},
		{"overflow caps at 2147483648 (§1.2.2)", p, ok200("Cache-Control", "max-age=99999999999999999999999"), 2147483648 - 10, "max-age"},
		{"invalid Expires means already expired (§5.3)", p, ok200("Expires", "0"), -10, "invalid-expires"},
		{"garbage Expires", p, ok200("Expires", "next tuesday"), -10, "invalid-expires"},
		{"two Expires lines, first wins", p, ok200("Expires", hd(at(300)), "Expires", hd(at(900))), 290, "expires"},
		{"first Expires invalid", p, ok200("Expires", "0", "Expires", hd(at(900))), -10, "invalid-expires"},
	})
}

// RFC 9111 §5.3 with RFC 9110 §5.6.7: Expires in all three HTTP-date formats.
func TestFreshness_RFC9111_5_3_ExpiresDateFormats(t *testing.T) {
	p := private(at(10))
	runFresh(t, []freshCase{
		{"IMF-fixdate", p, ok200("Expires", "Fri, 01 Mar 2024 12:05:00 GMT"), 290, "expires"},
		{"obsolete RFC 850", p, ok200("Expires", "Friday, 01-Mar-24 12:05:00 GMT"), 290, "expires"},
		{"obsolete asctime", p, ok200("Expires", "Fri Mar  1 12:05:00 2024"), 290, "expires"},
		{"Date in RFC 850 too", p, rsp(200, t0, "Date", "Friday, 01-Mar-24 12:00:00 GMT", "Expires", hd(at(300))), 290, "expires"},
	})
}

// RFC 9111 §4.2.2: without explicit expiration, a fraction of
// Date − Last-Modified, capped, for heuristically cacheable statuses
// (RFC 9110 §15.1) or responses marked public.
func TestFreshness_RFC9111_4_2_2_Heuristic(t *testing.T) {
	p := private(at(10))
	lm := hd(at(-1000))
	frac := func(f float64) Options { o := p; o.HeuristicFraction = f; return o }
	capAt := func(d time.Duration) Options { o := p; o.HeuristicCap = d; return o }
	runFresh(t, []freshCase{
		{"10% of the time since Last-Modified", p, ok200("Last-Modified", lm), 90, "heuristic"},
		{"heuristic for 404", p, rsp(404, t0, "Date", hd(t0), "Last-Modified", lm), 90, "heuristic"},
		{"heuristic for 301", p, rsp(301, t0, "Date", hd(t0), "Last-Modified", lm), 90, "heuristic"},
		{"capped at 24h by default", p, ok200("Last-Modified", hd(t0.AddDate(0, -3, 0))), 86400 - 10, "heuristic"},
		{"Options.HeuristicCap", capAt(time.Hour), ok200("Last-Modified", hd(at(-100000))), 3600 - 10, "heuristic"},
		{"Options.HeuristicFraction", frac(0.5), ok200("Last-Modified", lm), 490, "heuristic"},
		{"negative fraction turns heuristics off", frac(-1), ok200("Last-Modified", lm), -10, "no-explicit-freshness"},
		{"not for 302", p, rsp(302, t0, "Date", hd(t0), "Last-Modified", lm), -10, "no-explicit-freshness"},
		{"not for 307", p, rsp(307, t0, "Date", hd(t0), "Last-Modified", lm), -10, "no-explicit-freshness"},
		{"public makes a 302 heuristically cacheable (§5.2.2.9)", p,
			rsp(302, t0, "Date", hd(t0), "Last-Modified", lm, "Cache-Control", "public"), 90, "heuristic"},
		{"not with explicit Expires, even invalid", p, ok200("Last-Modified", lm, "Expires", "0"), -10, "invalid-expires"},
		{"not with explicit max-age", p, ok200("Last-Modified", lm, "Cache-Control", "max-age=5"), -5, "max-age"},
		{"no Last-Modified", p, ok200(), -10, "no-explicit-freshness"},
		{"invalid Last-Modified", p, ok200("Last-Modified", "yesterday"), -10, "no-explicit-freshness"},
		{"Last-Modified after Date", p, ok200("Last-Modified", hd(at(5))), -10, "no-explicit-freshness"},
	})
}
