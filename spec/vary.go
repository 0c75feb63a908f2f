package spec

import (
	"net/http"
	"strings"
)

// varyMatches reports whether the stored pair p can be selected for req
// under RFC 9111 §4.1: every field the stored response's Vary nominates
// matches between the two requests, and Vary is not "*".
func varyMatches(req *Request, p *Pair) bool {
	ok := true
	forEachListMember(p.Response.Header["Vary"], func(name string) bool {
		if name == "*" {
			ok = false
			return false
		}
		k := http.CanonicalHeaderKey(name)
		if !varyValuesMatch(k, req.Header[k], p.Request.Header[k]) {
			ok = false
			return false
		}
		return true
	})
	return ok
}

// varyStar reports whether h has "Vary: *", which never matches (§4.1).
func varyStar(h http.Header) bool {
	star := false
	forEachListMember(h["Vary"], func(name string) bool {
		star = name == "*"
		return !star
	})
	return star
}

// variantKey returns the secondary key (§4.1) of a response with header resp
// to request req: the fields its Vary nominates with their normalized request
// values. Responses with equal variant keys stand for the same variant, so
// storing one replaces the other.
func variantKey(req *Request, resp http.Header) string {
	vary := resp["Vary"]
	if len(vary) == 0 {
		return ""
	}
	b := make([]byte, 0, 64)
	forEachListMember(vary, func(name string) bool {
		k := http.CanonicalHeaderKey(name)
		b = append(b, strings.ToLower(k)...)
		b = appendVaryCanonical(append(b, '='), k, req.Header[k])
		b = append(b, '\n')
		return true
	})
	return string(b)
}

// appendVaryCanonical appends the canonical form of a request's values of
// field name, such that two value sets give the same bytes exactly when
// varyValuesMatch says they match (RFC 9111 §4.1). Absent is marked apart
// from empty.
func appendVaryCanonical(b []byte, name string, values []string) []byte {
	if len(values) == 0 {
		return append(b, 0x01)
	}
	r := varyCmpRuleFor(name)
	if r.exact {
		for _, v := range values {
			b = append(append(b, lexTrimOWS(v)...), 0)
		}
		return b
	}
	it := fieldListIter{sep: r.sep, quotes: r.quotes, keepEmpty: r.keepEmpty}
	for m, ok := it.next(values); ok; m, ok = it.next(values) {
		if !r.params && r.fold == varyFoldNone {
			b = append(b, m...)
		} else {
			c := varyCanonIter{s: m, params: r.params, fold: r.fold}
			for ch, ok := c.next(); ok; ch, ok = c.next() {
				b = append(b, ch)
			}
		}
		b = append(b, 0)
	}
	return b
}

// varyRequestHeader keeps only the request fields that resp's Vary
// nominates: all §4.1 needs to select the response later, and nothing more
// (Authorization or Cookie values are not written to storage needlessly).
func varyRequestHeader(req http.Header, resp http.Header) http.Header {
	vary := resp["Vary"]
	if len(vary) == 0 {
		return http.Header{}
	}
	h := make(http.Header, 2)
	forEachListMember(vary, func(name string) bool {
		k := http.CanonicalHeaderKey(name)
		if v, ok := req[k]; ok {
			h[k] = append([]string(nil), v...)
		}
		return true
	})
	return h
}
