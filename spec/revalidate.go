package spec

import (
	"net/http"
	"strings"
	"time"
)

// NeedRevalidation means stored responses could answer the request once the
// origin confirms them (RFC 9111 §4.3): send Forward, a conditional request
// the core built (§4.3.1), then call Next with the response, or
// UpstreamFailed if no response came.
type NeedRevalidation struct {
	o   *Options
	req Request
	// Forward is the conditional request to send upstream.
	Forward Request
	// Candidates are the stored pairs a 304 may freshen (§4.3.4's initial
	// set); Selected indexes the one that would be served.
	Candidates []Pair
	Selected   int
	fresh      freshness // of the selected pair when the walk started
	fwd        string
	Reason     Reason
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
	Pair    *Pair
	Serve   Serve
	Reason  Reason
}

// validatorFields are the client's conditionals the cache replaces with its
// own when validating (§4.3.1); it answers them itself afterwards (§4.3.2).
// Range and If-Range go too, so that a changed resource comes back whole
// and can be stored.
var validatorFields = []string{"If-None-Match", "If-Modified-Since", "If-Range", "Range"}

func newRevalidation(o *Options, req Request, stored []Pair, sel selection, f freshness, fwd string, why Reason) NeedRevalidation {
	cands, selected := sel.candidates(&req, stored)
	return NeedRevalidation{
		o: o, req: req, Forward: conditionalRequest(req, cands, selected),
		Candidates: cands, Selected: selected, fresh: f, fwd: fwd, Reason: why,
	}
}

// conditionalRequest builds the validation request of §4.3.1: If-None-Match
// with the entity tags of every candidate, merged with the client's own list
// (§4.3.2 allows the union), and If-Modified-Since with the selected
// response's Last-Modified.
func conditionalRequest(req Request, cands []Pair, selected int) Request {
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
		}
	}
	if len(tags) > 0 {
		if len(client) > 0 && !strings.Contains(strings.Join(client, ","), "*") {
			tags = append(client, tags...)
		}
		h["If-None-Match"] = []string{strings.Join(tags, ", ")}
	}
	if lm := cands[selected].Response.Header["Last-Modified"]; len(lm) > 0 {
		h["If-Modified-Since"] = []string{lm[0]}
	}
	req.Header = h
	return req
}

// Next handles the response to the validation request (§4.3.3).
func (s NeedRevalidation) Next(resp Response) RevalidationNext {
	switch {
	case resp.Status == http.StatusNotModified:
		return s.notModified(resp)
	case s.req.Method == http.MethodHead && resp.Status == http.StatusOK:
		if up, ok := s.freshenFromHead(resp); ok {
			return up
		}
	case staleIfErrorStatus(resp.Status):
		if up, ok := s.staleOnError(resp.Status, false); ok {
			return up
		}
	}
	// §4.3.3: a full response replaces the stored ones for this request.
	m := newMiss(s.o, s.req, s.fwd, reason("validation-full-response", "RFC 9111 §4.3.3",
		"the validation request got a full response, which is used instead"))
	m.Forward, m.Received, m.evalClient = s.Forward, true, true
	return m
}

// UpstreamFailed is called when the validation request got no response at
// all: it is UpstreamFailedWith(FailureDisconnected).
func (s NeedRevalidation) UpstreamFailed() (NeedToBeUpdated, bool) {
	return s.UpstreamFailedWith(FailureDisconnected)
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
	rq := requestPolicy(s.req.Header)
	why, ok := staleIfError(o, &rq, &pol.cc, f, disconnected)
	if !ok {
		return NeedToBeUpdated{}, false
	}
	sv := storedServe(&s.req, p, &pol, &f)
	sv.CacheStatus = CacheStatus{Fwd: s.fwd, FwdStatus: status, TTL: f.ttlSeconds(), HasTTL: true, Detail: why.Code}
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
		return reason("stale-if-error", "RFC 5861 §4", "the origin failed and the request's stale-if-error allows serving the stored response stale"), true
	}
	if rq.refusesStale() && !rq.acceptsStaleness(stale) {
		return Reason{}, false
	}
	if d := cc.staleIfError; d.set && !d.invalid && stale <= secs(d.secs) {
		return reason("stale-if-error", "RFC 5861 §4", "the origin failed and stale-if-error allows serving the stored response stale"), true
	}
	if budget := o.staleBudget(); disconnected && budget > 0 && stale <= budget {
		return reason("stale-budget", "RFC 9111 §4.2.4", "the origin cannot be reached and the stale budget allows serving the stored response stale"), true
	}
	return Reason{}, false
}

