package cellar

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/cellar-http/cellar/spec"
)

// Trace is the decision trace of one request: the states the core went
// through, each with the Reason (and RFC section) that led to it, and what
// the engine did besides (collapsing, store failures, retries).
type Trace struct {
	// Key is the primary cache key ("" when the cache was bypassed).
	Key string
	// Steps are the states visited, in order.
	Steps []Step
	// Events are the engine's notes: "collapsed", "store lookup failed: ...".
	Events []string
	// CacheStatus is the Cache-Status member this cache added.
	CacheStatus string
	// Collapsed is true when the response came from another request's
	// upstream exchange (RFC 9211 §2.6).
	Collapsed bool

	steps [3]Step // Steps' first backing array
}

// Step is one state of a trace.
type Step struct {
	State  string
	Reason spec.Reason
}

// String renders the trace on one line, for logs.
func (t *Trace) String() string {
	var b strings.Builder
	for i, s := range t.Steps {
		if i > 0 {
			b.WriteString(" → ")
		}
		b.WriteString(s.State)
		if s.Reason.Code != "" {
			b.WriteString("(")
			b.WriteString(string(s.Reason.Code))
			b.WriteString(")")
		}
	}
	for _, e := range t.Events {
		b.WriteString("; ")
		b.WriteString(e)
	}
	return b.String()
}

func (t *Trace) add(st spec.State) {
	t.Steps = append(t.Steps, Step{State: st.StateName(), Reason: reasonOf(st)})
}

func (t *Trace) event(e string) { t.Events = append(t.Events, e) }

// reasonOf returns the Reason a state carries, if any.
func reasonOf(st spec.State) spec.Reason {
	switch s := st.(type) {
	case spec.CacheMiss:
		return s.Reason
	case spec.PartialUpdate:
		return s.Reason
	case spec.FromCache:
		return s.Reason
	case spec.NeedRevalidation:
		return s.Reason
	case spec.InvalidateEntries:
		return s.Reason
	case spec.StoreAndUse:
		return s.Reason
	case spec.CouldNotBeStored:
		return s.Reason
	case spec.NeedToBeUpdated:
		return s.Reason
	}
	return spec.Reason{}
}

// TraceFrom returns the decision trace of a response the Cache returned, or
// nil when resp did not come from a Cache (or its body was replaced, as
// http.Client does when it has a Timeout: use WithTrace then).
func TraceFrom(resp *http.Response) *Trace {
	if resp == nil {
		return nil
	}
	if b, ok := resp.Body.(*body); ok {
		return b.trace
	}
	return nil
}

// finishTrace records the Cache-Status value, hands the trace to a
// WithTrace caller and logs it at debug level.
func (c *Cache) finishTrace(ex *exchange, cs string) {
	t := ex.trace
	t.CacheStatus = cs
	if dst := ex.ov.trace; dst != nil && dst != t {
		*dst = *t
	}
	if c.log.Enabled(ex.ctx, slog.LevelDebug) {
		c.log.DebugContext(ex.ctx, "cellar", "method", ex.req.Method, "key", t.Key,
			"cache_status", cs, "trace", t.String())
	}
}
