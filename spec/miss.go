package spec

import (
	"net/http"
	"time"
)

// CacheMiss means no stored response can be used, even with validation: the
// request goes upstream and the response is judged for storage (RFC 9111
// §3). Send Forward (unless Received says the response is already at hand),
// then call Next with the response.
//
// A CacheMiss comes from one of three places, which Received and Reason.Code
// tell apart:
//
//   - IdleClient.Next or PartialUpdate.Next: Received is false; send
//     Forward, the client's request (or with Completes, a request for the
//     missing range of a stored part, §3.4).
//   - NeedRevalidation.Next with Received true: the validation's response
//     is the answer and nothing is sent. It is either a full response
//     (Reason.Code "validation-full-response", §4.3.3), judged for storage
//     and answering the client's own conditionals, or a 304 carrying one of
//     the client's entity tags ("304-client-tag", RFC 9110 §15.4.5), passed
//     on to the client unstored.
//   - NeedRevalidation.Next with Received false ("304-unmatched", §4.3.4):
//     the 304 identified no stored response, so Forward is the request
//     again without the cache's conditionals. This miss still holds the
//     revalidation: UpstreamFailedWith and StaleOnError may serve its stale
//     response when the second request fails.
//
// The zero CacheMiss was not made by the machine: its Next passes the
// response on unstored, with ReasonInvalidState.
type CacheMiss struct {
	o   *Options
	req Request // the client's request
	// Forward is the request to send upstream. It is the client's request,
	// with the client's conditionals and Range left in place: a cache with no
	// stored response must not evaluate them itself (§4.3.2).
	Forward Request
	// Received is true when the upstream response is already at hand (the
	// validation's response, see above): pass that response to Next
	// without sending anything.
	Received bool
	// Completes, when not nil, means Forward asks only for this missing
	// range of a stored partial response (§3.4): store the response if
	// Completed says it is that part, then look up again (the parts
	// combine); otherwise send WithoutCompletion's request instead.
	Completes     *ByteRange
	completesSize int64
	completesTag  entityTag
	completesPart http.Header // the stored part's header
	// evalClient is set when the client's conditionals were replaced by the
	// cache's own, so the cache must answer them itself.
	evalClient bool
	// rv is the revalidation this miss continues when it sends the request
	// again after a 304 that identified nothing (§4.3.4): its stale
	// response may still be served if the second request fails.
	rv     *NeedRevalidation
	rq     directives // the request's directives, parsed once by the lookup
	fwd    Fwd
	Reason Reason
}

// UpstreamFailed is called when Forward got no response at all. When this
// miss sends a revalidation's request again (after a 304 that identified
// no stored response, §4.3.4), the revalidation still holds: it returns
// the stale response to serve as NeedRevalidation.UpstreamFailed does.
// Otherwise ok is false and the caller reports the failure.
func (s CacheMiss) UpstreamFailed() (NeedToBeUpdated, bool) {
	return s.UpstreamFailedWith(FailureDisconnected)
}

// UpstreamFailedWith is UpstreamFailed for a failure of kind f: the
// revalidation's NeedRevalidation.UpstreamFailedWith (RFC 9111 §4.2.4).
func (s CacheMiss) UpstreamFailedWith(f Failure) (NeedToBeUpdated, bool) {
	if s.rv == nil {
		return NeedToBeUpdated{}, false
	}
	return s.rv.UpstreamFailedWith(f)
}

// StaleOnError is called with the response to Forward before Next. When
// this miss sends a revalidation's request again (§4.3.4) and resp is an
// error for which the revalidation may serve its stale response
// (stale-if-error, RFC 5861 §4), it returns that response to serve instead
// of resp; otherwise ok is false and resp goes to Next.
func (s CacheMiss) StaleOnError(resp Response) (NeedToBeUpdated, bool) {
	if s.rv == nil {
		return NeedToBeUpdated{}, false
	}
	return s.rv.errorStale(resp)
}

func newMiss(o *Options, req Request, rq *directives, fwd Fwd, why Reason) CacheMiss {
	return CacheMiss{o: o, req: req, Forward: req, rq: *rq, fwd: fwd, Reason: why}
}

// StoreAndUse means the response may be stored (RFC 9111 §3): store Pair
// (its header already cleaned for storage) under Key with Variant, and serve
// the response as Serve says while its body is written.
type StoreAndUse struct {
	// Pair is what to store. Its ID is empty: the store assigns one.
	Pair Pair
	// Key is the primary key; Variant the secondary key (§4.1): storing
	// replaces the stored pair with the same Key and Variant.
	Key, Variant string
	// Expires is the stale horizon: past it the stored response cannot be
	// served nor usefully validated, and the store may drop it.
	Expires time.Time
	// ExpectedLength is the body length the response announced
	// (Content-Length, or for a 206 its Content-Range), or -1. A body that ends short of it, or any body that
	// ends early, is incomplete and must not be stored (§3.3).
	ExpectedLength int64
	Serve          Serve
	Reason         Reason
}

