package cellar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
)

// exchange is one request going through the engine.
type exchange struct {
	c         *Cache
	req       *http.Request // the client's request
	ctx       context.Context
	ov        overrides
	trace     *Trace
	traceData Trace        // trace points here: one allocation less
	flush     *flushSignal // the Middleware's, when serving a handler
	// inproc, when serving a handler (Cache.Handler), is where requests go
	// upstream: to that handler, in-process. Else they go to upstream.
	inproc   *inProcess
	upstream http.RoundTripper
	// dst, when serving a handler, is its ResponseWriter's header: respond
	// writes the response header there (wroteDst) rather than into a new
	// map that the handler would copy.
	dst      http.Header
	wroteDst bool
	// interim, when serving a handler, passes the upstream's interim
	// (1xx) responses to its client.
	interim *interimSink

	sreq    spec.Request
	key     string
	entries []store.Entry
	pairs   []spec.Pair
	gen     uint64 // the key's flight generation before the lookup

	force    bool
	forceTTL time.Duration

	// follow allows joining or leading a registered flight; it is cleared
	// once the request has followed one, so that it never waits twice.
	follow   bool
	relooked bool
	decides  int // guards against deciding again forever

	// collapsed is the leader's Cache-Status, for a follower.
	collapsed *spec.CacheStatus
	// collapseFailed is set when the request waited for another's flight,
	// whose response did not answer it (RFC 9211 §2.6: collapsed=?0).
	collapseFailed bool
	// cs is this cache's Cache-Status member of the answer, once chosen:
	// what a Handler hands to HandlerOptions.CacheStatus.
	cs spec.CacheStatus

	bodyForwarded bool
	// completed is set once the missing end of a stored partial response
	// was asked for: the request never asks twice.
	completed bool

	// fwd is the RFC 9211 fwd parameter of the last request forwarded, for
	// the Cache-Status of an error answer when it fails (errorStatus).
	fwd spec.Fwd

	// keyURL, when not nil, is where the key URL goes when it differs from
	// the request's (a Handler's requests; RoundTrip's rarely differ).
	keyURL *url.URL

	// storedHit is set when the core's first decision served a stored
	// response with nothing started besides (no background refresh): see
	// reusable.
	storedHit bool

	// Storage for what a hit needs, so that it costs no allocation of its
	// own: the entries and pairs of the first lookup, the response and its
	// body. (The Cache-Status value is not here but shared,
	// Cache.statusField: the header map that holds it outlives the
	// exchange.)
	pairBuf   [2]spec.Pair
	pairUsed  bool
	entryBuf  [1]store.Entry
	entryUsed bool
	respData  http.Response
	bodyData  body
	respUsed  bool
}

// reusable reports whether, once its response is written and its body
// closed, nothing but the caller holds the exchange, its request (URL,
// header map and values) or anything they point to: the request was
// answered from storage as the core first decided, nothing went upstream
// or into a flight, no background refresh took the request, and no trace
// was handed out (WithTrace's Steps share the exchange's array). A
// Handler then recycles the memory of the request (handlerCalls).
func (ex *exchange) reusable() bool {
	return ex.storedHit && ex.decides == 1 && ex.fwd == "" && !ex.bodyForwarded &&
		ex.collapsed == nil && !ex.collapseFailed && ex.ov.trace == nil
}

// maxDecides bounds how many times one request asks the core again after a
// stored body vanished or a flight ended without a usable response.
const maxDecides = 8

// RoundTrip answers req from the cache, going upstream when the core says
// so. It implements http.RoundTripper: it does not modify req, and returns
// an error only when no response can be given (the upstream failed and
// nothing stored may be served).
func (c *Cache) RoundTrip(req *http.Request) (*http.Response, error) {
	ex := &exchange{}
	ex.init(c, req, overridesFrom(req.Context()))
	return ex.roundTrip()
}

