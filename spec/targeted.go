package spec

import "net/http"

// canonicalTargeted returns o with Options.TargetedField in canonical form,
// the form http.Header keys take (field names are case-insensitive, RFC
// 9110 §5.1): o itself when it already is, else a copy. Every entry point
// that takes Options (NewIdleClient, Judge, Explain) canonicalises with it.
func canonicalTargeted(o *Options) *Options {
	if o.TargetedField == "" || isCanonical(o.TargetedField) {
		return o
	}
	c := *o
	c.TargetedField = http.CanonicalHeaderKey(c.TargetedField)
	return &c
}

// Targeted fields (RFC 9213 §2.1), parsed as RFC 9651 Dictionaries
// (dictionary.go) into the directives Cache-Control fills.

// parseTargetedDirectives parses a targeted cache-control field such as CDN-Cache-Control
// (RFC 9213 §2.1): an RFC 9651 Dictionary. ok is false when the field is absent or fails
// to parse as a Dictionary, in which case RFC 9213 says the whole field is ignored.
//
// ok is also false for an empty Dictionary (RFC 9213 §2.1: "If a targeted
// field in a given response is empty ... that field MUST be ignored"). The
// field lines are parsed as if joined with ", " (RFC 9651 §4.2), so members
// may sit on different lines.
//
// Unlike Cache-Control, keys are case-sensitive lowercase sf-keys
// ("Max-Age" fails the whole field) and a duplicated key overwrites the
// earlier one (RFC 9651 §4.2.2). Values map as RFC 9213 §2.1 infers:
//   - delta-seconds directives take an Integer ≥ 0 (capped at 2147483648);
//     any other value (Decimal, negative, String, Boolean...) sets them
//     invalid, which callers treat as stale;
//   - max-stale as Boolean true means any staleness;
//   - no-cache and private take Boolean true (unqualified) or a String
//     (the field list); Boolean false turns them off; any other value, or a
//     String split across field lines, leaves them unqualified;
//   - the other restrictive flags (no-store, must-revalidate,
//     proxy-revalidate, no-transform) are set by any value but Boolean false,
//     the conservative reading of a value RFC 9213 says not to consume;
//   - the permissive ones (public, immutable, must-understand,
//     only-if-cached) need Boolean true.
//
// Parameters are parsed and ignored; unknown keys are ignored (RFC 9111
// §5.2.3) but still make the field non-empty.
func parseTargetedDirectives(values []string) (d directives, ok bool) {
	ok = d.parseTargeted(values)
	return d, ok
}

// parseTargeted is parseTargetedDirectives into d, which must be zero; d is
// left zero when it returns false.
func (d *directives) parseTargeted(values []string) bool {
	if len(values) == 0 {
		return false
	}
	in := dictInput{lines: values, last: 2*len(values) - 2}
	// RFC 9651 §4.2: discard leading SP.
	for in.peek() == ' ' {
		in.advance()
	}
	for !in.empty() {
		key, good := in.key()
		if !good {
			*d = directives{}
			return false
		}
		var v dictValue
		if in.peek() == '=' {
			in.advance()
			if !in.itemOrInnerList(&v) {
				*d = directives{}
				return false
			}
		} else {
			v.kind = dictBoolTrue
			if !in.params() {
				*d = directives{}
				return false
			}
		}
		d.present = true
		d.assignTargeted(dirLookup(key), &v)
		in.skipOWS()
		if in.empty() {
			break
		}
		if in.peek() != ',' {
			*d = directives{}
			return false
		}
		in.advance()
		in.skipOWS()
		if in.empty() {
			*d = directives{} // trailing comma
			return false
		}
	}
	if !d.present {
		*d = directives{}
		return false
	}
	return true
}

// assignTargeted records a Dictionary member; later members overwrite
// earlier ones (RFC 9651 §4.2.2).
func (d *directives) assignTargeted(id int, v *dictValue) {
	switch id {
	case dirMaxAge:
		d.maxAge = v.delta()
	case dirSMaxAge:
		d.sMaxAge = v.delta()
	case dirMinFresh:
		d.minFresh = v.delta()
	case dirStaleWhileRevalidate:
		d.staleWhileRevalidate = v.delta()
	case dirStaleIfError:
		d.staleIfError = v.delta()
	case dirMaxStale:
		if v.kind == dictBoolTrue {
			d.maxStale, d.maxStaleAny = deltaSeconds{}, true
		} else {
			d.maxStale, d.maxStaleAny = v.delta(), false
		}
	case dirNoCache:
		d.noCache, d.noCacheFields = v.fieldList()
	case dirPrivate:
		d.private, d.privateFields = v.fieldList()
	case dirNoStore:
		d.noStore = v.kind != dictBoolFalse
	case dirMustRevalidate:
		d.mustRevalidate = v.kind != dictBoolFalse
	case dirProxyRevalidate:
		d.proxyRevalidate = v.kind != dictBoolFalse
	case dirNoTransform:
		d.noTransform = v.kind != dictBoolFalse
	case dirMustUnderstand:
		d.mustUnderstand = v.kind == dictBoolTrue
	case dirPublic:
		d.public = v.kind == dictBoolTrue
	case dirOnlyIfCached:
		d.onlyIfCached = v.kind == dictBoolTrue
	case dirImmutable:
		d.immutable = v.kind == dictBoolTrue
	}
}
