package spec

import (
	"net/http"
	"strconv"
	"time"
)

// Explanation says what a cache would do with one response, and why, each
// conclusion with the Reason (and RFC section) the core used. It is what
// `cellar explain` prints; it runs the same code as the state machine.
type Explanation struct {
	Shared   bool
	Storable bool
	Store    Reason // why it may or may not be stored (§3)
	// Policy is the field whose directives govern the response:
	// Cache-Control, or a targeted field in a shared cache (RFC 9213).
	Policy string
	// Lifetime is the freshness lifetime (§4.2.1) and LifetimeReason the
	// rule that gave it; Heuristic is true for §4.2.2 lifetimes.
	Lifetime       time.Duration
	LifetimeReason Reason
	Heuristic      bool
	// HeuristicFraction and HeuristicCap are the §4.2.2 parameters the
	// options gave, so that a heuristic lifetime can be shown as arithmetic.
	HeuristicFraction float64
	HeuristicCap      time.Duration
	// Age is the current age (§4.2.3) at the explanation's time, from the
	// terms of AgeTerms.
	Age      time.Duration
	AgeTerms AgeTerms
	// TTL is Lifetime − Age: the remaining freshness, negative when stale.
	TTL time.Duration
	// MustValidate, when set, says why every use needs validation.
	MustValidate *Reason
	// StaleProhibited, when set, says why it may never be served stale;
	// otherwise StaleWhileRevalidate and StaleIfError are the RFC 5861
	// windows past the lifetime in which it may be.
	StaleProhibited      *Reason
	StaleWhileRevalidate time.Duration
	StaleIfError         time.Duration
	// Disconnected says what the cache does with the response, once stale,
	// when the origin cannot be reached (RFC 9111 §4.2.4): serve it stale
	// for up to StaleBudget past its lifetime (Code "stale-budget"), or
	// answer 504 (RFC 9111 §5.2.2.2) for the reason given.
	Disconnected Reason
	StaleBudget  time.Duration
	// RequestRefusesStale, when set, says why the request (its max-age or
	// min-fresh without a max-stale, §5.2.1.1, §5.2.1.3) gets no stale
	// response, stale-while-revalidate and stale-if-error included.
	RequestRefusesStale *Reason
	// Ranges says how Range requests are answered from the response
	// (RFC 9110 §14.2; RFC 9111 §3.3, §3.4).
	Ranges Reason
	// Validators are the fields a revalidation would send (§4.3.1), as
	// "If-None-Match: ..." and "If-Modified-Since: ...".
	Validators []string
	// Vary lists the request fields that select this variant (§4.1), and
	// VariantKey is the secondary key the request gives.
	Vary       []string
	VariantKey string
	// Expires is the stale horizon a store would keep it until.
	Expires time.Time
}

// Explain explains resp, received for req, under opts at opts' clock time.
func Explain(req Request, resp Response, opts Options) Explanation {
	// The options and the freshness as a lookup has them.
	o := canonicalTargeted(&opts)
	now := o.now()
	if req.Method == "" {
		req.Method = http.MethodGet
	}
	pol := responsePolicy(o, resp.Header)
	f := computeFreshness(o, &resp, &pol, now)
	e := Explanation{
		Shared: o.Shared, Policy: pol.source,
		Lifetime: f.lifetime, LifetimeReason: f.why, Heuristic: f.heuristic,
		Age: f.age, AgeTerms: ageTermsAt(&resp, f.date, now), TTL: f.ttl(),
		VariantKey:        variantKey(&req, resp.Header),
		HeuristicFraction: o.heuristicFraction(), HeuristicCap: o.heuristicCap(),
	}
	rq := requestPolicy(o, req.Header)
	e.Store, e.Storable = storable(o, req, &rq, &resp, &pol)
	if !o.cacheableMethod(req.Method) && !safeMethod(req.Method) {
		// A POST response kept for later GETs (RFC 9110 §9.3.3).
		if sa, ok := newInvalidate(o, req).Store(resp); ok {
			e.Store, e.Storable = sa.Reason, true
			e.VariantKey = sa.Variant
		}
	}
	if e.Storable {
		if why, ok := reusableLater(o, &resp, &pol, e.TTL); !ok {
			e.Store, e.Storable = why, false
		}
	}
	if why, must := mustValidate(&directives{}, &pol.cc, &f); must {
		e.MustValidate = &why
	}
	if why, prohibited := staleProhibited(o, &pol.cc); prohibited {
		e.StaleProhibited = &why
	} else {
		if d := pol.cc.staleWhileRevalidate; d.set && !d.invalid {
			e.StaleWhileRevalidate = secs(d.secs)
		}
		if d := pol.cc.staleIfError; d.set && !d.invalid {
			e.StaleIfError = secs(d.secs)
		}
	}
	e.Disconnected, e.StaleBudget = explainDisconnected(o, &pol.cc)
	if rq.refusesStale() && !rq.maxStaleAny && !rq.maxStale.set {
		why := reason(ReasonStaleRefused, rq.refusalSection(), "the request's max-age or min-fresh refuses a stale response, stale-while-revalidate and stale-if-error included, as no max-stale accepts one")
		e.RequestRefusesStale = &why
	}
	e.Ranges = explainRanges(&resp)
	e.Validators = validatorLines(req, resp)
	e.Vary = varyNames(resp.Header["Vary"])
	if e.Storable {
		e.Expires = horizon(o, &resp, &pol, &f, now)
	}
	return e
}