// CouldNotBeStored means the response must not (or need not) be stored:
// serve it as Serve says. Reason says why, with its RFC section.
type CouldNotBeStored struct {
	Serve  Serve
	Reason Reason
	// ByRequest is true when the request, not the response, kept it out of
	// storage (its content, Cookie, Authorization, no-store or method):
	// another request for the key may well get a storable response, so a
	// caller should not conclude that the key's responses cannot be stored.
	ByRequest bool
}

// Next judges resp, the upstream response to Forward, for storage (§3).
func (s CacheMiss) Next(resp Response) MissNext {
	o := s.o
	if o == nil {
		return invalidMiss(&resp)
	}
	pol := responsePolicy(o, resp.Header)
	serve := upstreamServe(&s, &resp)
	why, ok := storable(o, s.req, &s.rq, &resp, &pol)
	if !ok {
		serve.CacheStatus.Detail = string(why.Code)
		return CouldNotBeStored{Serve: serve, Reason: why, ByRequest: byRequest(why.Code)}
	}
	now := o.now()
	stored := cleanForStorage(o, &s.req, &resp, &pol)
	f := computeFreshness(o, &stored.Response, &pol, now)
	if why, ok := reusableLater(o, &stored.Response, &pol, f.ttl()); !ok {
		serve.CacheStatus.Detail = string(why.Code)
		return CouldNotBeStored{Serve: serve, Reason: why}
	}
	serve.CacheStatus.Stored = true
	serve.CacheStatus.TTL, serve.CacheStatus.HasTTL = f.ttlSeconds(), true
	length := int64(-1)
	if n, ok := contentLength(resp.Header); ok && s.Forward.Method != http.MethodHead {
		length = n
	} else if r, _, ok := partRange(resp.Header); ok && resp.Status == http.StatusPartialContent {
		// §3.3: a 206 without Content-Length is complete only when its
		// body holds the whole range its Content-Range announces.
		length = r.Length
	}
	return StoreAndUse{
		Pair:           stored,
		Key:            Key(s.req),
		Variant:        variantKey(&s.req, resp.Header) + partialSuffix(&resp),
		Expires:        horizon(o, &stored.Response, &pol, &f, now),
		ExpectedLength: length,
		Serve:          serve,
		Reason:         why,
	}
}

// byRequest reports whether the storable Reason code blames the request.
func byRequest(code ReasonCode) bool {
	switch code {
	case ReasonMethodNotCacheable, ReasonHeadResponse, ReasonRequestContent, ReasonRequestNoStore, ReasonAuthorization, ReasonCookieHeuristic, ReasonAnswersRequestField:
		return true
	}
	return false
}

// upstreamServe is what to send the client for an upstream response: the
// response itself, or a 304 when the cache replaced the client's
// conditionals with its own and the new response satisfies them (§4.3.2).
// The fields Connection names are left out when the header is written.
func upstreamServe(s *CacheMiss, resp *Response) Serve {
	sv := Serve{Status: resp.Status, base: resp.Header, conn: true}
	if s.evalClient {
		applyClient(&sv, &s.req, resp.Header, dateOf(resp), false)
	}
	sv.CacheStatus = CacheStatus{Fwd: s.fwd, FwdStatus: resp.Status}
	return sv
}

// horizon is when a stored response stops being useful: the end of its
// freshness plus the longest stale window it may be served in (RFC 5861
// stale-while-revalidate and stale-if-error, Options.StaleBudget), plus,
// when it has validators, Options.ValidatorRetention for revalidation.
func horizon(o *Options, r *Response, pol *policy, f *freshness, now time.Time) time.Time {
	end := now.Add(max(0, f.ttl()))
	var window time.Duration
	if _, prohibited := staleProhibited(o, &pol.cc); !prohibited {
		window = max(window, o.staleBudget())
		if d := pol.cc.staleWhileRevalidate; d.set && !d.invalid {
			window = max(window, secs(d.secs))
		}
		if d := pol.cc.staleIfError; d.set && !d.invalid {
			window = max(window, secs(d.secs))
		}
	}
	if hasValidator(r.Header) {
		window += o.validatorRetention()
	}
	return end.Add(window)
}

func hasValidator(h http.Header) bool {
	return len(h["Etag"]) > 0 || len(h["Last-Modified"]) > 0
}

// partialSuffix keeps stored 206 responses of different ranges apart.
func partialSuffix(resp *Response) string {
	if resp.Status != http.StatusPartialContent {
		return ""
	}
	return "\x00" + first(resp.Header["Content-Range"])
}
