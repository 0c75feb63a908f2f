package spec

// Fwd is the RFC 9211 §2.2 fwd parameter of the request the miss forwards
// (uri-miss, vary-miss, request, ...): what Cache-Status says when no
// response comes back to judge.
func (s CacheMiss) Fwd() Fwd { return s.fwd }

// Fwd is the RFC 9211 §2.2 fwd parameter of the validation (stale,
// request, ...): what Cache-Status says when no response comes back.
func (s NeedRevalidation) Fwd() Fwd { return s.fwd }
