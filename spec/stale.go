package spec

import (
	"net/http"
	"time"
)

// Serving stale responses (RFC 9111 §4.2.4): when a stale response may be
// served without validation (max-stale, stale-while-revalidate), which
// directives forbid it, and what is served stale when the origin fails
// (stale-if-error, RFC 5861 §4, and the stale budget of a disconnected
// cache). The answers of a cache that cannot serve stale are in
// unreachable.go.

// staleAllowed reports whether a stale response may be served without
// validation (RFC 9111 §4.2.4): when no directive prohibits it and either the
// request's max-stale (§5.2.1.2) accepts the staleness or the response's
// stale-while-revalidate (RFC 5861 §3) window still covers it and the
// request's max-age or min-fresh does not refuse stale responses
// (§5.2.1.1, §5.2.1.3).
func staleAllowed(o *Options, rq, cc *directives, f *freshness) (Reason, bool) {
	if _, prohibited := staleProhibited(o, cc); prohibited {
		return Reason{}, false
	}
	stale := f.staleness()
	if rq.acceptsStaleness(stale) {
		return reason(ReasonMaxStale, "RFC 9111 §5.2.1.2", "the request's max-stale accepts this much staleness"), true
	}
	if rq.refusesStale() {
		// §5.2.1.1, §5.2.1.3: the client does not wish a stale response,
		// not even one being refreshed (RFC 5861 §3).
		return Reason{}, false
	}
	if cc.staleWhileRevalidate.set && !cc.staleWhileRevalidate.invalid && stale <= secs(cc.staleWhileRevalidate.secs) {
		return reason(ReasonStaleWhileRevalidate, "RFC 5861 §3", "stale-while-revalidate allows serving it stale while it is refreshed in the background"), true
	}
	return Reason{}, false
}

// staleProhibited reports why a stale response must not be served without
// validation (RFC 9111 §4.2.4), or ok=false when it may be.
func staleProhibited(o *Options, cc *directives) (Reason, bool) {
	switch {
	case cc.noCache && cc.noCacheFields == "":
		return reason(ReasonNoCache, "RFC 9111 §5.2.2.4", "no-cache requires validation before every use"), true
	case cc.mustRevalidate:
		return reason(ReasonMustRevalidate, "RFC 9111 §5.2.2.2", "must-revalidate forbids serving it stale"), true
	case o.Shared && cc.proxyRevalidate:
		return reason(ReasonProxyRevalidate, "RFC 9111 §5.2.2.8", "proxy-revalidate forbids a shared cache serving it stale"), true
	case o.Shared && cc.sMaxAge.set:
		return reason(ReasonSMaxage, "RFC 9111 §5.2.2.10", "s-maxage forbids a shared cache serving it stale"), true
	}
	return Reason{}, false
}

// refusesStale reports whether request directives rq refuse a stale
// response: max-age (§5.2.1.1, "unless the max-stale request directive is
// also present, the client does not wish to receive a stale response") and
// min-fresh (§5.2.1.3: it wants a response that will still be fresh).
func (rq *directives) refusesStale() bool { return rq.maxAge.set || rq.minFresh.set }

// acceptsStaleness reports whether the request's max-stale accepts a
// response stale by d (§5.2.1.2).
func (rq *directives) acceptsStaleness(d time.Duration) bool {
	return rq.maxStaleAny || rq.maxStale.set && !rq.maxStale.invalid && d <= secs(rq.maxStale.secs)
}

// refusalSection is the section of the directive refusesStale found.
func (rq *directives) refusalSection() string {
	if rq.maxAge.set {
		return "RFC 9111 §5.2.1.1"
	}
	return "RFC 9111 §5.2.1.3"
}

// errorStale is the stale response to serve instead of resp when resp is an
// error that allows it (RFC 5861 §4).
func (s NeedRevalidation) errorStale(resp Response) (NeedToBeUpdated, bool) {
	if staleIfErrorStatus(resp.Status) {
		return s.staleOnError(resp.Status, false)
	}
	return NeedToBeUpdated{}, false
}

// staleIfErrorStatus reports whether an upstream status is an error that
// stale-if-error answers: "any situation that would result in a 500, 502,
// 503, or 504 HTTP response status code being returned" (RFC 5861 §4).
// Other 5xx (501, 505, 511, ...) are the origin's answer and are passed on.
func staleIfErrorStatus(status int) bool {
	switch status {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// staleOnError serves the selected stale response when the origin failed
// with an error status or no response (status 0), if allowed;
// disconnected says the origin could not be reached at all.
func (s NeedRevalidation) staleOnError(status int, disconnected bool) (NeedToBeUpdated, bool) {
	o := s.o
	p := &s.Candidates[s.Selected]
	pol := responsePolicy(o, p.Response.Header)
	if _, prohibited := staleProhibited(o, &pol.cc); prohibited {
		return NeedToBeUpdated{}, false
	}
	f := computeFreshness(o, &p.Response, &pol, o.now())
	why, ok := staleIfError(o, &s.rq, &pol.cc, f, disconnected)
	if !ok {
		return NeedToBeUpdated{}, false
	}
	sv := storedServe(&s.req, p, &pol, &f)
	sv.CacheStatus = CacheStatus{Fwd: s.fwd, FwdStatus: status, TTL: f.ttlSeconds(), HasTTL: true, Detail: string(why.Code)}
	return NeedToBeUpdated{Pair: p, Serve: sv, Reason: why}, true
}

// staleIfError reports whether the staleness of f is within a
// stale-if-error window of the response or the request (RFC 5861 §4), or
// within the stale budget when the origin could not be reached at all
// (RFC 9111 §4.2.4). A request whose max-age or min-fresh refuses stale
// responses (§5.2.1.1, §5.2.1.3) gets one only through its own
// stale-if-error or a max-stale that accepts it.
func staleIfError(o *Options, rq, cc *directives, f freshness, disconnected bool) (Reason, bool) {
	stale := f.staleness()
	if d := rq.staleIfError; d.set && !d.invalid && stale <= secs(d.secs) {
		return reason(ReasonStaleIfError, "RFC 5861 §4", "the origin failed and the request's stale-if-error allows serving the stored response stale"), true
	}
	if rq.refusesStale() && !rq.acceptsStaleness(stale) {
		return Reason{}, false
	}
	if d := cc.staleIfError; d.set && !d.invalid && stale <= secs(d.secs) {
		return reason(ReasonStaleIfError, "RFC 5861 §4", "the origin failed and stale-if-error allows serving the stored response stale"), true
	}
	if budget := o.staleBudget(); disconnected && budget > 0 && stale <= budget {
		return reason(ReasonStaleBudget, "RFC 9111 §4.2.4", "the origin cannot be reached and the stale budget allows serving the stored response stale"), true
	}
	return Reason{}, false
}

// Stale reports whether s serves a stale response because the origin failed
// (stale-if-error, RFC 5861 §4, or the stale budget, §4.2.4), rather than one
// the origin just confirmed.
func (s NeedToBeUpdated) Stale() bool {
	return s.Reason.Code == ReasonStaleIfError || s.Reason.Code == ReasonStaleBudget
}