func (ex *exchange) init(c *Cache, req *http.Request, ov overrides) {
	ex.c, ex.req, ex.ctx, ex.ov, ex.follow, ex.upstream = c, req, req.Context(), ov, true, c.upstream
	ex.trace = &ex.traceData
	ex.trace.Steps = ex.traceData.steps[:0]
}

// roundTrip answers the exchange's request as RoundTrip does.
func (ex *exchange) roundTrip() (*http.Response, error) {
	req := ex.req
	resp, err := ex.start()
	if !ex.bodyForwarded && req.Body != nil && req.Body != http.NoBody {
		req.Body.Close()
	}
	if err != nil {
		ex.c.metrics.Served(OutcomeError)
		ex.trace.event("error: " + err.Error())
		ex.c.finishTrace(ex, "")
	}
	return resp, err
}

func (ex *exchange) start() (*http.Response, error) {
	c, req := ex.c, ex.req
	if req.URL == nil {
		return nil, errors.New("cellar: nil Request.URL")
	}
	if isBypass(req, &ex.ov) {
		return ex.passThrough(spec.CacheStatus{Fwd: spec.FwdBypass})
	}
	ex.sreq = spec.Request{Method: req.Method, URL: c.keyURLFor(req, ex.keyURL), Header: req.Header, HasContent: hasContent(req)}
	ex.key = spec.Key(ex.sreq)
	if c.bodyKeyFor(req, &ex.ov) {
		ex.sreq.ContentKeyed = true
		r := *req // hashBody replaces the body: do not touch the caller's request
		ex.req = &r
		sum, err := hashBody(&r, c.bodyKeyLimit)
		ex.bodyForwarded = true // consumed: closed, or passed on whole
		if errors.Is(err, errBodyTooLong) {
			return ex.passThrough(spec.CacheStatus{Fwd: spec.FwdBypass, Detail: "body-too-long"})
		}
		if err != nil {
			return nil, fmt.Errorf("cellar: reading the request body for its key: %w", err)
		}
		ex.key += " body-sha256=" + sum
	}
	ex.trace.Key = ex.key
	ex.forceTTL, ex.force = c.forceTTLFor(req, &ex.ov)
	if err := ex.lookup(); err != nil {
		return ex.storeFailed("lookup", err)
	}
	return ex.decide()
}

// entryAppender is a store that looks up into the caller's slice
// (memory.Store, tiered.Store).
type entryAppender interface {
	AppendLookup(ctx context.Context, dst []store.Entry, key string) ([]store.Entry, error)
}

// lookup reads the stored variants of the key.
func (ex *exchange) lookup() error {
	ex.gen = ex.c.flights.gen(ex.key)
	var entries []store.Entry
	var err error
	if ea, ok := ex.c.store.(entryAppender); ok && !ex.entryUsed {
		// The first lookup's entries go in the exchange, as its pairs do.
		ex.entryUsed = true
		entries, err = ea.AppendLookup(ex.ctx, ex.entryBuf[:0:len(ex.entryBuf)], ex.key)
	} else {
		entries, err = ex.c.store.Lookup(ex.ctx, ex.key)
	}
	if err != nil {
		return err
	}
	ex.entries = entries
	// The first lookup's pairs go in the exchange; later ones (a relook
	// while the core's earlier states may still hold the first) do not.
	var buf []spec.Pair
	if !ex.pairUsed && len(entries) <= len(ex.pairBuf) {
		ex.pairUsed = true
		buf = ex.pairBuf[:len(entries)]
	}
	ex.pairs = pairsOf(entries, buf)
	return nil
}

// pairsOf returns the entries' pairs with their IDs, in buf when it has
// their length.
func pairsOf(entries []store.Entry, buf []spec.Pair) []spec.Pair {
	pairs := buf
	if len(pairs) != len(entries) {
		pairs = make([]spec.Pair, len(entries))
	}
	for i := range entries {
		pairs[i] = entries[i].Pair
		pairs[i].ID = entries[i].ID
	}
	return pairs
}

