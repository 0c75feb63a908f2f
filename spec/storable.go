package spec

import (
	"net/http"
	"strconv"
	"strings"
)

// storable decides whether resp to req may be stored (RFC 9111 §3), and why.
// rq is the request's directives (requestPolicy), parsed once per request.
func storable(o *Options, req Request, rq *directives, resp *Response, pol *policy) (Reason, bool) {
	cc := &pol.cc
	switch {
	case !o.cacheableMethod(req.Method):
		return reason(ReasonMethodNotCacheable, "RFC 9111 §3", "the cache does not store responses to "+req.Method), false
	case req.Method == http.MethodHead:
		return reason(ReasonHeadResponse, "RFC 9111 §3", "a HEAD response has no content to reuse; it only freshens stored GET responses (§4.3.5)"), false
	case req.unkeyedContent():
		return reasonRequestContent, false
	case resp.Status < 200:
		return reason(ReasonStatusNotFinal, "RFC 9111 §3", "the status code is not final"), false
	case resp.Status == http.StatusNotModified:
		return reason(ReasonNotModified, "RFC 9111 §3", "a 304 only updates stored responses; this one answered the client's own conditional request"), false
	case answersRequestField(&req, resp.Status):
		return reasonAnswersRequestField(resp.Status), false
	case !understoodStatus(resp.Status) && (cc.mustUnderstand || resp.Status == http.StatusPartialContent):
		return reason(ReasonMustUnderstand, "RFC 9111 §5.2.2.3", "must-understand is present and the cache does not understand status "+strconv.Itoa(resp.Status)), false
	case rq.noStore:
		return reason(ReasonRequestNoStore, "RFC 9111 §5.2.1.5", "the request's no-store forbids storing the response"), false
	case cc.noStore && !(cc.mustUnderstand && understoodStatus(resp.Status)):
		return reason(ReasonNoStore, "RFC 9111 §5.2.2.5", "the response's no-store forbids storing it"), false
	case o.Shared && cc.private && cc.privateFields == "":
		return reason(ReasonPrivate, "RFC 9111 §5.2.2.7", "private forbids a shared cache storing the response"), false
	case o.Shared && len(req.Header["Authorization"]) > 0 && !(cc.public || cc.mustRevalidate || cc.sMaxAge.set):
		return reason(ReasonAuthorization, "RFC 9111 §3.5", "the request has Authorization and no public, must-revalidate or s-maxage allows a shared cache to store the response"), false
	case o.Shared && len(resp.Header["Set-Cookie"]) > 0 && !o.StoreSetCookie:
		return reason(ReasonSetCookie, "RFC 9111 §7.3", "a shared cache does not store responses with Set-Cookie (Options.StoreSetCookie)"), false
	case varyStar(resp.Header):
		return reason(ReasonVaryStar, "RFC 9111 §4.1", "Vary: * never matches a later request, so storing the response is of no use"), false
	case resp.Status == http.StatusPartialContent && !storablePartial(resp.Header):
		return reason(ReasonPartialUnusable, "RFC 9111 §3.3", "the 206 response has no single byte Content-Range with a complete length"), false
	case cookieNeedsExplicit(o, req, resp.Header, pol):
		return reasonCookieHeuristic, false
	case resp.Status == http.StatusPartialContent && !partLengthAgrees(resp.Header):
		return reason(ReasonPartialLengthMismatch, "RFC 9111 §3.3", "the 206 response's Content-Length disagrees with the length of its Content-Range (RFC 9110 §14.4), so its content cannot be trusted"), false
	}
	return explicitlyCacheable(o, resp, pol)
}

// reasonRequestContent: the fat GET rule (issue 12 item 1).
var reasonRequestContent = reason(ReasonRequestContent, "RFC 9110 §9.3.1",
	"the request has content that is not part of the cache key: content in a GET has no defined semantics, "+
		"yet an origin may shape its response by it, so that response must not be stored (nor update a stored one) "+
		"for requests without that content (RFC 9111 §2, §7.1)")

// reasonCookieHeuristic: the Cookie rule of a shared cache (issue 12 item 5).
var reasonCookieHeuristic = reason(ReasonCookieHeuristic, "RFC 9111 §4.2.2",
	"the request has Cookie and the response no explicit freshness (max-age, s-maxage, Expires or a targeted field) "+
		"and no Vary: Cookie; a shared cache does not store it with heuristic freshness, "+
		"since it may be personal to that cookie")

