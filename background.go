package cellar

import (
	"net/http"
	"time"

	"github.com/cellar-http/cellar/spec"
)

// refresh starts the background revalidation the core asked for with a
// stale-while-revalidate answer (RFC 5861 §3). It runs on a background
// worker, detached from the request that triggered it, as a flight that
// later requests may follow; it is skipped when a flight for the key is
// already under way, when no worker is free, or after Close.
func (c *Cache) refresh(ex *exchange, rv spec.NeedRevalidation) {
	if !c.acquireSlot() {
		ex.trace.event("background refresh skipped: no free worker")
		return
	}
	f := c.flights.lead(c, ex.key, ex.ctx)
	if f == nil {
		c.releaseSlot()
		ex.trace.event("background refresh skipped: already under way")
		return
	}
	bx := &exchange{
		c: c, req: ex.req, ctx: f.ctx, ov: ex.ov, trace: &Trace{Key: ex.key},
		inproc: ex.inproc, upstream: ex.upstream,
		sreq: ex.sreq, key: ex.key, entries: ex.entries, pairs: ex.pairs,
		force: ex.force, forceTTL: ex.forceTTL,
	}
	if bx.req.Body != nil && bx.req.Body != http.NoBody && bx.req.GetBody == nil {
		// The body went (or goes) with the request that triggered it.
		r := *bx.req
		r.Body = http.NoBody
		bx.req = &r
	}
	ex.trace.event("background refresh started")
	go func() {
		err := f.run(bx, pending{reval: &rv})
		c.metrics.Refreshed(err)
		if err != nil {
			c.log.DebugContext(f.ctx, "cellar: background refresh failed", "key", ex.key, "err", err)
		}
	}()
}

// forceHeader applies a forced TTL (Config.ForceTTL) to an upstream
// response header, through the core's opt-in override (outside RFC 9111).
func (c *Cache) forceHeader(h http.Header, ttl time.Duration) {
	spec.OverrideFreshness(c.opts, h, ttl)
}
