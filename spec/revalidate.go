package spec

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// NeedRevalidation means stored responses could answer the request once the
// origin confirms them (RFC 9111 §4.3): send Forward, a conditional request
// the core built (§4.3.1), then call Next with the response, or
// UpstreamFailed if no response came.
//
// Besides Next, the state has a second way out, for a validation that got
// no response at all: UpstreamFailedWith returns the stale response to
// serve (a NeedToBeUpdated whose Stale is true: stale-if-error, RFC 5861
// §4, or the stale budget, §4.2.4), and when it returns false, UpstreamError
// is the generated 502 or 504 (a FromCache without Pair) to answer instead.
// Next itself may serve stale too, for a 500, 502, 503 or 504 under
// stale-if-error. Candidates, Selected, ValidatorsFrom and ClientMerged are
// the machine's to set: edited out of range, the methods answer the
// error state (ReasonInvalidState).
type NeedRevalidation struct {
	o   *Options
	req Request
	// Forward is the conditional request to send upstream.
	Forward Request
	// Candidates are the stored pairs a 304 may freshen (§4.3.4's initial
	// set); Selected indexes the one that would be served.
	Candidates []Pair
	Selected   int
	// ValidatorsFrom indexes the Candidates whose validators Forward
	// carries (their entity tags in If-None-Match, the selected one's
	// Last-Modified in If-Modified-Since), and ClientMerged says whether the
	// client's own entity tags were merged into If-None-Match (§4.3.2). A
	// 304 without a validator is read with them (see Next).
	ValidatorsFrom []int
	ClientMerged   bool
	fresh          freshness  // of the selected pair when the walk started
	rq             directives // the request's directives, parsed once by the lookup
	fwd            Fwd
	Reason         Reason
}

// NeedToBeUpdated means a stored response answers the request and some
// stored pairs must have their metadata rewritten (§4.3.4, §4.3.5): write
// Updates (bodies untouched), then serve Pair as Serve says. Updates is
// empty when a stale response is served because the origin failed, and
// when the validation response may not be stored (no-store, or private in
// a shared cache): Pair is then the updated response for this request only.
type NeedToBeUpdated struct {
	Updates []Pair
	// Expires[i] is the new stale horizon of Updates[i] (as
	// StoreAndUse.Expires), measured from the validation.
	Expires []time.Time
	// Pair is the stored pair to serve, or nil when Serve is the upstream
	// response itself, which then has no body: a 200 to a HEAD validation
	// that disagreed with every stored response (§4.3.5).
	Pair   *Pair
	Serve  Serve
	Reason Reason
}

// validatorFields are the client's conditionals the cache replaces with its
// own when validating (§4.3.1); it answers them itself afterwards (§4.3.2).
// Range and If-Range go too, so that a changed resource comes back whole
// and can be stored.
var validatorFields = []string{"If-None-Match", "If-Modified-Since", "If-Range", "Range"}

func newRevalidation(o *Options, req Request, rq *directives, stored []Pair, sel selection, f freshness, fwd Fwd, why Reason) NeedRevalidation {
	cands, selected := sel.candidates(&req, stored)
	fwdReq, from, merged := conditionalRequest(req, cands, selected)
	return NeedRevalidation{
		o: o, req: req, Forward: fwdReq,
		Candidates: cands, Selected: selected, ValidatorsFrom: from, ClientMerged: merged,
		fresh: f, rq: *rq, fwd: fwd, Reason: why,
	}
}

// conditionalRequest builds the validation request of §4.3.1: If-None-Match
// with the entity tags of every candidate, merged with the client's own list
// (§4.3.2 allows the union), and If-Modified-Since with the selected
// response's Last-Modified. from lists the candidates whose validators were
// sent; merged says whether the client's entity tags were sent too.
func conditionalRequest(req Request, cands []Pair, selected int) (fwd Request, from []int, merged bool) {
	h := req.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	client := h["If-None-Match"]
	for _, k := range validatorFields {
		delete(h, k)
	}
	var tags []string
	for i := range cands {
		if et := first(cands[i].Response.Header["Etag"]); et != "" {
			tags = append(tags, et)
			from = append(from, i)
		}
	}
	if len(tags) > 0 {
		if len(client) > 0 && !strings.Contains(strings.Join(client, ","), "*") {
			tags = append(client, tags...)
			merged = true
		}
		h["If-None-Match"] = []string{strings.Join(tags, ", ")}
	}
	if lm := cands[selected].Response.Header["Last-Modified"]; len(lm) > 0 {
		h["If-Modified-Since"] = []string{lm[0]}
		if !slices.Contains(from, selected) {
			from = append(from, selected)
		}
	}
	req.Header = h
	return req, from, merged
}

