package spec

import (
	"net/http"
	"strings"
)

// A stored response whose content is coded (Content-Encoding: gzip, br, ...)
// is selected only for a request that accepts those codings (RFC 9110
// §12.5.3), whether or not its Vary names Accept-Encoding (§12.5.5, RFC
// 9111 §4.1). An origin that compresses on the fly and omits Vary, as
// nginx does by default (gzip_vary off), would otherwise have one client's
// Accept-Encoding decide the coding every other client receives: a client
// asking for br (which browsers advertise only over HTTPS) would leave a
// br body for the plain-HTTP browsers that cannot decode it. Such a
// request goes forward instead (fwd=vary-miss), and what it brings back
// replaces the stored response as a response without Vary does.

// codingsAccepted reports whether every content coding of the stored
// response header resp is acceptable to a request with header req, by the
// rules of RFC 9110 §12.5.3: without Accept-Encoding any coding is; an
// empty Accept-Encoding accepts only identity; otherwise a coding is
// acceptable when listed with a weight above zero, or not listed while
// "*" is; codings compare case-insensitively, "x-gzip" and "x-compress"
// as "gzip" and "compress" (§8.4.1).
func codingsAccepted(req, resp http.Header) bool {
	codings := resp["Content-Encoding"]
	if len(codings) == 0 {
		return true
	}
	accept, asked := req["Accept-Encoding"]
	if !asked {
		return true
	}
	it := fieldListIter{sep: ',', quotes: true}
	for c, ok := nextCoding(&it, codings); ok; c, ok = nextCoding(&it, codings) {
		if !codingAccepted(accept, c) {
			return false
		}
	}
	return true
}

// codingAccepted reports whether the coding c is acceptable under the
// Accept-Encoding values accept. A member whose weight cannot be read
// accepts nothing.
func codingAccepted(accept []string, c string) bool {
	star := -1 // the weight of "*", when listed
	it := fieldListIter{sep: ',', quotes: true}
	for m, ok := it.next(accept); ok; m, ok = it.next(accept) {
		name, w, wok := codingWeight(m)
		switch {
		case !wok:
			continue
		case name == "*":
			star = w
		case strings.EqualFold(unaliasCoding(name), unaliasCoding(c)):
			return w > 0
		}
	}
	return star > 0
}

// codingWeight splits an Accept-Encoding member into its coding and its
// weight in thousandths (§12.4.2; 1000 when absent).
func codingWeight(m string) (name string, w int, ok bool) {
	name, params, _ := strings.Cut(m, ";")
	name = lexTrimOWS(name)
	w = 1000
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, _ := strings.Cut(lexTrimOWS(p), "=")
		if !strings.EqualFold(lexTrimOWS(k), "q") {
			continue
		}
		if w, ok = parseQValue([]byte(lexTrimOWS(v))); !ok {
			return name, 0, false
		}
	}
	return name, w, true
}

// unaliasCoding maps the x- aliases of §8.4.1 to their codings.
func unaliasCoding(c string) string {
	switch {
	case strings.EqualFold(c, "x-gzip"):
		return "gzip"
	case strings.EqualFold(c, "x-compress"):
		return "compress"
	}
	return c
}
