package spec

import "net/http"

// Failure says how an upstream exchange ended without a response, so that
// the core can decide what a cache cut off from the origin may do
// (RFC 9111 §4.2.4).
type Failure int

const (
	// FailureDisconnected: the connection was refused, reset or closed
	// before a response arrived, or the origin's name did not resolve. The
	// cache is disconnected (§4.2.4): the stale budget applies.
	FailureDisconnected Failure = iota
	// FailureTimeout: no response arrived in time. A disconnection too,
	// answered 504 (RFC 9110 §15.6.5) when nothing stored may be served.
	FailureTimeout
	// FailureOther: the upstream failed some other way (an invalid
	// response, a TLS failure, an in-process handler that panicked). The
	// origin was reached, so the stale budget does not apply;
	// stale-if-error still does (RFC 5861 §4).
	FailureOther
)

func (f Failure) disconnected() bool { return f == FailureDisconnected || f == FailureTimeout }

// UpstreamFailedWith is called when the validation request got no response
// at all, f saying how it failed. It returns the stale response to serve
// when stale-if-error (RFC 5861 §4) allows it, or, while disconnected
// (§4.2.4), the stale budget (Options.StaleBudget); else ok=false, and
// UpstreamError says what to answer instead.
func (s NeedRevalidation) UpstreamFailedWith(f Failure) (NeedToBeUpdated, bool) {
	if !s.valid() {
		return NeedToBeUpdated{}, false
	}
	return s.staleOnError(0, f.disconnected())
}

// UpstreamError is the response to generate when the validation request got
// no response and UpstreamFailedWith served nothing stale. A disconnected
// cache holding a response it may not serve stale "MUST generate an error
// response"; "the generated status code SHOULD be 504 (Gateway Timeout)"
// (§5.2.2.2, and §4.2.4 for the other directives and the budget). A
// failure other than a disconnection is the origin's: 502 (RFC 9110
// §15.6.3).
func (s NeedRevalidation) UpstreamError(f Failure) FromCache {
	if !s.valid() {
		return invalidState(s.fwd)
	}
	if !f.disconnected() {
		return UpstreamError(f)
	}
	p := &s.Candidates[s.Selected]
	pol := responsePolicy(s.o, p.Response.Header)
	why := reason(ReasonStaleBudgetExceeded, "RFC 9111 §4.2.4",
		"the origin cannot be reached and the stored response is staler than the stale budget allows, so the cache answers 504")
	if forbid, prohibited := staleProhibited(s.o, &pol.cc); prohibited {
		why = reason(ReasonStaleForbidden, forbid.Section,
			"the origin cannot be reached and "+forbid.Text+", so the cache answers 504")
	} else if rq := &s.rq; rq.refusesStale() {
		f := computeFreshness(s.o, &p.Response, &pol, s.o.now())
		if !rq.acceptsStaleness(f.staleness()) {
			why = reason(ReasonStaleRefused, rq.refusalSection(),
				"the origin cannot be reached and the request's max-age or min-fresh refuses a stale response, so the cache answers 504")
		}
	}
	return generated(http.StatusGatewayTimeout, s.fwd, why)
}

// UpstreamError is the response to generate when a request sent upstream
// for a miss got no response: 504 after a timeout (RFC 9110 §15.6.5), else
// 502 (§15.6.3).
func UpstreamError(f Failure) FromCache {
	switch f {
	case FailureTimeout:
		return generated(http.StatusGatewayTimeout, FwdMiss, reason(ReasonUpstreamTimeout, "RFC 9110 §15.6.5",
			"the origin did not answer in time"))
	case FailureDisconnected:
		return generated(http.StatusBadGateway, FwdMiss, reason(ReasonUpstreamUnreachable, "RFC 9110 §15.6.3",
			"the origin cannot be reached"))
	case FailureOther:
	}
	return generated(http.StatusBadGateway, FwdMiss, reason(ReasonUpstreamError, "RFC 9110 §15.6.3",
		"the origin gave no valid response"))
}

// generated is an error response the cache makes itself, without content.
func generated(status int, fwd Fwd, why Reason) FromCache {
	s := Serve{Status: status, Body: BodyNone}
	s.setField("Content-Length", "0")
	s.setField("Cache-Control", "no-store")
	s.CacheStatus = CacheStatus{Fwd: fwd, Detail: string(why.Code)}
	return FromCache{Serve: s, Reason: why}
}