// Next handles the response to the validation request (§4.3.3).
func (s NeedRevalidation) Next(resp Response) RevalidationNext {
	if !s.valid() {
		return s.invalidUpdate()
	}
	switch {
	case resp.Status == http.StatusNotModified:
		return s.notModified(resp)
	case s.req.Method == http.MethodHead && resp.Status == http.StatusOK:
		if up, ok := s.freshenFromHead(resp); ok {
			return up
		}
	default:
		if up, ok := s.errorStale(resp); ok {
			return up
		}
	}
	// §4.3.3: a full response replaces the stored ones for this request.
	m := newMiss(s.o, s.req, &s.rq, s.fwd, reason(ReasonValidationFullResponse, "RFC 9111 §4.3.3",
		"the validation request got a full response, which is used instead"))
	m.Forward, m.Received, m.evalClient = s.Forward, true, true
	return m
}

// UpstreamFailed is called when the validation request got no response at
// all: it is UpstreamFailedWith(FailureDisconnected).
func (s NeedRevalidation) UpstreamFailed() (NeedToBeUpdated, bool) {
	return s.UpstreamFailedWith(FailureDisconnected)
}

// notModified freshens the stored responses a 304 identifies (§4.3.4) and
// serves the selected one. When §4.3.4 identifies none:
//
//   - a 304 without any validator answering a request that carried the
//     validators of exactly one stored response, and none of the client's,
//     can only be about that response: it is updated (§3.2) and served.
//     §4.3.4 would refuse, since the stored response has a validator; but
//     RFC 9110 §15.4.5 requires the 304 to carry the ETag a 200 would, so
//     the origin only omitted it, and refusing costs every revalidation of
//     such an origin a second request and the full body;
//   - a 304 with one of the client's own entity tags answers the client's
//     conditional, not the cache's: it goes to the client as it is (RFC 9110
//     §15.4.5, RFC 9111 §4.3.2);
//   - otherwise the request is sent again without the cache's conditionals,
//     keeping the revalidation (see CacheMiss.UpstreamFailed).
func (s NeedRevalidation) notModified(resp Response) RevalidationNext {
	idx := freshenSelection(s.Candidates, resp)
	if len(idx) > 0 {
		return s.update(idx, resp, reason(ReasonNotModified, "RFC 9111 §4.3.4", "the origin confirmed the stored response (304), whose header is updated"))
	}
	if !hasValidator(resp.Header) && len(s.ValidatorsFrom) == 1 && !s.ClientMerged {
		return s.update(s.ValidatorsFrom, resp, reason(Reason304NoValidator, "RFC 9111 §4.3.4",
			"the 304 carries no validator, and the request carried the validators of one stored response only, which is updated"))
	}
	if s.ClientMerged {
		if t, ok := parseETag(first(resp.Header["Etag"])); ok && etagListMatches(s.req.Header["If-None-Match"], t, true) {
			m := newMiss(s.o, s.req, &s.rq, s.fwd, reason(Reason304ClientTag, "RFC 9110 §15.4.5",
				"the 304 carries one of the client's own entity tags, so it answers the client's conditional and is passed on"))
			m.Forward, m.Received = s.Forward, true
			return m
		}
	}
	m := newMiss(s.o, s.req, &s.rq, s.fwd, reason(Reason304Unmatched, "RFC 9111 §4.3.4",
		"the 304 identifies no stored response, so the request is sent again without conditionals"))
	m.Forward = s.req
	m.Forward.Header = s.Forward.Header.Clone()
	for _, k := range []string{"If-None-Match", "If-Modified-Since"} {
		delete(m.Forward.Header, k)
	}
	m.evalClient = true
	rv := s
	m.rv = &rv
	return m
}

// update rewrites the header of candidates idx from resp (§3.2) and serves
// the selected candidate if it is among them, else the first updated one.
func (s NeedRevalidation) update(idx []int, resp Response, why Reason) NeedToBeUpdated {
	o := s.o
	ups := make([]Pair, len(idx))
	serve := 0
	var withheld []string
	for j, i := range idx {
		var w []string
		ups[j], w = mergeHeader(o, s.Candidates[i], resp)
		if j == 0 || i == s.Selected {
			serve, withheld = j, w
		}
	}
	p := &ups[serve]
	pol := responsePolicy(o, p.Response.Header)
	f := computeFreshness(o, &p.Response, &pol, o.now())
	sv := storedServe(&s.req, p, &pol, &f)
	// Fields kept out of storage (private=field in a shared cache,
	// Set-Cookie without Options.StoreSetCookie) still reach the client
	// this response answers: §5.2.2.7 restricts storing them, not sending.
	for _, k := range withheld {
		sv.setField(k, resp.Header[k]...)
	}
	sv.CacheStatus = CacheStatus{Fwd: s.fwd, FwdStatus: resp.Status, TTL: f.ttlSeconds(), HasTTL: true}
	if forbid, ok := updateForbidden(o, s.req, &s.rq, resp, p.Response.Header); ok {
		// The merged response still answers this request; storage keeps
		// what it had.
		return NeedToBeUpdated{Pair: p, Serve: sv, Reason: forbid}
	}
	now := o.now()
	exp := make([]time.Time, len(ups))
	for j := range ups {
		pol := responsePolicy(o, ups[j].Response.Header)
		f := computeFreshness(o, &ups[j].Response, &pol, now)
		exp[j] = horizon(o, &ups[j].Response, &pol, &f, now)
	}
	return NeedToBeUpdated{Updates: ups, Expires: exp, Pair: p, Serve: sv, Reason: why}
}

