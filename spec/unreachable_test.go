package spec

import (
	"net/http"
	"testing"
	"time"
)

// RFC 9111 §4.2.4: "a cache MUST NOT generate a stale response unless it is
// disconnected or doing so is explicitly permitted". Disconnected, the
// default stale budget serves stale; a negative budget turns it off; a
// failure that is not a disconnection does not use the budget.
func TestStale_RFC9111_4_2_4_Disconnected(t *testing.T) {
	opts := func(budget time.Duration, shared bool) Options {
		return Options{Clock: fixed(now150), StaleBudget: budget, Shared: shared}
	}
	stale := want{state: "NeedToBeUpdated", code: "stale-budget", status: 200, id: "p"}
	cases := []struct {
		name    string
		opts    Options
		stored  Pair
		req     Request
		failure Failure
		ok      bool
	}{
		{"default budget, refused", opts(0, false), staleBy50(""), get(), FailureDisconnected, true},
		{"default budget, timeout", opts(0, true), staleBy50(""), get(), FailureTimeout, true},
		{"default budget, shared", opts(0, true), staleBy50(""), get(), FailureDisconnected, true},
		{"staler than the default budget", Options{Clock: fixed(at(100).Add(DefaultStaleBudget + time.Second))}, staleBy50(""), get(), FailureDisconnected, false},
		{"budget turned off", opts(-1, false), staleBy50(""), get(), FailureDisconnected, false},
		{"not a disconnection", opts(0, false), staleBy50(""), get(), FailureOther, false},
		{"must-revalidate (§5.2.2.2)", opts(0, false), staleBy50("must-revalidate"), get(), FailureDisconnected, false},
		{"no-cache (§5.2.2.4)", opts(0, false), staleBy50("no-cache"), get(), FailureDisconnected, false},
		{"proxy-revalidate, shared (§5.2.2.8)", opts(0, true), staleBy50("proxy-revalidate"), get(), FailureDisconnected, false},
		{"s-maxage, shared (§5.2.2.10)", opts(0, true), staleBy50("s-maxage=100"), get(), FailureDisconnected, false},
		{"s-maxage, private", opts(0, false), staleBy50("s-maxage=100"), get(), FailureDisconnected, true},
		{"request max-age (§5.2.1.1)", opts(0, false), staleBy50(""), get("Cache-Control", "max-age=1000"), FailureDisconnected, false},
		{"request min-fresh (§5.2.1.3)", opts(0, false), staleBy50(""), get("Cache-Control", "min-fresh=1"), FailureDisconnected, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nr := revalidation(t, tc.opts, tc.req, tc.stored)
			up, ok := nr.UpstreamFailedWith(tc.failure)
			if ok != tc.ok {
				t.Fatalf("UpstreamFailedWith ok = %v (%s), want %v", ok, up.Reason, tc.ok)
			}
			if ok {
				check(t, up, stale)
			}
		})
	}
}

