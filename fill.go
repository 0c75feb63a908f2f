package cellar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
)

// run carries out the flight's upstream exchange for the leader ex, hands
// the leader its result, tells the followers the outcome, and then fills the
// store if the response is being stored. It returns the first failure, for
// background refreshes.
func (f *flight) run(ex *exchange, p pending) (err error) {
	var fill func() error
	direct := false
	defer func() {
		if r := recover(); r != nil {
			f.publish(outcome{kind: outNone}, false)
			f.endRun(false)
			panic(r)
		}
	}()
	res := f.exchange(ex, p, &fill)
	direct = res.kind == resDirect && res.err == nil
	err = res.err
	f.publish(outcome{kind: outNone}, false) // no-op when already published
	f.deliver(res)
	if fill != nil {
		err = fill()
	}
	f.endRun(direct && !f.leaderGoneNow())
	return err
}

func (f *flight) leaderGoneNow() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leaderGone
}

// exchange sends the pending state's request upstream and follows the core
// to the leader's result. When the response is being stored, *fill is set
// to the function that writes the body.
func (f *flight) exchange(ex *exchange, p pending, fill *func() error) *leaderResult {
	c := f.c
	res := &leaderResult{}
	for sent := 0; ; sent++ {
		if sent == 2 {
			// Only a 304 that matches no stored response makes the core ask
			// for a second request (§4.3.4); it never asks for a third.
			f.publish(outcome{kind: outNone}, false)
			res.err = errors.New("cellar: the core asked for a third upstream request")
			return res
		}
		hreq, err := upstreamRequest(f.ctx, ex.req, p.forward())
		if err != nil {
			res.err = err
			f.publish(outcome{kind: outNone}, false)
			return res
		}
		t0 := c.now()
		resp, err := ex.send(hreq)
		t1 := c.now()
		if err != nil {
			f.publish(outcome{kind: outFailed, err: err, cs: spec.CacheStatus{Fwd: p.fwd()}}, false)
			failure := failureOf(err)
			if up, ok := p.upstreamFailed(failure); ok {
				res.steps = append(res.steps, up)
				res.kind, res.serve, res.pair, res.outcome = resStored, up.Serve, up.Pair, OutcomeStale
				return res
			}
			res.err = upstreamError(p, failure, err)
			return res
		}
		sresp := ex.specResponse(resp, t0, t1)
		if p.reval == nil {
			if up, ok := p.miss.StaleOnError(sresp); ok {
				// The second request of a revalidation (after a 304 that
				// identified nothing) failed, and the revalidation's stale
				// response may be served.
				res.steps = append(res.steps, up)
				discardBody(resp)
				header := sresp
				header.Header = resp.Header.Clone()
				f.publish(outcome{kind: outFailed, resp: &header, cs: up.Serve.CacheStatus}, false)
				res.kind, res.serve, res.pair, res.outcome = resStored, up.Serve, up.Pair, OutcomeStale
				return res
			}
			return f.missResponse(ex, *p.miss, resp, sresp, res, fill)
		}
		next := p.reval.Next(sresp)
		res.steps = append(res.steps, next)
		switch n := next.(type) {
		case spec.NeedToBeUpdated:
			discardBody(resp)
			if n.Stale() {
				// The origin failed (5xx) and the core serves stale.
				header := sresp
				header.Header = resp.Header.Clone()
				f.publish(outcome{kind: outFailed, resp: &header, cs: n.Serve.CacheStatus}, false)
				res.kind, res.serve, res.pair, res.outcome = resStored, n.Serve, n.Pair, OutcomeStale
				return res
			}
			c.metrics.Revalidated(true)
			uctx := context.WithoutCancel(f.ctx)
			if err := c.update(uctx, f.key, ex.entries, n); err != nil {
				c.log.WarnContext(ex.ctx, "cellar: updating stored metadata failed", "key", f.key, "err", err)
			}
			f.publish(outcome{kind: outUpdated, updates: n.Updates, cs: n.Serve.CacheStatus}, true)
			res.kind, res.serve, res.pair, res.outcome = resStored, n.Serve, n.Pair, OutcomeRevalidated
			return res
		case spec.CacheMiss:
			c.metrics.Revalidated(false)
			if !n.Received {
				// The core wants n.Forward sent (a 304 it could not match):
				// this response is not the answer.
				discardBody(resp)
				p = pending{miss: &n, refetch: true}
				continue
			}
			return f.missResponse(ex, n, resp, sresp, res, fill)
		}
		discardBody(resp)
		res.err = fmt.Errorf("cellar: unexpected state %T", next)
		return res
	}
}