// updateForbidden reports whether the validation response resp may not go
// into storage: the request's no-store (§5.2.1.5: no part of any response
// to it), the response's own no-store (§5.2.2.5, unless must-understand
// overrides it, §5.2.2.3), or its unqualified private in a shared cache
// (§5.2.2.7). Writing its fields into the stored header would store part of
// it. Nor does a response to a request whose content the key ignores
// (RFC 9110 §9.3.1: its fields may be shaped by that content), nor one to a
// request with Cookie in a shared cache when merged, the stored header it
// would become, has no explicit freshness (the Cookie rule of storable).
func updateForbidden(o *Options, req Request, rq *directives, resp Response, merged http.Header) (Reason, bool) {
	if rq.noStore {
		return reason(ReasonRequestNoStore, "RFC 9111 §5.2.1.5", "the request's no-store forbids storing any part of the response, so the stored response is not updated"), true
	}
	if req.unkeyedContent() {
		return reasonRequestContent, true
	}
	if o.Shared && len(req.Header["Cookie"]) > 0 {
		if pol := responsePolicy(o, merged); cookieNeedsExplicit(o, req, merged, &pol) {
			return reasonCookieHeuristic, true
		}
	}
	cc := responsePolicy(o, resp.Header).cc
	switch {
	case cc.noStore && !cc.mustUnderstand:
		return reason(ReasonNoStore, "RFC 9111 §5.2.2.5", "the validation response's no-store forbids storing it, so the stored response is not updated"), true
	case o.Shared && cc.private && cc.privateFields == "":
		return reason(ReasonPrivate, "RFC 9111 §5.2.2.7", "the validation response is private, so a shared cache does not update the stored response with it"), true
	}
	return Reason{}, false
}

// freshenSelection picks the candidates a 304 identifies (§4.3.4): by
// strong validator, else the most recent with the weak validator, else the
// only candidate when neither has a validator. A Last-Modified is judged
// strong against the 304's Date, or the time it was received when it has
// none (RFC 9110 §8.8.2.2), as dateOf does for any response.
func freshenSelection(cands []Pair, resp Response) []int {
	h := resp.Header
	newTag, hasTag := parseETag(first(h["Etag"]))
	newLM := first(h["Last-Modified"])
	newDate := dateOf(&resp)
	strongLM := newLM != "" && lastModifiedStrong(newLM, newDate)
	if hasTag && !newTag.weak || !hasTag && strongLM {
		var idx []int
		for i := range cands {
			ch := cands[i].Response.Header
			if hasTag {
				if t, ok := parseETag(first(ch["Etag"])); ok && strongMatch(t, newTag) {
					idx = append(idx, i)
				}
			} else if first(ch["Last-Modified"]) == newLM {
				idx = append(idx, i)
			}
		}
		return idx
	}
	if hasTag || newLM != "" {
		best := -1
		var bestDate time.Time
		for i := range cands {
			ch := cands[i].Response.Header
			match := false
			if hasTag {
				t, ok := parseETag(first(ch["Etag"]))
				match = ok && weakMatch(t, newTag)
			} else {
				match = first(ch["Last-Modified"]) == newLM
			}
			if d := dateOf(&cands[i].Response); match && (best < 0 || d.After(bestDate)) {
				best, bestDate = i, d
			}
		}
		if best < 0 {
			return nil
		}
		return []int{best}
	}
	if len(cands) == 1 && !hasValidator(cands[0].Response.Header) {
		return []int{0}
	}
	return nil
}

// lastModifiedStrong reports whether a Last-Modified is a strong validator:
// at least one second before the Date (RFC 9110 §8.8.2.2).
func lastModifiedStrong(lm string, date time.Time) bool {
	t, ok := parseHTTPDate(lm)
	return ok && date.Sub(t) >= time.Second
}

