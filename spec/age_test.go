package spec

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// RFC 9111 §4.2.3: current_age = corrected_initial_age + resident_time, with
//
//	apparent_age          = max(0, response_time − date_value)
//	response_delay        = response_time − request_time
//	corrected_age_value   = age_value + response_delay
//	corrected_initial_age = max(apparent_age, corrected_age_value)
//	resident_time         = now − response_time
//
// Each case stores a response with max-age=100000 and checks the Age the
// core serves (§5.1) and the ttl in Cache-Status.
func TestAge_RFC9111_4_2_3_Algorithm(t *testing.T) {
	const lifetime = 100000
	cases := []struct {
		name          string
		reqAt, respAt time.Time // request_time, response_time
		now           time.Time
		kv            []string
		age           int64
	}{
		{"resident time only", t0, t0, at(10), []string{"Date", hd(t0)}, 10},
		{"no resident time", t0, t0, t0, []string{"Date", hd(t0)}, 0},
		{"Age field adds to resident time", t0, t0, at(10), []string{"Date", hd(t0), "Age", "30"}, 40},
		{"apparent age from Date", t0, t0, at(10), []string{"Date", hd(at(-60))}, 70},
		{"response delay corrects Age", at(-5), t0, at(10), []string{"Date", hd(t0), "Age", "30"}, 45},
		{"response delay counts even without Age", at(-5), t0, at(10), []string{"Date", hd(t0)}, 15},
		{"the larger of apparent age and corrected Age", t0, t0, at(10), []string{"Date", hd(at(-100)), "Age", "30"}, 110},
		{"corrected Age larger than apparent age", at(-2), t0, at(10), []string{"Date", hd(at(-10)), "Age", "30"}, 42},
		{"Date in the future gives no negative apparent age", t0, t0, at(10), []string{"Date", hd(at(100))}, 10},
		{"missing Date is response_time (RFC 9110 §6.6.1)", t0, t0, at(10), nil, 10},
		{"invalid Date is response_time", t0, t0, at(10), []string{"Date", "not a date"}, 10},
		{"invalid Age is ignored (§5.1)", t0, t0, at(10), []string{"Date", hd(t0), "Age", "abc"}, 10},
		{"negative Age is ignored", t0, t0, at(10), []string{"Date", hd(t0), "Age", "-5"}, 10},
		{"list-based Age uses the first member (§5.1)", t0, t0, at(10), []string{"Date", hd(t0), "Age", "30, 90"}, 40},
		{"several Age lines use the first", t0, t0, at(10), []string{"Date", hd(t0), "Age", "30", "Age", "90"}, 40},
		{"fractions of a second round down", t0, t0, t0.Add(10900 * time.Millisecond), []string{"Date", hd(t0)}, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Response{Status: 200, Header: hdr(append(tc.kv, "Cache-Control", "max-age="+strconv.Itoa(lifetime))...),
				RequestTime: tc.reqAt, ResponseTime: tc.respAt}
			s := NewIdleClient(private(tc.now)).Next(get(), []Pair{storedGET("p", r)})
			check(t, s, want{state: "FromCache", header: map[string]string{"Age": strconv.FormatInt(tc.age, 10)}})
			fc := s.(FromCache)
			// ttl rounds toward negative infinity; the ages here are whole
			// seconds except in the rounding case.
			wantTTL := lifetime - tc.age
			if tc.now.Sub(tc.respAt)%time.Second != 0 {
				wantTTL--
			}
			if fc.Serve.CacheStatus.TTL != wantTTL {
				t.Errorf("ttl = %d, want %d", fc.Serve.CacheStatus.TTL, wantTTL)
			}
		})
	}
}