// cookieNeedsExplicit reports whether resp to req may not be stored, or
// used to update a stored response, because of Cellar's Cookie rule: in a
// shared cache, a response to a request with Cookie is stored only with
// explicit freshness (§4.2.1), never a heuristic one (§4.2.2), unless it
// varies on Cookie (§4.1) and so is only ever served to that cookie. §4.2.2
// allows heuristics "when nothing prohibits"; this policy is stricter,
// because an origin that personalises a page by cookie and says nothing
// about caching would otherwise have it served to everyone.
func cookieNeedsExplicit(o *Options, req Request, resp http.Header, pol *policy) bool {
	return o.Shared && len(req.Header["Cookie"]) > 0 && !explicitFreshness(o, resp, pol) && !variesOn(resp, "Cookie")
}

// explicitFreshness reports whether the response has an explicit
// expiration time (§4.2.1): s-maxage in a shared cache, max-age, or
// Expires where it applies (not under a targeted field, RFC 9213 §2.2);
// the directives are the targeted field's when one governs.
func explicitFreshness(o *Options, h http.Header, pol *policy) bool {
	cc := &pol.cc
	return o.Shared && cc.sMaxAge.set || cc.maxAge.set || len(h["Expires"]) > 0 && !pol.targeted
}

// variesOn reports whether Vary in h names the field name.
func variesOn(h http.Header, name string) bool {
	it := fieldListIter{sep: ',', quotes: true}
	vary := h["Vary"]
	for m, ok := it.next(vary); ok; m, ok = it.next(vary) {
		if strings.EqualFold(m, name) {
			return true
		}
	}
	return false
}

// explicitlyCacheable implements the last requirement of §3: the response
// carries something that makes storing it worthwhile.
func explicitlyCacheable(o *Options, resp *Response, pol *policy) (Reason, bool) {
	cc := &pol.cc
	switch {
	case o.Shared && cc.sMaxAge.set:
		return reason(ReasonSMaxage, "RFC 9111 §3", "s-maxage allows a shared cache to store it"), true
	case cc.maxAge.set:
		return reason(ReasonMaxAge, "RFC 9111 §3", "max-age allows storing it"), true
	case len(resp.Header["Expires"]) > 0 && !pol.targeted:
		return reason(ReasonExpires, "RFC 9111 §3", "Expires allows storing it"), true
	case cc.public:
		return reason(ReasonPublic, "RFC 9111 §3", "public allows storing it"), true
	case !o.Shared && cc.private:
		return reason(ReasonPrivateCache, "RFC 9111 §3", "private allows a private cache to store it"), true
	case heuristicallyCacheable(resp.Status):
		return reason(ReasonHeuristic, "RFC 9111 §3", heuristicText(resp.Status)), true
	}
	return reason(ReasonNotCacheable, "RFC 9111 §3", "no explicit freshness, no public and status "+strconv.Itoa(resp.Status)+" is not heuristically cacheable"), false
}

// heuristicText is the Reason text of a heuristically cacheable status,
// spelled out so that deciding to store allocates no string.
func heuristicText(status int) string {
	switch status {
	case 200:
		return "status 200 is heuristically cacheable (RFC 9110 §15.1)"
	case 203:
		return "status 203 is heuristically cacheable (RFC 9110 §15.1)"
	case 204:
		return "status 204 is heuristically cacheable (RFC 9110 §15.1)"
	case 206:
		return "status 206 is heuristically cacheable (RFC 9110 §15.1)"
	case 300:
		return "status 300 is heuristically cacheable (RFC 9110 §15.1)"
	case 301:
		return "status 301 is heuristically cacheable (RFC 9110 §15.1)"
	case 308:
		return "status 308 is heuristically cacheable (RFC 9110 §15.1)"
	case 404:
		return "status 404 is heuristically cacheable (RFC 9110 §15.1)"
	case 405:
		return "status 405 is heuristically cacheable (RFC 9110 §15.1)"
	case 410:
		return "status 410 is heuristically cacheable (RFC 9110 §15.1)"
	case 414:
		return "status 414 is heuristically cacheable (RFC 9110 §15.1)"
	case 501:
		return "status 501 is heuristically cacheable (RFC 9110 §15.1)"
	}
	return "status " + strconv.Itoa(status) + " is heuristically cacheable (RFC 9110 §15.1)"
}

