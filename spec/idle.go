package spec

import (
	"net/http"
	"time"
)

// IdleClient is the state of a cache about to answer a request: it wants to
// reuse a stored response when it may (RFC 9111 §4). It holds only options,
// so one IdleClient can serve any number of lookups concurrently. The zero
// IdleClient is a private cache with the default Options, as
// NewIdleClient(Options{}).
type IdleClient struct {
	o *Options
}

// NewIdleClient returns the starting state for lookups with opts
// (Options.Shared chooses the shared or private role).
func NewIdleClient(opts Options) IdleClient {
	return IdleClient{o: canonicalTargeted(&opts)}
}

// Options returns the options this machine runs with.
func (s IdleClient) Options() Options { return *s.opts() }

// opts returns the options, the defaults for the zero IdleClient.
func (s IdleClient) opts() *Options {
	if s.o == nil {
		return &defaultOptions
	}
	return s.o
}

// Next chooses what to do with req given the pairs stored under its key
// (Key(req)); stored may hold pairs of other variants, partial responses and
// pairs already expired.
func (s IdleClient) Next(req Request, stored []Pair) IdleNext {
	o, uncacheable := s.begin(&req)
	if uncacheable != nil {
		return uncacheable
	}
	rq := requestPolicy(o, req.Header)
	return lookupWith(o, &req, &rq, stored, true)
}

// Collapsed is Next for a request that waited for another's upstream
// exchange (a collapsed request, RFC 9111 §4: "a cache can use a response
// that is stored or storable to satisfy multiple requests"): stored holds
// the response that exchange has just brought or freshened. The request's
// no-cache (§5.2.1.4, and Pragma: no-cache, §5.4) and max-age (§5.2.1.1)
// ask that a stored response not be used without a validation on the
// origin; that exchange, made while the request waited, was one, so they
// ask for no other. Every other rule applies as in Next. The caller must
// serve only the response the exchange brought or freshened: this is what
// collapses concurrent client-forced refreshes (a reload, an attacker's
// Pragma: no-cache) of one key into one upstream request.
func (s IdleClient) Collapsed(req Request, stored []Pair) IdleNext {
	o, uncacheable := s.begin(&req)
	if uncacheable != nil {
		return uncacheable
	}
	rq := requestPolicy(o, req.Header)
	look := rq
	look.noCache, look.maxAge = false, deltaSeconds{}
	return withRequestPolicy(lookupWith(o, &req, &look, stored, true), &rq)
}

// begin is the start of Next and Collapsed: the options, and the answer to
// a method whose responses are not stored (nil for one that is). Next
// keeps a frame of its own: one function for both, holding Collapsed's
// second directives, had a frame of 1,624 bytes where Next's is 336 (go1.26,
// go build -gcflags=-S ./spec), and made a hit in a new goroutine about 40%
// slower (BenchmarkFreshHitNewGoroutine: the stack grows).
func (s IdleClient) begin(req *Request) (*Options, IdleNext) {
	o := s.opts()
	if req.Method == "" {
		// net/http's convention, which Key and methodServes follow too: an
		// empty method is GET. Taken as an unknown method it would have
		// invalidated what a GET stored (§4.4).
		req.Method = http.MethodGet
	}
	if !o.cacheableMethod(req.Method) {
		return o, uncacheableMethod(o, *req)
	}
	return o, nil
}

// uncacheableMethod answers a request whose responses are not stored: an
// invalidation for an unsafe method (§4.4), else a miss.
func uncacheableMethod(o *Options, req Request) IdleNext {
	if !safeMethod(req.Method) {
		return newInvalidate(o, req)
	}
	rq := requestPolicy(o, req.Header)
	return newMiss(o, req, &rq, FwdMethod, reason("method-not-cacheable", "RFC 9111 §3",
		"the cache does not store responses to "+req.Method))
}

