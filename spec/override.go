package spec

import (
	"net/http"
	"strconv"
	"time"
)

// OverrideFreshness rewrites the upstream response header h so that the core
// stores the response and treats it as fresh for ttl, whatever the origin
// said: Cache-Control becomes "max-age=<ttl>" and Expires, Pragma and the
// targeted fields o honours (RFC 9213) are removed.
//
// This is an opt-in policy outside RFC 9111, for origins that send no (or
// wrong) caching information; it lives here so that every header rule of
// the cache stays in one package. Callers apply it only to responses they
// chose to force. A nil h, which cannot be written, is left as it is.
func OverrideFreshness(o Options, h http.Header, ttl time.Duration) {
	if h == nil {
		return
	}
	h["Cache-Control"] = []string{"max-age=" + strconv.FormatInt(int64(max(0, ttl)/time.Second), 10)}
	delete(h, "Expires")
	delete(h, "Pragma")
	delete(h, "Cdn-Cache-Control")
	if t := canonicalTargeted(&o).TargetedField; t != "" {
		delete(h, t)
	}
}