// RFC 9111 §5.2.2.2: a disconnected cache that may not serve the stored
// response stale "MUST generate an error response"; "the generated status
// code SHOULD be 504 (Gateway Timeout)". Misses get 502, or 504 after a
// timeout (RFC 9110 §15.6.3, §15.6.5).
func TestStale_RFC9111_5_2_2_2_Unreachable504(t *testing.T) {
	sh := Options{Clock: fixed(now150), Shared: true}
	cases := []struct {
		name    string
		opts    Options
		stored  Pair
		req     Request
		failure Failure
		want    want
	}{
		{"must-revalidate", private(now150), staleBy50("must-revalidate"), get(), FailureDisconnected,
			want{code: "stale-forbidden", status: 504, cs: "cellar; fwd=stale; detail=stale-forbidden",
				header: map[string]string{"Content-Length": "0", "Cache-Control": "no-store"}}},
		{"proxy-revalidate", sh, staleBy50("proxy-revalidate"), get(), FailureTimeout, want{code: "stale-forbidden", status: 504}},
		{"s-maxage", sh, staleBy50("s-maxage=100"), get(), FailureDisconnected, want{code: "stale-forbidden", status: 504}},
		{"no-cache", private(now150), staleBy50("no-cache"), get(), FailureDisconnected, want{code: "stale-forbidden", status: 504}},
		{"request max-age", private(now150), staleBy50(""), get("Cache-Control", "max-age=1000"), FailureDisconnected, want{code: "stale-refused", status: 504}},
		{"budget exceeded", Options{Clock: fixed(now150), StaleBudget: -1}, staleBy50(""), get(), FailureDisconnected, want{code: "stale-budget-exceeded", status: 504}},
		{"not a disconnection: 502", private(now150), staleBy50("must-revalidate"), get(), FailureOther, want{code: "upstream-error", status: 502}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nr := revalidation(t, tc.opts, tc.req, tc.stored)
			if _, ok := nr.UpstreamFailedWith(tc.failure); ok {
				t.Fatalf("served stale, want an error response")
			}
			fc := nr.UpstreamError(tc.failure)
			if fc.Pair != nil || fc.Serve.Body != BodyNone {
				t.Errorf("error response serves a stored pair or a body")
			}
			check(t, fc, tc.want)
		})
	}
	for f, status := range map[Failure]int{FailureDisconnected: 502, FailureTimeout: 504, FailureOther: 502} {
		if got := UpstreamError(f).Serve.Status; got != status {
			t.Errorf("UpstreamError(%d) = %d, want %d", f, got, status)
		}
	}
}

// RFC 5861 §4: "an error is any situation that would result in a 500, 502,
// 503, or 504 HTTP response status code being returned". Other 5xx are the
// origin's answer and are passed on.
func TestStale_RFC5861_4_ErrorStatuses(t *testing.T) {
	for status, stale := range map[int]bool{500: true, 502: true, 503: true, 504: true, 501: false, 505: false, 507: false, 511: false, 599: false} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			nr := revalidation(t, private(now150), get(), staleBy50("stale-if-error=60"))
			s := nr.Next(rsp(status, now150))
			if stale {
				check(t, s, want{state: "NeedToBeUpdated", code: "stale-if-error"})
			} else {
				check(t, s, want{state: "CacheMiss", code: "validation-full-response"})
			}
		})
	}
}

// RFC 9111 §5.2.1.1 and §5.2.1.3: request max-age and min-fresh refuse a
// stale response, stale-while-revalidate and stale-if-error included,
// unless max-stale accepts it.
func TestStale_RFC9111_5_2_1_1_RequestRefusesStale(t *testing.T) {
	p := private(now150)
	swr := staleBy50("stale-while-revalidate=60")
	runLookups(t, []lookupCase{
		{"no directive: stale-while-revalidate", p, []Pair{swr}, get(),
			want{state: "FromCache", code: "stale-while-revalidate"}},
		{"request max-age larger than the age", p, []Pair{swr}, get("Cache-Control", "max-age=1000"),
			want{state: "NeedRevalidation", code: "stale"}},
		{"request min-fresh", p, []Pair{swr}, get("Cache-Control", "min-fresh=0"),
			want{state: "NeedRevalidation", code: "stale"}},
		{"max-stale accepts it", p, []Pair{swr}, get("Cache-Control", "max-age=1000, max-stale=60"),
			want{state: "FromCache", code: "max-stale"}},
		{"max-stale too short", p, []Pair{swr}, get("Cache-Control", "min-fresh=1, max-stale=10"),
			want{state: "NeedRevalidation", code: "stale"}},
	})
	sie := staleBy50("stale-if-error=60")
	for _, tc := range []struct {
		name string
		req  Request
		want string
	}{
		{"response stale-if-error, no request directive", get(), "NeedToBeUpdated"},
		{"request max-age refuses it", get("Cache-Control", "max-age=1000"), "CacheMiss"},
		{"request min-fresh refuses it", get("Cache-Control", "min-fresh=5"), "CacheMiss"},
		{"max-stale accepts it", get("Cache-Control", "max-age=0, max-stale"), "NeedToBeUpdated"},
		{"the request's own stale-if-error", get("Cache-Control", "max-age=1000, stale-if-error=60"), "NeedToBeUpdated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check(t, revalidation(t, p, tc.req, sie).Next(rsp(503, now150)), want{state: tc.want})
		})
	}
}
