package spec

import (
	"net/http"
	"time"
)

// dateOf returns the Date of a response, or its response_time when Date is
// absent or invalid (RFC 9110 §6.6.1: a recipient with a clock adds Date to a
// response it caches; the time it received the response is the best guess).
func dateOf(r *Response) time.Time {
	if v := r.Header["Date"]; len(v) > 0 {
		if t, ok := parseHTTPDate(v[0]); ok {
			return t
		}
	}
	return r.ResponseTime
}

// AgeTerms are the terms of the age calculation of §4.2.3.
type AgeTerms struct {
	DateValue                           time.Time     // date_value (Date, or response_time without it)
	AgeField                            time.Duration // age_value
	ApparentAge, ResponseDelay          time.Duration
	CorrectedAgeValue, CorrectedInitial time.Duration
	ResidentTime                        time.Duration
}

// currentAge implements the age calculation of RFC 9111 §4.2.3 for r,
// whose date_value is date (dateOf(r)).
func currentAge(r *Response, date, now time.Time) time.Duration {
	t := ageTermsAt(r, date, now)
	return t.CorrectedInitial + t.ResidentTime
}

// ageTermsAt computes the terms of §4.2.3 for r at now, with date_value
// already read (dateOf(r)), so that a lookup parses Date once.
func ageTermsAt(r *Response, date, now time.Time) AgeTerms {
	var t AgeTerms
	if secs, ok := parseAge(r.Header["Age"]); ok {
		t.AgeField = time.Duration(secs) * time.Second
	}
	t.DateValue = date
	t.ApparentAge = apparentAge(r.ResponseTime, date)
	t.ResponseDelay = max(0, r.ResponseTime.Sub(r.RequestTime))
	t.CorrectedAgeValue = t.AgeField + t.ResponseDelay
	t.CorrectedInitial = max(t.ApparentAge, t.CorrectedAgeValue)
	t.ResidentTime = max(0, now.Sub(r.ResponseTime))
	return t
}

// apparentAge is §4.2.3's apparent_age, max(0, response_time − date_value),
// with response_time read at the resolution of date_value: whole seconds.
// An HTTP-date names the second in which the origin generated the response
// (RFC 9110 §5.6.7, §6.6.1), any instant of it. Subtracting the start of
// that second from a clock read to the nanosecond adds, on average, half a
// second to every age (up to a whole one): a response with max-age=1,
// received in the second its Date names, would be fresh for 0.5 s on
// average instead of 1 s, and one received 0.9 s into that second would
// be fresh for 0.1 s. Compared second to second, a response received in
// the second of its Date has an apparent age of 0, and one received later
// the whole seconds between them, which is the unit §4.2.3 counts ages in
// ("the number of seconds since the origin server generated or validated
// the response"). Like any age, it can be off by less than a second either
// way; response_delay still counts in full (corrected_age_value), so a
// slow response is never younger than the time it took to arrive.
func apparentAge(responseTime, date time.Time) time.Duration {
	return max(0, responseTime.Truncate(time.Second).Sub(date))
}

// ageSeconds renders an age as the Age field's delta-seconds (§5.1),
// rounding down and capping at 2^31.
func ageSeconds(d time.Duration) int64 {
	s := int64(d / time.Second)
	if s > deltaSecondsCap {
		return deltaSecondsCap
	}
	return max(0, s)
}

// headerTime parses an HTTP-date field of h; ok is false when it is absent
// or invalid.
func headerTime(h http.Header, k string) (time.Time, bool) {
	v := h[k]
	if len(v) == 0 {
		return time.Time{}, false
	}
	return parseHTTPDate(v[0])
}
