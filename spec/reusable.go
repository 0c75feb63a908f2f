package spec

import "time"

// reusableLater decides whether a response that §3 allows storing could
// ever be used again: served fresh, validated, or served stale. RFC 9111
// §3 lets a cache store a response; it never asks it to store one it can
// make no use of. A stored response is used only
//
//   - while fresh (§4.2): ttl is its remaining freshness (but an
//     unqualified no-cache, §5.2.2.4, makes every use wait for a
//     validation);
//   - after a validation (§4.3.1), which needs a validator (ETag or
//     Last-Modified): without one the "validation" is an unconditional
//     request whose answer replaces it;
//   - stale, where the origin permits it (RFC 5861 stale-while-revalidate,
//     stale-if-error), unless a directive forbids serving it stale
//     (staleProhibited).
//
// The cache's own stale budget for a disconnected origin (§4.2.4,
// Options.StaleBudget) does not count: it is on by default, and counting it
// would store every dynamic page (no freshness, no validator) for the
// budget's length on the chance that the origin goes down. A response the
// origin never gave a moment of freshness is not one to serve in its
// absence.
//
// A response with none of these is written and dropped at once (its stale
// horizon is the moment it arrived): every dynamic page would cost a store
// write. Such a response is not stored, with the reason "not-reusable".
// A client's max-stale (§5.2.1.1) does not count: the store keeps an entry
// only until its horizon (StoreAndUse.Expires), which no client's request
// can extend, so max-stale alone never makes such a response usable.
//
// ttl is the remaining freshness (lifetime minus age) when the caller has a
// clock, else the lifetime.
func reusableLater(o *Options, resp *Response, pol *policy, ttl time.Duration) (Reason, bool) {
	if hasValidator(resp.Header) || staleWindow(o, pol) > 0 {
		return Reason{}, true
	}
	// An unqualified no-cache (§5.2.2.4) makes every use wait for a
	// validation, which without a validator brings a new response.
	if ttl > 0 && !(pol.cc.noCache && pol.cc.noCacheFields == "") {
		return Reason{}, true
	}
	return reason(ReasonNotReusable, "RFC 9111 §3, §4.2.4",
		"no freshness left, no validator (ETag, Last-Modified) and no stale window: the cache could neither serve nor validate it later"), false
}

// staleWindow is the longest time past its freshness that the origin lets
// a response be served stale (the RFC 5861 windows), or zero when a
// directive forbids serving it stale.
func staleWindow(o *Options, pol *policy) time.Duration {
	if _, prohibited := staleProhibited(o, &pol.cc); prohibited {
		return 0
	}
	var window time.Duration
	if d := pol.cc.staleWhileRevalidate; d.set && !d.invalid {
		window = max(window, secs(d.secs))
	}
	if d := pol.cc.staleIfError; d.set && !d.invalid {
		window = max(window, secs(d.secs))
	}
	return window
}
