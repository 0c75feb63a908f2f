package spec

import (
	"net/http"
	"strconv"
	"time"
)

// completion asks the origin for only the bytes a request needs beyond a
// fresh stored 206 that holds its start (RFC 9111 §3.4: "a cache might
// combine" partial responses): a Range for the missing end, with If-Range
// holding the part's strong entity tag so that a changed representation
// comes back whole (RFC 9110 §13.1.5). The response, a 206 of exactly that
// range, is stored and combined with the part.
//
// It applies only to a single requested range and a client request without
// conditionals of its own, which the origin would then have to judge
// against a representation the cache assembles.
func completion(o *Options, req *Request, rq *directives, stored []Pair, sel *selection, now time.Time) (CacheMiss, bool) {
	rv := req.Header["Range"]
	if len(rv) != 1 || req.Method != http.MethodGet || rq.noCache || hasClientConditional(req.Header) {
		return CacheMiss{}, false
	}
	for _, i := range sel.partial {
		p := &stored[i]
		have, size, ok := partRange(p.Response.Header)
		tag, tok := parseETag(first(p.Response.Header["Etag"]))
		if !ok || !tok || tag.weak {
			continue
		}
		want, outcome := parseRange(rv[0], size)
		want = coalesceRanges(want)
		haveEnd := have.Start + have.Length
		if outcome != rangeSatisfiable || len(want) != 1 ||
			want[0].Start < have.Start || want[0].Start >= haveEnd || want[0].Start+want[0].Length <= haveEnd {
			continue
		}
		pol := responsePolicy(o, p.Response.Header)
		f := computeFreshness(o, &p.Response, &pol, now)
		if _, must := mustValidate(rq, &pol.cc, &f); must || !f.fresh() {
			continue
		}
		missing := ByteRange{Start: haveEnd, Length: want[0].Start + want[0].Length - haveEnd}
		m := newMiss(o, *req, rq, FwdPartial, reason(ReasonPartialCompletion, "RFC 9111 §3.4",
			"a stored partial response holds the start of the requested range: only the rest is asked for, to be combined with it"))
		h := req.Header.Clone()
		h["Range"] = []string{"bytes=" + strconv.FormatInt(missing.Start, 10) + "-" + strconv.FormatInt(missing.Start+missing.Length-1, 10)}
		h["If-Range"] = []string{first(p.Response.Header["Etag"])}
		m.Forward.Header = h
		m.Completes = &missing
		m.completesSize, m.completesTag, m.completesPart = size, tag, p.Response.Header
		return m, true
	}
	return CacheMiss{}, false
}

// hasClientConditional reports whether a request carries a conditional
// field (RFC 9110 §13.1).
func hasClientConditional(h http.Header) bool {
	for _, k := range []string{"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range"} {
		if len(h[k]) > 0 {
			return true
		}
	}
	return false
}

// Completed reports whether resp, the response to a completion's Forward,
// is the missing part it asked for: a 206 of exactly Completes, of the same
// representation (its strong entity tag, complete length and content
// codings, partcoding.go). Only then is
// it stored to be combined; otherwise the caller goes on with
// WithoutCompletion.
func (s CacheMiss) Completed(resp Response) bool {
	if s.Completes == nil || resp.Status != http.StatusPartialContent {
		return false
	}
	r, size, ok := partRange(resp.Header)
	tag, tok := parseETag(first(resp.Header["Etag"]))
	return ok && tok && r == *s.Completes && size == s.completesSize && strongMatch(tag, s.completesTag) &&
		sameCodings(resp.Header, s.completesPart)
}

// WithoutCompletion is the plain miss for the client's request, for when a
// completion cannot be made or its response was not the missing part.
func (s CacheMiss) WithoutCompletion() CacheMiss {
	s.Forward, s.Completes = s.req, nil
	s.Reason = reason(ReasonPartial, "RFC 9111 §3.3", "the stored partial responses do not cover the request")
	return s
}