// missResponse asks the core whether the upstream response may be stored.
func (f *flight) missResponse(ex *exchange, m spec.CacheMiss, resp *http.Response, sresp spec.Response, res *leaderResult, fill *func() error) *leaderResult {
	next := m.Next(sresp)
	res.steps = append(res.steps, next)
	switch n := next.(type) {
	case spec.StoreAndUse:
		return f.beginStore(ex, n, resp, res, fill)
	case spec.CouldNotBeStored:
		if !n.ByRequest {
			// Not when the request alone kept it out (a fat GET, a
			// Cookie): one client must not turn collapsing off for all.
			f.c.flights.markPass(f.key)
		}
		f.publish(outcome{kind: outNone}, false)
		res.kind, res.serve, res.resp, res.outcome = resDirect, n.Serve, resp, OutcomePass
		return res
	}
	discardBody(resp)
	res.err = fmt.Errorf("cellar: unexpected state %T", next)
	return res
}

// beginStore starts writing a storable response: the store's Writer and
// the spool are opened, followers learn what is being stored, and *fill is
// set to the loop that reads the body into both.
func (f *flight) beginStore(ex *exchange, n spec.StoreAndUse, resp *http.Response, res *leaderResult, fill *func() error) *leaderResult {
	c := f.c
	e := store.Entry{Key: f.key, Variant: n.Variant, Pair: n.Pair, Expires: n.Expires, Tags: tagsOf(n.Pair.Response.Header)}
	w, err := c.store.Create(f.ctx, e)
	if err != nil {
		if f.ctx.Err() == nil { // not merely every waiter gone
			c.storeWarn.warn(ex.ctx, c.log, "cellar: store create failed, serving without storing", "key", f.key, "err", err)
		}
		f.publish(outcome{kind: outNone}, false)
		sv := n.Serve
		sv.CacheStatus.Stored = false
		sv.CacheStatus.Detail = "store-create"
		res.kind, res.serve, res.resp, res.outcome = resDirect, sv, resp, OutcomePass
		return res
	}
	sp := newSpool(c.spoolDir, spoolMemory, n.ExpectedLength)
	f.mu.Lock()
	f.stage = stageFill
	f.expected = n.ExpectedLength
	f.noBody = resp.Body == nil || resp.Body == http.NoBody
	f.mu.Unlock()
	sp.acquire() // the leader's
	sp.acquire() // the registration's, released when late arrivals can no longer join
	pair := n.Pair
	pair.ID = f.tmpID
	f.publish(outcome{kind: outStoring, pair: pair, variant: n.Variant, spool: sp, expected: n.ExpectedLength, cs: n.Serve.CacheStatus}, false)
	*fill = func() error { return f.fill(ex, resp, w, sp, n) }
	res.kind, res.serve, res.spool, res.size, res.outcome = resSpool, n.Serve, sp, n.ExpectedLength, OutcomeMiss
	return res
}

// bufPool holds the fill's copy buffers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// errLengthMismatch means a body did not match its Content-Length.
var errLengthMismatch = errors.New("cellar: upstream body length does not match Content-Length")