// understoodStatus reports whether the cache implements the caching-related
// behaviour of status: the status codes RFC 9110 §15 defines.
func understoodStatus(status int) bool {
	switch status {
	case 200, 201, 202, 203, 204, 205, 206,
		300, 301, 302, 303, 304, 307, 308,
		400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 426,
		500, 501, 502, 503, 504, 505:
		return true
	}
	return false
}

// storablePartial reports whether a 206 can be stored and combined later
// (§3.3): a single byte range with a known complete length.
func storablePartial(h http.Header) bool {
	_, _, ok := partRange(h)
	return ok
}

// partLengthAgrees reports whether a storable 206's Content-Length, when it
// has one, is the length of its Content-Range: a stored part whose two
// lengths differ would later declare a length its body cannot fill.
func partLengthAgrees(h http.Header) bool {
	if len(h["Content-Length"]) == 0 {
		return true
	}
	r, _, _ := partRange(h)
	n, ok := contentLength(h)
	return ok && n == r.Length
}

// cleanForStorage returns the pair to store for resp (§3.1): hop-by-hop
// fields and those Connection names removed, the proxy authentication
// fields removed, fields named by a qualified private removed in a shared
// cache (§5.2.2.7), Date added when missing (RFC 9110 §6.6.1), and of the
// request only the fields Vary nominates kept.
//
// The stored header is built in one pass, leaving the unstored fields out
// as it copies rather than cloning and then deleting, and the values of
// both stored headers (and the Date added) share one backing array in
// slices of capped capacity, as http.Header.Clone does: the pair shares
// nothing with req or resp but the strings.
func cleanForStorage(o *Options, req *Request, resp *Response, pol *policy) Pair {
	src := resp.Header
	var private string
	if o.Shared {
		private = pol.cc.privateFields
	}
	conn := src["Connection"]
	var skip unstoredNames
	skip.init(conn, private)
	addDate := !resp.ResponseTime.IsZero() &&
		(len(src["Date"]) == 0 || skip.has("Date"))
	// Sized for single field lines, a Date and one Vary field: more
	// lines take another backing array.
	vals := valueSlab{sv: make([]string, len(src)+2)}
	hint := len(src)
	if len(conn) > 0 {
		hint-- // Connection itself: a small map holds up to 8 fields
	}
	h := make(http.Header, hint)
	for k, vv := range src {
		if skip.has(k) {
			continue
		}
		h[k] = vals.copy(vv)
	}
	if addDate {
		h["Date"] = vals.copy([]string{formatHTTPDate(resp.ResponseTime)})
	}
	stored := Request{Method: req.Method, Header: varyRequestHeader(req.Header, src, &vals)}
	if req.URL != nil { // a caller's mistake, but bad input must not panic
		// A copy, not req.URL: a store may keep the pair past the
		// client's exchange (the Redis store encodes it at Commit, after
		// the body) while the client reuses its request.
		u := *req.URL
		stored.URL = &u
	}
	r := *resp
	r.Header = h
	return Pair{Request: stored, Response: r}
}

// valueSlab hands out copies of header values from one backing array.
type valueSlab struct{ sv []string }

// copy returns a copy of vv as http.Header.Clone makes it: nil for nil, a
// slice whose capacity ends at its length otherwise.
func (s *valueSlab) copy(vv []string) []string {
	if vv == nil {
		return nil
	}
	if len(s.sv) < len(vv) {
		s.sv = make([]string, len(vv)+8)
	}
	n := copy(s.sv, vv)
	c := s.sv[:n:n]
	s.sv = s.sv[n:]
	return c
}

// varyRequestHeader keeps only the request fields that resp's Vary
// nominates: all §4.1 needs to select the response later, and nothing more
// (Authorization or Cookie values are not written to storage needlessly).
// The values are copied from vals; a field present without values is kept
// with nil values.
func varyRequestHeader(req http.Header, resp http.Header, vals *valueSlab) http.Header {
	vary := resp["Vary"]
	if len(vary) == 0 {
		return http.Header{}
	}
	h := make(http.Header, 2)
	it := fieldListIter{sep: ',', quotes: true}
	for name, ok := it.next(vary); ok; name, ok = it.next(vary) {
		k, v, ok := canonicalGet(req, name)
		if !ok {
			continue
		}
		if len(v) == 0 {
			v = nil
		}
		h[k] = vals.copy(v)
	}
	return h
}