// decide asks the core what to do with the request given the stored pairs.
func (ex *exchange) decide() (*http.Response, error) {
	ex.decides++
	if ex.decides > maxDecides {
		return ex.passThrough(spec.CacheStatus{Fwd: spec.FwdBypass, Detail: "retries"})
	}
	next := ex.c.idle.Next(ex.sreq, ex.pairs)
	ex.trace.add(next)
	return ex.dispatch(next)
}

// dispatch does what an IdleClient's next state asks.
func (ex *exchange) dispatch(next spec.IdleNext) (*http.Response, error) {
	switch s := next.(type) {
	case spec.FromCache:
		return ex.fromCache(s)
	case spec.CacheMiss:
		return ex.miss(s)
	case spec.NeedRevalidation:
		return ex.forward(pending{reval: &s})
	case spec.PartialUpdate:
		return ex.partial(s)
	case spec.InvalidateEntries:
		return ex.invalidate(s)
	}
	return nil, fmt.Errorf("cellar: unexpected state %T", next)
}

// fromCache serves a stored response and, for stale-while-revalidate,
// starts the background refresh (once the stale body is open, so that the
// refresh cannot replace it first).
func (ex *exchange) fromCache(s spec.FromCache) (*http.Response, error) {
	if s.Pair == nil {
		// A generated response (only-if-cached's 504).
		return ex.respond(&s.Serve, s.Serve.CacheStatus, bodySource{}, OutcomeError)
	}
	o := OutcomeHit
	if s.Serve.CacheStatus.Detail != "" {
		o = OutcomeStale
	}
	var then func()
	if s.Refresh != nil {
		rv := *s.Refresh
		then = func() { ex.c.refresh(ex, rv) }
	}
	// A refresh holds the request and the exchange's pairs after the
	// response; a second decision (a stored body gone) may go upstream.
	ex.storedHit = s.Refresh == nil && ex.decides == 1
	return ex.serveStoredThen(&s.Serve, s.Pair, s.Serve.CacheStatus, o, then)
}

// serveStored serves a stored pair as sv says. A stored body that vanished
// or failed its checksum since the lookup makes the core decide again
// without it.
func (ex *exchange) serveStored(sv *spec.Serve, pair *spec.Pair, cs spec.CacheStatus, o Outcome) (*http.Response, error) {
	return ex.serveStoredThen(sv, pair, cs, o, nil)
}

// serveStoredThen is serveStored calling then once the body is open.
func (ex *exchange) serveStoredThen(sv *spec.Serve, pair *spec.Pair, cs spec.CacheStatus, o Outcome, then func()) (*http.Response, error) {
	var src bodySource
	if sv.Body != spec.BodyNone {
		var err error
		src, err = ex.openBody(pair)
		if err == nil && !bodyFits(sv, pair, src.size) {
			// The stored header declares more (or other) bytes than the
			// body holds: sending it would cut the client's connection
			// mid-body, so it is treated as corrupt (RFC 9111 §3.3).
			src.release()
			err = fmt.Errorf("cellar: stored body of %d bytes does not match its header: %w", src.size, store.ErrCorrupt)
		}
		if err != nil {
			if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrCorrupt) {
				ex.trace.event("stored body gone (" + err.Error() + "): deciding again without it")
				ex.dropPair(pair.ID)
				return ex.decide()
			}
			return ex.storeFailed("open", err)
		}
	}
	if then != nil {
		then()
	}
	return ex.respond(sv, cs, src, o)
}

// bodyFits reports whether a stored body of size bytes holds what sv
// sends from it: the whole body its Content-Length declares, or the
// ranges sv reads.
func bodyFits(sv *spec.Serve, pair *spec.Pair, size int64) bool {
	if size < 0 {
		return true // unknown: the reader reports a short body as an error
	}
	if n := headerLength(pair.Response.Header); n >= 0 && n != size && pair.Request.Method != http.MethodHead {
		return false
	}
	if sv.Body == spec.BodyRanges {
		for _, r := range sv.Ranges {
			if r.Start < 0 || r.Start+r.Length > size {
				return false
			}
		}
		parts, _ := sv.Parts()
		for _, p := range parts {
			if p.Range.Start+p.Range.Length > size {
				return false
			}
		}
	}
	return true
}