// RFC 9110 §6.6.1 and RFC 9111 §4.2.3: a response without Date is never fresh
// for ever: its Expires counts from the time it was received.
func TestAge_RFC9111_4_2_3_MissingDateNotFreshForEver(t *testing.T) {
	r := rsp(http.StatusOK, t0, "Expires", hd(at(300)))
	ttl, _ := ttlOf(t, private(at(10)), r)
	if ttl != 290 {
		t.Errorf("ttl = %d, want 290", ttl)
	}
	_, s := ttlOf(t, private(at(301)), r)
	check(t, s, want{state: "NeedRevalidation", code: "stale"})

	// Stored through CacheMiss, the response gets a Date, with the same result.
	p := storeVia(t, private(t0), "p", get(), r)
	check(t, NewIdleClient(private(at(301))).Next(get(), []Pair{p}), want{state: "NeedRevalidation", code: "stale"})
	check(t, NewIdleClient(private(at(10))).Next(get(), []Pair{p}), want{state: "FromCache", cs: "cellar; hit; ttl=290"})
}

// RFC 9111 §5.1 and §1.2.2: the Age sent is capped at 2147483648.
func TestAge_RFC9111_5_1_AgeCapped(t *testing.T) {
	r := ok200("Cache-Control", "max-age=99999999999", "Age", "99999999999999")
	s := NewIdleClient(private(at(10))).Next(get("Cache-Control", "max-stale"), []Pair{storedGET("p", r)})
	check(t, s, want{state: "FromCache", header: map[string]string{"Age": "2147483648"}})
}

// RFC 9111 §4.2.3: the Age of a stored response is replaced, not copied,
// when it is served.
func TestAge_RFC9111_4_2_3_AgeReplacedWhenServed(t *testing.T) {
	r := ok200("Cache-Control", "max-age=600", "Age", "100")
	p := storeVia(t, private(t0), "p", get(), r)
	if joined(p.Response.Header, "Age") != "100" {
		t.Fatalf("stored Age = %q, want the received 100", joined(p.Response.Header, "Age"))
	}
	s := NewIdleClient(private(at(50))).Next(get(), []Pair{p})
	check(t, s, want{state: "FromCache", header: map[string]string{"Age": "150"}, cs: "cellar; hit; ttl=450"})
	fc := s.(FromCache)
	if h := fc.Serve.Header(); len(h["Age"]) != 1 {
		t.Errorf("Age lines = %q, want one", h["Age"])
	}
}

// TestApparentAgeWholeSeconds_RFC9111_4_2_3: an HTTP-date has a resolution
// of one second (RFC 9110 §5.6.7), so apparent_age compares response_time
// with it second to second. A max-age=1 response received 0.9 s into the
// second its Date names is fresh for the rest of that second and most of
// the next, as it is for a cache counting in whole seconds; one received in
// a later second is as old as the whole seconds between them.
func TestApparentAgeWholeSeconds_RFC9111_4_2_3(t *testing.T) {
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	cases := []struct {
		name      string
		date      time.Time // the Date field (whole seconds)
		respAt    time.Time // request_time = response_time
		now       time.Time
		maxAge    int
		fresh     bool
		wantAgeAt int64
	}{
		{"received late in the Date's second, 0.5 s later", t0, ms(900), ms(1400), 1, true, 0},
		{"received late in the Date's second, 1 s later", t0, ms(900), ms(1900), 1, false, 0},
		{"received in the next second", t0, ms(1200), ms(1200), 1, false, 0},
		{"received in the next second, max-age=2", t0, ms(1200), ms(1700), 2, true, 1},
		{"received 10 s after its Date", t0, ms(10100), ms(10100), 10, false, 0},
		{"received 10 s after its Date, max-age=11", t0, ms(10100), ms(10600), 11, true, 10},
		{"Date in the future gives no negative apparent age", at(5), ms(900), ms(1400), 1, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Response{Status: 200, Header: hdr("Date", hd(tc.date), "Cache-Control", "max-age="+strconv.Itoa(tc.maxAge)),
				RequestTime: tc.respAt, ResponseTime: tc.respAt}
			s := NewIdleClient(private(tc.now)).Next(get(), []Pair{storedGET("p", r)})
			fc, ok := s.(FromCache)
			if ok != tc.fresh {
				t.Fatalf("served from cache = %v, want %v (state %T)", ok, tc.fresh, s)
			}
			if ok && fc.Serve.Header().Get("Age") != strconv.FormatInt(tc.wantAgeAt, 10) {
				t.Errorf("Age = %q, want %d", fc.Serve.Header().Get("Age"), tc.wantAgeAt)
			}
		})
	}
}
