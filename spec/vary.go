package spec

import (
	"net/http"
	"strings"
)

// varyMatches reports whether the stored pair p can be selected for req
// under RFC 9111 §4.1: every field the stored response's Vary nominates
// matches between the two requests, and Vary is not "*". c remembers the
// request's values across the variants of one lookup. valid reports
// whether p has a valid Vary field value.
//
// A valid Vary field value (RFC 9111 §4.1's last rule, "the most recent
// stored response with a valid Vary field value") is one the grammar of
// RFC 9110 §12.5.5 accepts, Vary = #( "*" / field-name ), that nominates
// at least one field: every member a token (§5.1). "*" never matches, so
// among matching responses the valid ones are those that name their
// selecting fields. A missing Vary, an empty one (which selects as a
// missing one does) and one with a member that is not a field-name are not
// valid: they are what §4.1 calls the mistaken omission, so a response
// with them loses to an older one that names its fields.
func varyMatches(req *Request, p *Pair, c *varyLookup) (match, valid bool) {
	// A plain loop over the list rather than forEachListMember and a
	// closure: this runs for every stored variant on every lookup.
	vary := p.Response.Header["Vary"]
	it := fieldListIter{sep: ',', quotes: true}
	valid = len(vary) > 0
	n := 0
	for name, ok := it.next(vary); ok; name, ok = it.next(vary) {
		if name == "*" {
			return false, false
		}
		n++
		if valid && !IsToken(name) {
			valid = false
		}
		k, v := c.get(req, name)
		if !varyValuesMatch(k, v, p.Request.Header[k]) {
			return false, false
		}
	}
	return true, valid && n > 0
}

// varyLookup remembers the request's values of the last field a Vary
// nominated, under its canonical name: the variants of one URL nearly
// always vary on the same fields, so a lookup among several of them reads
// the request's field once.
type varyLookup struct {
	name, key string   // as written in Vary; canonical
	vals      []string // the request's values
	set       bool
}

func (c *varyLookup) get(req *Request, name string) (key string, vals []string) {
	if !c.set || c.name != name {
		k := http.CanonicalHeaderKey(name)
		c.name, c.key, c.vals, c.set = name, k, req.Header[k], true
	}
	return c.key, c.vals
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
	var buf [128]byte
	b := buf[:0]
	it := fieldListIter{sep: ',', quotes: true}
	for name, ok := it.next(vary); ok; name, ok = it.next(vary) {
		_, vals, _ := canonicalGet(req.Header, name)
		// The lower-cased canonical name is the lower-cased name, and
		// varyCmpRuleFor ignores case.
		b = appendLowerName(b, name)
		b = appendVaryCanonical(append(b, '='), name, vals)
		b = append(b, '\n')
	}
	return string(b)
}

// appendLowerName appends strings.ToLower(http.CanonicalHeaderKey(name)).
func appendLowerName(b []byte, name string) []byte {
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 { // not a token: strings.ToLower's Unicode rules
			return append(b, strings.ToLower(name)...)
		}
	}
	for i := 0; i < len(name); i++ {
		b = append(b, lowerASCII(name[i]))
	}
	return b
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
	if r.weighted != varyWeightNone {
		return appendWeightedList(b, &r, values)
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