// openBody opens pair's stored body.
func (ex *exchange) openBody(pair *spec.Pair) (bodySource, error) {
	b, err := ex.c.store.Open(ex.ctx, ex.key, pair.ID)
	if err != nil {
		return bodySource{}, err
	}
	src := bodySource{r: b, ra: b, size: b.Size(), closer: b, from: SourceCache}
	src.wt, _ = b.(io.WriterTo)
	return src, nil
}

// dropPair removes the pair with id from the candidates.
func (ex *exchange) dropPair(id string) {
	pairs := ex.pairs[:0:0]
	for _, p := range ex.pairs {
		if p.ID != id {
			pairs = append(pairs, p)
		}
	}
	ex.pairs = pairs
}

// storeFailed degrades to pass-through after a store error: the request is
// forwarded and the response served without the cache.
func (ex *exchange) storeFailed(op string, err error) (*http.Response, error) {
	ex.c.storeWarn.warn(ex.ctx, ex.c.log, "cellar: store failed, passing through", "op", op, "key", ex.key, "err", err)
	ex.trace.event("store " + op + " failed: " + err.Error())
	return ex.passThrough(spec.CacheStatus{Fwd: spec.FwdBypass, Detail: "store-" + op})
}

// passThrough forwards the client's request as it is and returns the
// upstream response untouched but for Cache-Status (so protocol switches
// work through it).
func (ex *exchange) passThrough(cs spec.CacheStatus) (*http.Response, error) {
	c := ex.c
	ex.bodyForwarded = true
	ex.fwd = cs.Fwd
	resp, err := ex.send(ex.req)
	if err != nil {
		return nil, err
	}
	cs.FwdStatus = resp.StatusCode
	cs.CollapseFailed = ex.collapseFailed
	ex.cs = cs
	v := cs.Value(c.name)
	if resp.Header == nil {
		resp.Header = http.Header{}
	}
	resp.Header["Cache-Status"] = append(resp.Header["Cache-Status"], v)
	c.metrics.Served(OutcomeBypass)
	c.finishTrace(ex, v)
	if resp.StatusCode == http.StatusSwitchingProtocols || ex.req.Method == http.MethodConnect || resp.Body == nil {
		return resp, nil
	}
	resp.Body = ex.newBody(bodySource{r: resp.Body, closer: resp.Body, from: SourceUpstream})
	return resp, nil
}

// invalidate forwards a request with an unsafe method and, after a
// non-error response, removes the stored responses the core names
// (RFC 9111 §4.4).
func (ex *exchange) invalidate(s spec.InvalidateEntries) (*http.Response, error) {
	c := ex.c
	hreq, err := ex.upstreamRequest(ex.ctx, s.Forward)
	if err != nil {
		return nil, err
	}
	t0 := c.now()
	resp, err := ex.send(hreq)
	if err != nil {
		return nil, err
	}
	sresp := spec.Response{Status: resp.StatusCode, Header: resp.Header, RequestTime: t0, ResponseTime: c.now()}
	dctx := context.WithoutCancel(ex.ctx)
	for _, k := range s.Keys(sresp) {
		c.flights.invalidate(k)
		if err := c.store.Delete(dctx, k); err != nil {
			c.log.WarnContext(ex.ctx, "cellar: invalidation failed", "key", k, "err", err)
			ex.trace.event("delete " + k + " failed: " + err.Error())
		} else {
			ex.trace.event("invalidated " + k)
		}
	}
	// The responses stored for opted-in methods, body-hashed keys
	// included, under the same URIs (only when such methods are cached).
	for _, p := range s.Prefixes(sresp) {
		c.flights.invalidatePrefix(p)
		if _, err := c.store.PurgePrefix(dctx, p); err != nil {
			c.log.WarnContext(ex.ctx, "cellar: invalidation failed", "prefix", p, "err", err)
			ex.trace.event("purge " + p + "* failed: " + err.Error())
		} else {
			ex.trace.event("invalidated " + p + "*")
		}
	}
	if sa, ok := s.Store(sresp); ok {
		ex.trace.add(sa)
		return ex.storeUnsafeResponse(sa, resp)
	}
	sv := s.Serve(sresp)
	return ex.respond(&sv, sv.CacheStatus, directSource(resp), OutcomePass)
}