// fill reads the upstream body into the store's Writer and the spool. The
// entry is committed only after a clean end of a body whose length matches
// the announced one; anything else aborts the write, and readers of the
// spool get the error after the bytes they already have.
func (f *flight) fill(ex *exchange, resp *http.Response, w store.Writer, sp *spool, n spec.StoreAndUse) error {
	c := f.c
	body := resp.Body
	if body == nil {
		body = http.NoBody
	}
	defer body.Close()
	defer sp.release() // the writer's
	registered := true
	unregister := func(bump bool) {
		if registered {
			registered = false
			f.mu.Lock()
			f.noJoin = true
			f.mu.Unlock()
			c.flights.remove(f, bump)
			sp.release()
		}
	}
	defer unregister(false)
	abort := func(reason string, err error) {
		if w != nil {
			w.Abort()
			w = nil
			c.metrics.Aborted(reason)
			c.log.DebugContext(ex.ctx, "cellar: store write aborted", "key", f.key, "reason", reason, "err", err)
		}
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	expected := n.ExpectedLength
	var written int64
	var failure error
	reason := ""
	for failure == nil {
		k, err := body.Read(buf)
		if k > 0 {
			if expected >= 0 && written+int64(k) > expected {
				failure, reason = errLengthMismatch, "length-mismatch"
				break
			}
			if w != nil {
				if _, werr := w.Write(buf[:k]); werr != nil {
					why := "store-error"
					if f.ctx.Err() != nil {
						why = "cancelled"
					}
					abort(why, werr)
					unregister(false) // nothing will be committed: late arrivals must not wait for it
				}
			}
			if serr := sp.write(buf[:k]); serr != nil {
				failure, reason = fmt.Errorf("cellar: spool: %w", serr), "spool-error"
				break
			}
			written += int64(k)
			f.written.Store(written)
		}
		if err == io.EOF {
			if expected >= 0 && written != expected {
				failure, reason = fmt.Errorf("%w (%d of %d bytes)", io.ErrUnexpectedEOF, written, expected), "truncated"
			}
			break
		}
		if err != nil {
			failure, reason = err, "upstream-error"
			switch {
			case errors.Is(err, io.ErrUnexpectedEOF):
				reason = "truncated"
			case errors.Is(err, ErrUpstreamBodyTimeout):
				reason = "body-timeout"
			}
			if f.ctx.Err() != nil {
				reason = "cancelled"
			}
		}
	}
	if failure != nil {
		abort(reason, failure)
		unregister(false)
		f.filled()
		sp.finish(fmt.Errorf("cellar: upstream body: %w", failure))
		return failure
	}
	if f.invalid.Load() {
		abort("invalidated", nil)
	}
	committed := false
	if w != nil {
		if id, err := c.commit(ex, w, n, written); err != nil {
			c.metrics.Aborted("store-error")
			c.storeWarn.warn(ex.ctx, c.log, "cellar: store commit failed", "key", f.key, "err", err)
		} else {
			committed = true
			f.mu.Lock()
			f.storedID = id
			f.mu.Unlock()
		}
	}
	unregister(committed)
	f.filled()
	sp.finish(nil)
	return nil
}

// commit makes the entry visible. When the response had no Content-Length,
// the stored header gets the actual length (an update of the metadata just
// committed), so that later Range and HEAD requests know it.
func (c *Cache) commit(ex *exchange, w store.Writer, n spec.StoreAndUse, written int64) (id string, err error) {
	e, err := w.Commit()
	if err != nil {
		return "", err
	}
	c.metrics.Stored(e.Size)
	h := e.Pair.Response.Header
	if len(h["Content-Length"]) == 0 && n.Pair.Request.Method != http.MethodHead && n.Pair.Response.Status != http.StatusNotModified {
		e.Pair.Response.Header = h.Clone()
		if e.Pair.Response.Header == nil {
			e.Pair.Response.Header = http.Header{}
		}
		e.Pair.Response.Header["Content-Length"] = []string{strconv.FormatInt(written, 10)}
		e.Pair.ID = e.ID
		if err := c.store.Update(context.WithoutCancel(ex.ctx), e.Key, []store.Entry{e}); err != nil {
			c.log.WarnContext(ex.ctx, "cellar: recording the body length failed", "key", e.Key, "err", err)
		}
	}
	return e.ID, nil
}

// discardBody drains a little of an unused body (so the connection can be
// reused) and closes it.
func discardBody(resp *http.Response) {
	if resp.Body == nil {
		return
	}
	io.CopyN(io.Discard, resp.Body, 4<<10)
	resp.Body.Close()
}

// tagsOf reads the surrogate keys of a response for purging by tag:
// Surrogate-Key (space-separated) and Cache-Tag (comma-separated).
func tagsOf(h http.Header) []string {
	var tags []string
	for _, v := range h["Surrogate-Key"] {
		tags = append(tags, strings.Fields(v)...)
	}
	for _, v := range h["Cache-Tag"] {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
	}
	return tags
}
