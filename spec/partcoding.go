package spec

import (
	"net/http"
	"strings"
)

// Parts of one representation combine (RFC 9111 §3.4) only when they
// have the same content codings, besides the same strong validator. RFC
// 9110 §8.8.3 requires a strong validator to differ between the codings
// of one resource, but an origin that compresses on the fly may keep the
// ETag of the identity content (a compression middleware in front of a
// file server), and without Vary: Accept-Encoding every coding's parts
// share one key. One client's "Range: bytes=0-3" with "Accept-Encoding:
// br" would then leave a br part, and the next client's Range would be
// completed with identity bytes and served (and stored) as one br body:
// neither decodable nor the page.

// sameCodings reports whether the Content-Encoding of the headers a and b
// lists the same codings in the same order (§8.4), compared
// case-insensitively, x-gzip and x-compress as gzip and compress (§8.4.1),
// identity ignored.
func sameCodings(a, b http.Header) bool {
	ita, itb := fieldListIter{sep: ',', quotes: true}, fieldListIter{sep: ',', quotes: true}
	va, vb := a["Content-Encoding"], b["Content-Encoding"]
	for {
		ca, oka := nextCoding(&ita, va)
		cb, okb := nextCoding(&itb, vb)
		if oka != okb {
			return false
		}
		if !oka {
			return true
		}
		if !strings.EqualFold(unaliasCoding(ca), unaliasCoding(cb)) {
			return false
		}
	}
}

// nextCoding returns the next coding of values that is not identity.
func nextCoding(it *fieldListIter, values []string) (string, bool) {
	for c, ok := it.next(values); ok; c, ok = it.next(values) {
		if c != "" && !strings.EqualFold(c, "identity") {
			return c, true
		}
	}
	return "", false
}