// storeUnsafeResponse serves the response to an unsafe request that the
// core keeps for later GETs (RFC 9110 §9.3.3) while storing it, as a miss
// is filled, through a flight of its own that no other request joins.
func (ex *exchange) storeUnsafeResponse(sa spec.StoreAndUse, resp *http.Response) (*http.Response, error) {
	f := newFlight(ex.c, sa.Key, ex.ctx, 1)
	res := &leaderResult{}
	var fill func() error
	f.beginStore(ex, sa, resp, res, &fill)
	direct := res.kind == resDirect
	go func() {
		if fill != nil {
			fill()
		}
		f.endRun(direct)
	}()
	if direct {
		src := directSource(res.resp)
		src.close = f.release
		return ex.respond(&res.serve, res.serve.CacheStatus, src, res.outcome)
	}
	return ex.respond(&res.serve, res.serve.CacheStatus, spoolSource(ex, res.spool, res.size, f.release), res.outcome)
}

// upstreamRequest builds the request to send for fwd on ctx.
func (ex *exchange) upstreamRequest(ctx context.Context, fwd spec.Request) (*http.Request, error) {
	ex.noteBodyForwarded()
	return upstreamRequest(ctx, ex.req, fwd)
}

// noteBodyForwarded records that the request's body, which cannot be
// replayed, goes upstream (and is closed there). It is called on the
// request's goroutine, before any flight uses the request.
func (ex *exchange) noteBodyForwarded() {
	if ex.req.GetBody == nil && ex.req.Body != nil && ex.req.Body != http.NoBody {
		ex.bodyForwarded = true
	}
}

// specResponse is the core's view of an upstream response, with the forced
// TTL applied when the request asks for one.
func (ex *exchange) specResponse(resp *http.Response, t0, t1 time.Time) spec.Response {
	if resp.Header == nil {
		resp.Header = http.Header{}
	}
	if ex.force && resp.StatusCode < 500 {
		ex.c.forceHeader(resp.Header, ex.forceTTL)
	}
	return spec.Response{Status: resp.StatusCode, Header: resp.Header, RequestTime: t0, ResponseTime: t1}
}

// send sends req upstream: to the handler the exchange serves
// (Cache.Handler), in-process, or over the exchange's upstream.
func (ex *exchange) send(req *http.Request) (*http.Response, error) {
	var resp *http.Response
	var err error
	if ex.inproc != nil {
		resp, err = serveInProcess(ex.inproc, req)
	} else {
		resp, err = ex.upstream.RoundTrip(ex.interim.withInterim(req))
	}
	if err == nil {
		withBodyTimeout(resp, ex.c.bodyTimeout)
	}
	return resp, err
}

// update writes the metadata of pairs updated after a validation
// (RFC 9111 §4.3.4), with the new stale horizons the core computed.
func (c *Cache) update(ctx context.Context, key string, entries []store.Entry, n spec.NeedToBeUpdated) error {
	byID := make(map[string]*store.Entry, len(entries))
	for i := range entries {
		byID[entries[i].ID] = &entries[i]
	}
	out := make([]store.Entry, 0, len(n.Updates))
	for i, p := range n.Updates {
		old, ok := byID[p.ID]
		if !ok {
			continue // not (yet) stored: an in-flight pair
		}
		e := *old
		e.Pair, e.Expires = p, n.Expires[i]
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil
	}
	return c.store.Update(ctx, key, out)
}
