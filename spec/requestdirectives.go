package spec

import (
	"net/http"
	"strings"
)

// The request's cache directives (RFC 9111 §5.2.1, and Pragma, §5.4), read
// once per request by the lookup.

// requestPolicy reads a request's directives: Cache-Control, or Pragma:
// no-cache when Cache-Control is absent (RFC 9111 §5.4). With
// Options.IgnoreRequestDirectives the request has none.
func requestPolicy(o *Options, h http.Header) directives {
	if o.IgnoreRequestDirectives {
		return directives{}
	}
	if cc := h["Cache-Control"]; len(cc) > 0 {
		return parseDirectives(cc)
	}
	var d directives
	forEachListMember(h["Pragma"], func(m string) bool {
		if len(m) == 8 && strings.EqualFold(m, "no-cache") {
			d.noCache, d.present = true, true
			return false
		}
		return true
	})
	return d
}