// validatorLines are the validator fields of the request conditionalRequest
// builds to revalidate resp alone (§4.3.1), for a request without
// conditionals of its own: If-None-Match with its entity tag,
// If-Modified-Since with its Last-Modified.
func validatorLines(req Request, resp Response) []string {
	req.Header = http.Header{}
	fwd, _, _ := conditionalRequest(req, []Pair{{Request: req, Response: resp}}, 0)
	var v []string
	for _, k := range [...]string{"If-None-Match", "If-Modified-Since"} {
		for _, line := range fwd.Header[k] {
			v = append(v, k+": "+line)
		}
	}
	return v
}

// varyNames lists the members of Vary as written.
func varyNames(vary []string) []string {
	n := 0
	it := fieldListIter{sep: ',', quotes: true}
	for _, ok := it.next(vary); ok; _, ok = it.next(vary) {
		n++
	}
	if n == 0 {
		return nil
	}
	names := make([]string, 0, n)
	it = fieldListIter{sep: ',', quotes: true}
	for m, ok := it.next(vary); ok; m, ok = it.next(vary) {
		names = append(names, m)
	}
	return names
}

// explainDisconnected is what UpstreamFailedWith and UpstreamError decide
// for a stale response when the cache is disconnected (§4.2.4, §5.2.2.2).
func explainDisconnected(o *Options, cc *directives) (Reason, time.Duration) {
	if forbid, prohibited := staleProhibited(o, cc); prohibited {
		return reason(ReasonStaleForbidden, forbid.Section, forbid.Text+": when the origin cannot be reached, the cache answers 504"), 0
	}
	budget := o.staleBudget()
	if budget <= 0 {
		return reason(ReasonStaleBudgetExceeded, "RFC 9111 §4.2.4", "the stale budget is off: when the origin cannot be reached, the cache answers 504 unless stale-if-error allows serving it"), 0
	}
	return reason(ReasonStaleBudget, "RFC 9111 §4.2.4", "when the origin cannot be reached (refused, reset, closed or timed out), it is served stale up to the stale budget past its lifetime; stale-if-error applies to 500, 502, 503 and 504 only (RFC 5861 §4)"), budget
}

// explainRanges says how the response answers Range requests.
func explainRanges(r *Response) Reason {
	if r.Status == http.StatusPartialContent {
		have, _, ok := partRange(r.Header)
		if !ok {
			return reason(ReasonPartialUnusable, "RFC 9111 §3.3", "a 206 without a single byte range of known complete length answers no later request")
		}
		text := "a stored part holding bytes " + strconv.FormatInt(have.Start, 10) + "-" + strconv.FormatInt(have.Start+have.Length-1, 10) + ": ranges within it are served from it, and conditionals answered 304 (§4.3.2)"
		if t, ok := parseETag(first(r.Header["Etag"])); ok && !t.weak {
			text += "; a range it starts is completed by asking the origin for the rest alone, then combined (§3.4)"
		}
		return reason(ReasonPartial, "RFC 9111 §3.3", text)
	}
	if _, ok := contentLength(r.Header); !ok {
		return reason(ReasonRangesLengthUnknown, "RFC 9110 §14.2", "no Content-Length: Range requests get the whole response until its length is known")
	}
	return reason(ReasonRanges, "RFC 9110 §14.2", "Range requests are answered from it: overlapping and adjacent ranges are coalesced, and more than 16 parts get the whole representation (§17.15)")
}
