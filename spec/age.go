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
	t.ApparentAge = max(0, r.ResponseTime.Sub(t.DateValue))
	t.ResponseDelay = max(0, r.ResponseTime.Sub(r.RequestTime))
	t.CorrectedAgeValue = t.AgeField + t.ResponseDelay
	t.CorrectedInitial = max(t.ApparentAge, t.CorrectedAgeValue)
	t.ResidentTime = max(0, now.Sub(r.ResponseTime))
	return t
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
