package spec

import "time"

// freshness is a response's freshness lifetime and current age, and the rule
// that gave the lifetime; date is the response's date_value (dateOf), kept
// so that a lookup parses Date once.
type freshness struct {
	lifetime  time.Duration
	age       time.Duration
	heuristic bool
	why       Reason
	date      time.Time
}

func (f freshness) fresh() bool { return f.lifetime > f.age }

// ttl is the remaining freshness, negative when stale (RFC 9211 §2.4).
func (f freshness) ttl() time.Duration { return f.lifetime - f.age }

// ttlSeconds rounds ttl toward negative infinity so that a response stale by
// a fraction of a second does not claim ttl=0.
func (f freshness) ttlSeconds() int64 {
	t := f.ttl()
	s := int64(t / time.Second)
	if t < 0 && t%time.Second != 0 {
		s--
	}
	return s
}

// staleness is how long past its lifetime the response is (zero if fresh).
func (f freshness) staleness() time.Duration { return max(0, f.age-f.lifetime) }

// computeFreshness implements RFC 9111 §4.2.1 (with §4.2.2 heuristics and
// §4.2.3 age) for response r under policy p at time now.
func computeFreshness(o *Options, r *Response, p *policy, now time.Time) freshness {
	date := dateOf(r)
	f := freshness{age: currentAge(r, date, now), date: date}
	f.lifetime, f.heuristic, f.why = lifetime(o, r, p, date)
	return f
}

// lifetime implements the precedence of RFC 9111 §4.2.1: s-maxage in a
// shared cache, then max-age, then Expires − Date, then a heuristic.
// Invalid values make the response stale, as §4.2.1 encourages.
func lifetime(o *Options, r *Response, p *policy, date time.Time) (time.Duration, bool, Reason) {
	cc := &p.cc
	if o.Shared && cc.sMaxAge.set {
		if cc.sMaxAge.invalid {
			return 0, false, reason(ReasonInvalidSMaxage, "RFC 9111 §4.2.1", "s-maxage has an invalid value, so the response is treated as stale")
		}
		return secs(cc.sMaxAge.secs), false, reason(ReasonSMaxage, "RFC 9111 §5.2.2.10", "s-maxage gives the freshness lifetime in a shared cache")
	}
	if cc.maxAge.set {
		if cc.maxAge.invalid {
			return 0, false, reason(ReasonInvalidMaxAge, "RFC 9111 §4.2.1", "max-age has an invalid value, so the response is treated as stale")
		}
		return secs(cc.maxAge.secs), false, reason(ReasonMaxAge, "RFC 9111 §5.2.2.1", "max-age gives the freshness lifetime")
	}
	if v := r.Header["Expires"]; len(v) > 0 && !p.targeted {
		exp, ok := parseHTTPDate(v[0])
		if !ok {
			return 0, false, reason(ReasonInvalidExpires, "RFC 9111 §5.3", "Expires is not a valid HTTP-date, so the response is already expired")
		}
		return max(0, exp.Sub(date)), false, reason(ReasonExpires, "RFC 9111 §4.2.1", "Expires minus Date gives the freshness lifetime")
	}
	return heuristicLifetime(o, r, p, date)
}

func secs(s int64) time.Duration { return time.Duration(s) * time.Second }

// heuristicLifetime implements RFC 9111 §4.2.2 for responses without
// explicit expiration: a fraction of the time since Last-Modified, for
// heuristically cacheable statuses or responses marked public.
func heuristicLifetime(o *Options, r *Response, p *policy, date time.Time) (time.Duration, bool, Reason) {
	frac := o.heuristicFraction()
	if frac < 0 {
		return 0, false, reason(ReasonNoExplicitFreshness, "RFC 9111 §4.2.2", "no explicit expiration and heuristic freshness is turned off")
	}
	if !heuristicallyCacheable(r.Status) && !p.cc.public {
		return 0, false, reason(ReasonNoExplicitFreshness, "RFC 9111 §4.2.2", "no explicit expiration and the status is not heuristically cacheable")
	}
	lm, ok := headerTime(r.Header, "Last-Modified")
	if !ok {
		return 0, false, reason(ReasonNoExplicitFreshness, "RFC 9111 §4.2.2", "no explicit expiration and no Last-Modified to base a heuristic on")
	}
	since := date.Sub(lm)
	if since <= 0 {
		return 0, false, reason(ReasonNoExplicitFreshness, "RFC 9111 §4.2.2", "Last-Modified is not before Date, so the heuristic gives no freshness")
	}
	d := min(time.Duration(float64(since)*frac), o.heuristicCap())
	return d, true, reason(ReasonHeuristic, "RFC 9111 §4.2.2", "no explicit expiration: a fraction of the time since Last-Modified")
}

// heuristicallyCacheable reports whether RFC 9110 §15.1 defines status as
// heuristically cacheable.
func heuristicallyCacheable(status int) bool {
	switch status {
	case 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}