// freshenFromHead applies §4.3.5 to a 200 answering a HEAD validation:
// each candidate whose validators and Content-Length agree with it is
// updated from it (§3.2); each that disagrees is marked stale (markStale).
// The selected candidate is served when it agrees, else the first that
// does, else the HEAD response itself. A HEAD response with no validator
// and no Content-Length has nothing to compare and freshens nothing
// (ok=false: it is served as it is).
func (s NeedRevalidation) freshenFromHead(resp Response) (NeedToBeUpdated, bool) {
	if !hasValidator(resp.Header) && len(resp.Header["Content-Length"]) == 0 {
		return NeedToBeUpdated{}, false
	}
	var agree, disagree []int
	for i := range s.Candidates {
		if headAgrees(s.Candidates[i].Response.Header, resp.Header) {
			agree = append(agree, i)
		} else {
			disagree = append(disagree, i)
		}
	}
	var up NeedToBeUpdated
	if len(agree) > 0 {
		up = s.update(agree, resp, reason(ReasonHeadFreshened, "RFC 9111 §4.3.5", "a HEAD response with matching validators freshened the stored response"))
	} else {
		sv := Serve{Status: resp.Status, base: resp.Header, conn: true}
		applyClient(&sv, &s.req, resp.Header, dateOf(&resp), false)
		sv.CacheStatus = CacheStatus{Fwd: s.fwd, FwdStatus: resp.Status}
		up = NeedToBeUpdated{Serve: sv, Reason: reason(ReasonHeadDisagrees, "RFC 9111 §4.3.5",
			"the HEAD response's validators or Content-Length differ from the stored response's, which is marked stale")}
	}
	now := s.o.now()
	for _, i := range disagree {
		p := markStale(s.Candidates[i])
		pol := responsePolicy(s.o, p.Response.Header)
		f := computeFreshness(s.o, &p.Response, &pol, now)
		up.Updates = append(up.Updates, p)
		up.Expires = append(up.Expires, horizon(s.o, &p.Response, &pol, &f, now))
	}
	return up, true
}

// staleAge is the Age markStale gives a stored response: 2^31 seconds, the
// largest age RFC 9111 §1.2.2 lets a cache represent.
const staleAge = "2147483648"

// markStale returns p made stale for §4.3.5, when a HEAD response showed
// that the representation changed: its stored Age becomes 2^31 seconds, so
// that every freshness rule finds it stale (§4.2.3), without touching the
// directives the origin sent. Its validators stay, so the next request
// revalidates it cheaply; a 304 then removes the Age (§3.2, mergeHeader)
// and a full response replaces it. Only a request's max-stale without a
// value would still take it stale, as it takes any stale response.
func markStale(p Pair) Pair {
	h := p.Response.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h["Age"] = []string{staleAge}
	p.Response.Header = h
	return p
}

// headAgrees reports whether a stored GET response and a HEAD response have
// matching values for every validator the HEAD response carries, and the
// same Content-Length if it has one (§4.3.5). Entity tags compare as entity
// tags (RFC 9110 §8.8.3.2), through parseETag: strongly when the HEAD
// response's is strong, weakly when it is weak, and a value that is not an
// entity-tag matches nothing; Last-Modified and Content-Length compare as
// the date and the number they stand for.
func headAgrees(stored, head http.Header) bool {
	if v := first(head["Etag"]); v != "" {
		ht, ok1 := parseETag(v)
		st, ok2 := parseETag(first(stored["Etag"]))
		if !ok1 || !ok2 || ht.weak && !weakMatch(st, ht) || !ht.weak && !strongMatch(st, ht) {
			return false
		}
	}
	if v := first(head["Last-Modified"]); v != "" {
		ht, ok1 := parseHTTPDate(v)
		st, ok2 := parseHTTPDate(first(stored["Last-Modified"]))
		if ok1 && ok2 && !ht.Equal(st) || (!ok1 || !ok2) && v != first(stored["Last-Modified"]) {
			return false
		}
	}
	if len(head["Content-Length"]) > 0 {
		hn, ok1 := contentLength(head)
		sn, ok2 := contentLength(stored)
		if !ok1 || !ok2 || hn != sn {
			return false
		}
	}
	return true
}

// withRequestPolicy gives the states a collapsed lookup returned (see
// IdleClient.Collapsed) the request's directives as it sent them, rq:
// the lookup read them without the no-cache and max-age the collapsed
// exchange satisfied, but what follows (storing, serving stale when the
// origin fails) reads them all.
func withRequestPolicy(next IdleNext, rq *directives) IdleNext {
	switch n := next.(type) {
	case CacheMiss:
		n.rq = *rq
		return n
	case NeedRevalidation:
		n.rq = *rq
		return n
	case FromCache:
		if n.Refresh != nil {
			r := *n.Refresh
			r.rq = *rq
			n.Refresh = &r
		}
		return n
	default:
		return next
	}
}