// safeMethod reports whether m is safe (RFC 9110 §9.2.1). Unsafe and
// unknown methods trigger invalidation (RFC 9111 §4.4).
func safeMethod(m string) bool {
	switch m {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	return false
}

// selection is the outcome of choosing among stored pairs (§4.1). The
// other complete responses that could have been chosen (§4.3.4's initial
// set) are found again by candidates, only when a validation needs them, so
// that a fresh hit allocates nothing here.
type selection struct {
	best    int   // index of the chosen complete response, -1 if none
	partial []int // stored 206 responses selected by Vary
	anyURI  bool  // something was stored for the URI at all
}

// selectStored applies RFC 9111 §4's requirements other than freshness:
// method, Vary, content codings the request accepts (RFC 9110 §12.5.3,
// contentcoding.go), and among several matches the most recent by Date (§4.1)
// of those with a valid Vary field value if any has one (§4.1's last rule:
// a newer response that omits Vary does not displace an older one that
// names its selecting fields; see varyMatches).
func selectStored(req *Request, stored []Pair) selection {
	sel := selection{best: -1, anyURI: len(stored) > 0}
	// Dates are parsed only once a second match needs comparing: the usual
	// lookup has one match, whose Date freshness reads anyway.
	var bestDate time.Time
	dated, bestValid := false, false
	var vc varyLookup
	for i := range stored {
		p := &stored[i]
		if !methodServes(p.Request.Method, req.Method) {
			continue
		}
		match, valid := varyMatches(req, p, &vc)
		if !match || !codingsAccepted(req.Header, p.Response.Header) {
			continue
		}
		if p.Response.Status == http.StatusPartialContent {
			sel.partial = append(sel.partial, i)
			continue
		}
		if sel.best < 0 || valid && !bestValid {
			sel.best, bestValid, dated = i, valid, false
			continue
		}
		if bestValid && !valid {
			continue
		}
		if !dated {
			bestDate, dated = dateOf(&stored[sel.best].Response), true
		}
		if d := dateOf(&p.Response); d.After(bestDate) {
			sel.best, bestDate = i, d
		}
	}
	return sel
}

// candidates returns the complete stored responses that could have been
// chosen for req (§4.3.4's initial set, §4.3.1's validators), and the index
// among them of the selected one.
func (sel selection) candidates(req *Request, stored []Pair) (cands []Pair, selected int) {
	var vc varyLookup
	for i := range stored {
		p := &stored[i]
		if i != sel.best && (p.Response.Status == http.StatusPartialContent ||
			!methodServes(p.Request.Method, req.Method) || !varyMatch(req, p, &vc)) {
			continue
		}
		if i == sel.best {
			selected = len(cands)
		}
		cands = append(cands, *p)
	}
	return cands, selected
}

// varyMatch is varyMatches without validity.
func varyMatch(req *Request, p *Pair, c *varyLookup) bool {
	m, _ := varyMatches(req, p, c)
	return m
}

// methodServes reports whether a response stored for method stored can
// answer a request with method m: the same method, or a GET for a HEAD
// (RFC 9110 §9.3.2).
func methodServes(stored, m string) bool {
	return stored == m || stored == "GET" && m == "HEAD" || stored == "" && (m == "GET" || m == "HEAD")
}

// lookupWith decides how to answer req from stored (RFC 9111 §4), with
// combining of partial responses on or off. The clock is read only when a
// stored response is selected or partial ones may answer.
func lookupWith(o *Options, req *Request, rq *directives, stored []Pair, combine bool) IdleNext {
	sel := selectStored(req, stored)
	if sel.best >= 0 {
		return decide(o, req, rq, stored, &sel, o.now())
	}
	return noneSelected(o, req, rq, stored, &sel, combine)
}

// noneSelected answers when no complete stored response was selected: from
// stored partial responses, or upstream. Out of line, so that the frame of
// a hit does not hold a CacheMiss.
func noneSelected(o *Options, req *Request, rq *directives, stored []Pair, sel *selection, combine bool) IdleNext {
	if len(sel.partial) > 0 {
		if next, ok := fromPartial(o, *req, rq, stored, *sel, o.now(), combine); ok {
			return next
		}
	}
	if rq.onlyIfCached {
		return gatewayTimeout()
	}
	fwd, why := FwdURIMiss, reason("uri-miss", "RFC 9111 §4", "nothing is stored for this URI")
	if len(sel.partial) > 0 {
		fwd, why = FwdPartial, reason("partial", "RFC 9111 §3.3", "the stored partial responses do not cover the request")
	} else if sel.anyURI {
		fwd, why = FwdVaryMiss, reason("vary-miss", "RFC 9111 §4.1", "stored responses exist but none matches this request's Vary fields and content codings (RFC 9110 §12.5.3)")
	}
	return newMiss(o, *req, rq, fwd, why)
}

// decide chooses between serving the selected response, serving it stale
// and validating it (RFC 9111 §4, §4.2.4, §5.2.1). A fresh hit is the hot
// path: the other outcomes are out of line, so that the stack frame of a
// hit stays small (a goroutine's stack shrinks at each GC and grows again
// on the next deep call).
func decide(o *Options, req *Request, rq *directives, stored []Pair, sel *selection, now time.Time) IdleNext {
	p := &stored[sel.best]
	pol := responsePolicy(o, p.Response.Header)
	f := computeFreshness(o, &p.Response, &pol, now)
	if why, must := mustValidate(rq, &pol.cc, &f); must {
		return validateFirst(o, req, rq, stored, sel, &f, why)
	}
	if f.fresh() {
		return freshHit(req, p, &pol, &f)
	}
	return decideStale(o, req, rq, stored, sel, &pol, &f)
}

// freshHit serves the selected fresh response. It is serveStored, written
// out so that the FromCache is built once, in the frame it is boxed from:
// calling serveStored, decide's frame holds the returned FromCache too
// (968 bytes instead of 576 with go1.26, go build -gcflags=-S ./spec).
func freshHit(req *Request, p *Pair, pol *policy, f *freshness) IdleNext {
	fc := FromCache{Pair: p, Reason: reason("fresh", "RFC 9111 §4.2", "the stored response is fresh")}
	initStoredServe(&fc.Serve, req, p, pol, f)
	fc.Serve.CacheStatus = CacheStatus{Hit: true, TTL: f.ttlSeconds(), HasTTL: true}
	return fc
}

// validateFirst answers a request whose directives require validating the
// selected response (mustValidate said why).
func validateFirst(o *Options, req *Request, rq *directives, stored []Pair, sel *selection, f *freshness, why Reason) IdleNext {
	// RFC 9211 §2.2: "request" is for a fresh response the request
	// would not take; a stale one is "stale" whatever else applies.
	fwd := FwdRequest
	if why.Code == ReasonNoCache || !f.fresh() {
		fwd = FwdStale
	}
	if rq.onlyIfCached {
		return gatewayTimeout()
	}
	return newRevalidation(o, *req, rq, stored, *sel, *f, fwd, why)
}

// decideStale answers from a stale selected response: served stale when
// allowed (§4.2.4), with a background revalidation under
// stale-while-revalidate, else validated.
func decideStale(o *Options, req *Request, rq *directives, stored []Pair, sel *selection, pol *policy, f *freshness) IdleNext {
	if why, ok := staleAllowed(o, rq, &pol.cc, f); ok {
		fc := serveStored(o, req, &stored[sel.best], pol, f, string(why.Code), why)
		// No background refresh for a request whose content the key
		// ignores: its response could not be stored anyway.
		if why.Code == ReasonStaleWhileRevalidate && !req.unkeyedContent() {
			rv := newRevalidation(o, *req, rq, stored, *sel, *f, FwdStale, why)
			rv.Forward.Header.Del("Range")
			fc.Refresh = &rv
		}
		return fc
	}
	if rq.onlyIfCached {
		return gatewayTimeout()
	}
	return newRevalidation(o, *req, rq, stored, *sel, *f, FwdStale,
		reason("stale", "RFC 9111 §4.2.4", "the stored response is stale and must be validated"))
}

// mustValidate reports whether directives require validation even of a
// response that might be fresh: no-cache in the response (§5.2.2.4) or the
// request (§5.2.1.4), request max-age (§5.2.1.1) and min-fresh (§5.2.1.3).
// RFC 8246 immutable lets a fresh response skip validation a request's
// max-age would otherwise ask for (a reload), but not no-cache.
func mustValidate(rq, cc *directives, f *freshness) (Reason, bool) {
	switch {
	case cc.noCache && cc.noCacheFields == "":
		return reason("no-cache", "RFC 9111 §5.2.2.4", "the response's no-cache requires validation before each use"), true
	case rq.noCache:
		return reason("request-no-cache", "RFC 9111 §5.2.1.4", "the request's no-cache asks for validation"), true
	case rq.maxAge.set && !(cc.immutable && f.fresh()) &&
		(rq.maxAge.invalid || f.age > secs(rq.maxAge.secs)):
		return reason("request-max-age", "RFC 9111 §5.2.1.1", "the stored response is older than the request's max-age"), true
	case rq.minFresh.set && f.fresh() && !rq.minFresh.invalid && f.ttl() < secs(rq.minFresh.secs):
		return reason("request-min-fresh", "RFC 9111 §5.2.1.3", "the stored response will not stay fresh for the request's min-fresh"), true
	}
	return Reason{}, false
}

// gatewayTimeout answers an only-if-cached request that nothing stored can
// satisfy with 504 (RFC 9111 §5.2.1.7).
func gatewayTimeout() FromCache {
	s := Serve{Status: http.StatusGatewayTimeout, Body: BodyNone}
	s.setField("Content-Length", "0")
	s.CacheStatus = CacheStatus{Detail: "only-if-cached"}
	return FromCache{Serve: s, Reason: reason("only-if-cached", "RFC 9111 §5.2.1.7",
		"only-if-cached and no stored response can be used")}
}
