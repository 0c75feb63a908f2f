package spec

import "net/http"

// The response's cache directives (RFC 9111 §5.2.2), from Cache-Control or
// a targeted field (RFC 9213 §2.2).

// policy is what the core reads from one response's header: its effective
// cache directives (RFC 9213 targeted field or Cache-Control) and where they
// came from.
type policy struct {
	cc       directives
	source   string // the field the directives came from
	targeted bool   // from a targeted field: Expires is ignored (RFC 9213 §2.2)
}

// responsePolicy selects the directives governing h. A shared cache uses the
// first valid, non-empty field of its target list (the configured field, then
// CDN-Cache-Control) and then ignores Cache-Control and Expires (RFC 9213
// §2.2); a private cache always uses Cache-Control.
//
// The directives are parsed in place, not returned from the parsers, to
// keep the frame of the lookup small.
func responsePolicy(o *Options, h http.Header) (p policy) {
	if o.Shared && !o.IgnoreTargeted {
		if o.TargetedField != "" && p.cc.parseTargeted(h[o.TargetedField]) {
			p.source, p.targeted = o.TargetedField, true
			return p
		}
		if p.cc.parseTargeted(h["Cdn-Cache-Control"]) {
			p.source, p.targeted = "CDN-Cache-Control", true
			return p
		}
	}
	for _, s := range h["Cache-Control"] {
		p.cc.parseLine(s)
	}
	p.source = "Cache-Control"
	return p
}
