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
