package spec

import (
	"net/http"
	"strings"
)

// ExplainNotes lists the decisions a cache takes with resp, received for
// req under opts, beyond those Explain gives (storing and freshness), each
// with its section: invalidation by an unsafe method (§4.4), how a 304 selects the
// stored responses it updates (§4.3.4), what a 200 to HEAD does (§4.3.5),
// how Vary selects it among other stored responses (§4.1), what its
// If-Modified-Since is compared with (§4.3.2), and dates read leniently
// (RFC 9110 §5.6.7). It is apart from Explain, which stays cheap.
func ExplainNotes(req Request, resp Response, opts Options) []Reason {
	if req.Method == "" {
		req.Method = http.MethodGet
	}
	o := &opts
	var notes []Reason
	if !o.cacheableMethod(req.Method) && !safeMethod(req.Method) {
		notes = append(notes, invalidationNote(o, req, resp))
	}
	switch {
	case resp.Status == http.StatusNotModified:
		notes = append(notes, notModifiedNote(resp))
	case req.Method == http.MethodHead && resp.Status == http.StatusOK:
		if !hasValidator(resp.Header) && len(resp.Header["Content-Length"]) == 0 {
			notes = append(notes, reason(ReasonHeadFreshensNothing, "RFC 9111 §4.3.5",
				"as the answer to a HEAD validation it has no validator nor Content-Length to compare, so it freshens no stored response"))
		} else {
			notes = append(notes, reason(ReasonHeadCompares, "RFC 9111 §4.3.5",
				"as the answer to a HEAD validation it freshens the stored GET responses whose ETag (compared as entity tags), Last-Modified and Content-Length agree with it, and marks the others stale"))
		}
	}
	if n, ok := varyNote(resp.Header); ok {
		notes = append(notes, n)
	}
	if resp.Status == http.StatusOK || resp.Status == http.StatusPartialContent {
		notes = append(notes, modifiedSinceNote(resp))
	}
	for _, k := range []string{"Date", "Expires", "Last-Modified"} {
		v := first(resp.Header[k])
		if v == "" {
			continue
		}
		if t, ok := parseHTTPDate(v); ok && formatHTTPDate(t) != lexTrimOWS(v) {
			notes = append(notes, reason(ReasonLenientDate, "RFC 9110 §5.6.7",
				k+" is not written as an IMF-fixdate but is read as "+formatHTTPDate(t)+" (RFC 9111 §4.2: dates match case-insensitively)"))
		}
	}
	return notes
}

func invalidationNote(o *Options, req Request, resp Response) Reason {
	inv := newInvalidate(o, req)
	keys := inv.Keys(resp)
	if len(keys) == 0 {
		return reason(ReasonNoInvalidation, "RFC 9111 §4.4", "an error response to "+req.Method+" invalidates nothing")
	}
	text := req.Method + " invalidates every stored response for " + strings.Join(keys, ", ")
	if len(inv.Prefixes(resp)) > 0 {
		text += ", those of other cached methods and body-hashed keys included"
	}
	return reason(ReasonInvalidates, "RFC 9111 §4.4", text)
}

func notModifiedNote(resp Response) Reason {
	h := resp.Header
	tag, hasTag := parseETag(first(h["Etag"]))
	lm := first(h["Last-Modified"])
	switch {
	case hasTag && !tag.weak:
		return reason(Reason304StrongETag, "RFC 9111 §4.3.4", "its strong entity tag selects every stored response that has it for update")
	case hasTag:
		return reason(Reason304WeakETag, "RFC 9111 §4.3.4", "its weak entity tag selects the most recent stored response that has it for update")
	case lm != "":
		against := "its Date"
		if len(h["Date"]) == 0 {
			against = "the time it was received (no Date)"
		}
		if lastModifiedStrong(lm, dateOf(&resp)) {
			return reason(Reason304StrongLastModified, "RFC 9110 §8.8.2.2", "its Last-Modified, a second or more before "+against+", is a strong validator: it selects every stored response with it (RFC 9111 §4.3.4)")
		}
		return reason(Reason304WeakLastModified, "RFC 9110 §8.8.2.2", "its Last-Modified is within a second of "+against+", so weak: it selects the most recent stored response with it (RFC 9111 §4.3.4)")
	}
	return reason(Reason304NoValidator, "RFC 9111 §4.3.4",
		"it carries no validator: it updates the one stored response whose validators the request carried, if only one did and none of the client's were sent; a 304 with one of the client's own tags goes to the client (RFC 9110 §15.4.5); otherwise the request is sent again without conditionals")
}

// varyNote says how Vary selects the response among others stored for its
// URI, when there is something to say: a Vary that is not valid, or
// Vary'd fields that are normalized before comparing.
func varyNote(h http.Header) (Reason, bool) {
	vary := h["Vary"]
	if len(vary) == 0 || varyStar(h) {
		return Reason{}, false
	}
	var set, ranked []string
	valid, n := true, 0
	forEachListMember(vary, func(name string) bool {
		n++
		if !IsToken(name) {
			valid = false
		}
		switch varyCmpRuleFor(name).weighted {
		case varyWeightSet:
			set = append(set, name)
		case varyWeightRanked:
			ranked = append(ranked, name)
		}
		return true
	})
	if !valid || n == 0 {
		return reason(ReasonVaryInvalid, "RFC 9111 §4.1", "its Vary is not a valid list of field names, so an older stored response with a valid Vary is chosen before it"), true
	}
	if len(set)+len(ranked) == 0 {
		return Reason{}, false
	}
	var parts []string
	if len(set) > 0 {
		parts = append(parts, strings.Join(set, ", ")+" compared as a set (any order)")
	}
	if len(ranked) > 0 {
		parts = append(parts, strings.Join(ranked, ", ")+" ranked by weight, ties in the order written")
	}
	return reason(ReasonVaryNormalized, "RFC 9111 §4.1, RFC 9110 §12.4.2", "request fields normalized before matching: weights read as numbers, q=1 dropped; "+strings.Join(parts, "; ")), true
}

func modifiedSinceNote(resp Response) Reason {
	if _, ok := headerTime(resp.Header, "Last-Modified"); ok {
		return reason(ReasonIMSLastModified, "RFC 9111 §4.3.2", "a client's If-Modified-Since is answered from storage by comparing it with Last-Modified")
	}
	if _, ok := headerTime(resp.Header, "Date"); ok {
		return reason(ReasonIMSDate, "RFC 9111 §4.3.2", "without Last-Modified, a client's If-Modified-Since is answered from storage by comparing it with the Date")
	}
	return reason(ReasonIMSReceived, "RFC 9111 §4.3.2", "without Last-Modified nor Date, a client's If-Modified-Since is answered from storage by comparing it with the time the response was received")
}
