package spec

import (
	"net/http"
	"time"
)

// Verdict is the storage decision for one response and its freshness
// lifetime: what a caller asks when it only wants to know whether, and for
// how long, a response may be cached, without building what a store needs.
type Verdict struct {
	Storable bool
	Reason   Reason // why it may or may not be stored (RFC 9111 §3)
	// Lifetime is the freshness lifetime (§4.2.1, or §4.2.2 when Heuristic);
	// LifetimeReason the rule that gave it.
	Lifetime       time.Duration
	LifetimeReason Reason
	Heuristic      bool
}

// Judge decides whether resp, received for req, may be stored under opts and
// for how long it is fresh. It is the same decision CacheMiss.Next makes, by
// the same code, without the stored pair, key and variant CacheMiss.Next
// builds for a store; it reads no clock and allocates nothing unless
// opts.TargetedField needs canonicalizing. Like NewIdleClient and Explain,
// it takes its arguments by value: there is no nil to pass.
func Judge(req Request, resp Response, opts Options) Verdict {
	o := canonicalTargeted(&opts)
	if req.Method == "" {
		req.Method = http.MethodGet
	}
	pol := responsePolicy(o, resp.Header)
	var v Verdict
	rq := requestPolicy(o, req.Header)
	v.Reason, v.Storable = storable(o, req, &rq, &resp, &pol)
	v.Lifetime, v.Heuristic, v.LifetimeReason = lifetime(o, &resp, &pol, dateOf(&resp))
	if v.Storable {
		// Without a clock, the lifetime stands for the freshness left: a
		// response that arrives already stale (Age past its lifetime) is
		// judged storable here, though CacheMiss.Next would not store it.
		if why, ok := reusableLater(o, &resp, &pol, v.Lifetime); !ok {
			v.Reason, v.Storable = why, false
		}
	}
	return v
}