// notModified freshens the stored responses a 304 identifies (§4.3.4) and
// serves the selected one, or falls back to an unconditional request when
// none can be identified.
func (s NeedRevalidation) notModified(resp Response) RevalidationNext {
	idx := freshenSelection(s.Candidates, resp.Header)
	if len(idx) == 0 {
		m := newMiss(s.o, s.req, s.fwd, reason("304-unmatched", "RFC 9111 §4.3.4",
			"the 304 identifies no stored response, so the request is sent again without conditionals"))
		m.Forward = s.req
		m.Forward.Header = s.Forward.Header.Clone()
		for _, k := range []string{"If-None-Match", "If-Modified-Since"} {
			delete(m.Forward.Header, k)
		}
		m.evalClient = true
		return m
	}
	return s.update(idx, resp, reason("not-modified", "RFC 9111 §4.3.4", "the origin confirmed the stored response (304), whose header is updated"))
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
	if forbid, ok := updateForbidden(o, s.req, resp); ok {
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
// it.
func updateForbidden(o *Options, req Request, resp Response) (Reason, bool) {
	if requestPolicy(req.Header).noStore {
		return reason("request-no-store", "RFC 9111 §5.2.1.5", "the request's no-store forbids storing any part of the response, so the stored response is not updated"), true
	}
	cc := responsePolicy(o, resp.Header).cc
	switch {
	case cc.noStore && !cc.mustUnderstand:
		return reason("no-store", "RFC 9111 §5.2.2.5", "the validation response's no-store forbids storing it, so the stored response is not updated"), true
	case o.Shared && cc.private && cc.privateFields == "":
		return reason("private", "RFC 9111 §5.2.2.7", "the validation response is private, so a shared cache does not update the stored response with it"), true
	}
	return Reason{}, false
}

// freshenSelection picks the candidates a 304 with header h identifies
// (§4.3.4): by strong validator, else the most recent with the weak
// validator, else the only candidate when neither has a validator.
func freshenSelection(cands []Pair, h http.Header) []int {
	newTag, hasTag := parseETag(first(h["Etag"]))
	newLM := first(h["Last-Modified"])
	newDate := dateOf(&Response{Header: h})
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

// freshenFromHead applies §4.3.5: a 200 to a HEAD updates each candidate
// whose validators and Content-Length agree with it.
func (s NeedRevalidation) freshenFromHead(resp Response) (NeedToBeUpdated, bool) {
	var idx []int
	for i := range s.Candidates {
		if headAgrees(s.Candidates[i].Response.Header, resp.Header) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return NeedToBeUpdated{}, false
	}
	return s.update(idx, resp, reason("head-freshened", "RFC 9111 §4.3.5", "a HEAD response with matching validators freshened the stored response")), true
}

// headAgrees reports whether a stored GET response and a HEAD response have
// matching values for every validator the HEAD response carries, and the
// same Content-Length if it has one (§4.3.5).
func headAgrees(stored, head http.Header) bool {
	for _, k := range []string{"Etag", "Last-Modified", "Content-Length"} {
		if v := first(head[k]); v != "" && v != first(stored[k]) {
			return false
		}
	}
	return true
}

// Stale reports whether s serves a stale response because the origin failed
// (stale-if-error, RFC 5861 §4, or the stale budget, §4.2.4), rather than one
// the origin just confirmed.
func (s NeedToBeUpdated) Stale() bool {
	return s.Reason.Code == "stale-if-error" || s.Reason.Code == "stale-budget"
}
