package cellar

import (
	"context"
	"errors"
	"hash/maphash"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
)

// A flight is one upstream exchange for a primary key (a miss or a
// validation) and the fill that may follow it, shared by the requests
// waiting for it: its leader, whose state the flight drives, and the
// followers collapsed into it.
//
// The upstream request runs on the flight's own context, detached from
// every waiter's. Waiters are counted; when the last one leaves before the
// response arrives, the request is cancelled; when it leaves during the
// fill, the fill goes on in the background if it may (see
// Config.DetachedFillLimit), else it is cancelled and the store write
// aborted.
type flight struct {
	c      *Cache
	key    string
	tmpID  string // the ID followers see for the pair being filled
	ctx    context.Context
	cancel context.CancelFunc

	mu         sync.Mutex
	waiters    int
	noJoin     bool // cancelled, or its result cannot be shared any more
	background bool // runs on without waiters (a refresh, or a detached fill)
	anySize    bool // the fill may detach whatever its size (the leader never wanted the body)
	slot       bool // holds a background worker slot
	stopBG     func() bool
	stage      stage
	expected   int64 // announced body length during the fill, or -1
	noBody     bool
	written    atomic.Int64
	invalid    atomic.Bool // an unsafe request invalidated the key meanwhile

	leaderGone  bool
	leaderReady chan struct{}
	leaderRes   *leaderResult

	published bool
	done      chan struct{} // closed when out is set
	out       outcome

	storedID string // the ID the fill's entry was committed under
}

type stage int

const (
	stageUpstream stage = iota // waiting for the upstream response
	stageFill                  // reading the body into the store and spool
	stageDone
)

// pending is the state whose upstream exchange a flight carries out: a
// miss, or a validation.
type pending struct {
	miss  *spec.CacheMiss
	reval *spec.NeedRevalidation
	// refetch: miss sends a revalidation's request again (§4.3.4).
	refetch bool
}

// upstreamFailed asks the core for the stale response to serve when p's
// request got no response: a revalidation's, or a refetch's that continues
// one.
func (p pending) upstreamFailed(f spec.Failure) (spec.NeedToBeUpdated, bool) {
	if p.reval != nil {
		return p.reval.UpstreamFailedWith(f)
	}
	return p.miss.UpstreamFailedWith(f)
}

// fwd is the RFC 9211 fwd parameter of p's forwarded request.
func (p pending) fwd() spec.Fwd {
	if p.reval != nil {
		return p.reval.Fwd()
	}
	return p.miss.Fwd()
}

func (p pending) forward() spec.Request {
	if p.reval != nil {
		return p.reval.Forward
	}
	return p.miss.Forward
}

// outcome is what followers learn from a flight.
type outcome struct {
	kind outcomeKind
	// outStoring: the pair being stored (ID is the flight's tmpID), its
	// variant, and the spool its body is written to.
	pair     spec.Pair
	variant  string
	spool    *spool
	expected int64
	// outUpdated: the stored pairs the validation freshened.
	updates []spec.Pair
	// outFailed: the upstream error, or the error response's header.
	err  error
	resp *spec.Response
	// cs is the leader's Cache-Status, which followers report as collapsed.
	cs spec.CacheStatus
}

type outcomeKind int

const (
	outNone    outcomeKind = iota // nothing to share: followers go on their own
	outStoring                    // a response is being stored
	outUpdated                    // stored responses were freshened
	outFailed                     // the upstream failed
)

// leaderResult is what the leader serves.
type leaderResult struct {
	steps   []spec.State
	err     error
	kind    resultKind
	serve   spec.Serve
	pair    *spec.Pair     // resStored: the stored pair to serve
	spool   *spool         // resSpool: a reference for the leader
	size    int64          // resSpool: the announced length, or -1
	resp    *http.Response // resDirect: the upstream response
	outcome Outcome
}

type resultKind int

const (
	resStored resultKind = iota
	resSpool
	resDirect
)

// discard releases what an unused result holds.
func (r *leaderResult) discard() {
	switch r.kind {
	case resSpool:
		if r.spool != nil {
			r.spool.release()
		}
	case resDirect:
		if r.resp != nil && r.resp.Body != nil {
			r.resp.Body.Close()
		}
	case resStored:
	}
}

// flightTable holds the flights that requests may join, by primary key,
// and for each shard of keys a generation that moves when a flight stored
// or updated something: a request that found no flight, but whose lookup is
// older than the last generation change, looks up again before leading.
type flightTable struct {
	mu sync.Mutex
	m  map[string]*flight
	// pass remembers, for a few seconds, keys whose last response could not
	// be stored: collapsing requests for them would only make each wait
	// for another's response header before going upstream anyway.
	pass map[string]time.Time
	seed maphash.Seed
	gens [1024]atomic.Uint64
	ids  atomic.Uint64
}

func (t *flightTable) init() {
	t.m = make(map[string]*flight)
	t.pass = make(map[string]time.Time)
	t.seed = maphash.MakeSeed()
}

func (t *flightTable) shard(key string) *atomic.Uint64 {
	return &t.gens[maphash.String(t.seed, key)%uint64(len(t.gens))]
}

func (t *flightTable) gen(key string) uint64 { return t.shard(key).Load() }

type role int

const (
	roleLeader role = iota
	roleFollower
	roleRelook
)

// join makes the caller a follower of the flight for key, or the leader of
// a new one, or tells it to look up again (roleRelook).
func (t *flightTable) join(c *Cache, ex *exchange, register bool) (*flight, role) {
	if !register {
		return newFlight(c, ex.key, ex.ctx, 1), roleLeader
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if f := t.m[ex.key]; f != nil && f.tryJoin() {
		return f, roleFollower
	}
	if until, ok := t.pass[ex.key]; ok {
		if time.Now().Before(until) {
			return newFlight(c, ex.key, ex.ctx, 1), roleLeader
		}
		delete(t.pass, ex.key)
	}
	if t.shard(ex.key).Load() != ex.gen {
		return nil, roleRelook
	}
	f := newFlight(c, ex.key, ex.ctx, 1)
	t.m[ex.key] = f
	return f, roleLeader
}

// lead registers a background flight for key unless one exists.
func (t *flightTable) lead(c *Cache, key string, parent context.Context) *flight {
	t.mu.Lock()
	defer t.mu.Unlock()
	if f := t.m[key]; f != nil {
		f.mu.Lock()
		joinable := !f.noJoin
		f.mu.Unlock()
		if joinable {
			return nil
		}
	}
	f := newFlight(c, key, parent, 0)
	f.background, f.slot = true, true
	f.leaderGone = true
	f.stopBG = context.AfterFunc(c.bgCtx, f.cancel)
	t.m[key] = f
	return f
}

// passTime is how long a key whose response could not be stored is not
// collapsed; passMax bounds how many such keys are remembered.
const (
	passTime = 5 * time.Second
	passMax  = 4096
)

// markPass remembers that key's response could not be stored.
func (t *flightTable) markPass(key string) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.pass) >= passMax {
		for k, until := range t.pass {
			if now.After(until) {
				delete(t.pass, k)
			}
		}
		if len(t.pass) >= passMax {
			clear(t.pass)
		}
	}
	t.pass[key] = now.Add(passTime)
}

// remove unregisters f; bump moves its shard's generation (something was
// stored or updated).
func (t *flightTable) remove(f *flight, bump bool) {
	t.mu.Lock()
	if t.m[f.key] == f {
		delete(t.m, f.key)
	}
	if bump {
		t.shard(f.key).Add(1)
	}
	t.mu.Unlock()
}

// invalidate marks the flight for key, if any, so that what it fills is not
// committed: an unsafe request changed the resource meanwhile (§4.4).
func (t *flightTable) invalidate(key string) {
	t.mu.Lock()
	f := t.m[key]
	if f != nil {
		delete(t.m, key)
	}
	t.mu.Unlock()
	if f != nil {
		f.invalid.Store(true)
		f.mu.Lock()
		f.noJoin = true
		f.mu.Unlock()
	}
}

// invalidatePrefix is invalidate for every flight whose key starts with
// prefix (RFC 9111 §4.4, the keys of opted-in methods of a URI).
func (t *flightTable) invalidatePrefix(prefix string) {
	var hit []*flight
	t.mu.Lock()
	for k, f := range t.m {
		if strings.HasPrefix(k, prefix) {
			hit = append(hit, f)
			delete(t.m, k)
		}
	}
	t.mu.Unlock()
	for _, f := range hit {
		f.invalid.Store(true)
		f.mu.Lock()
		f.noJoin = true
		f.mu.Unlock()
	}
}

func newFlight(c *Cache, key string, parent context.Context, waiters int) *flight {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	return &flight{
		c: c, key: key, ctx: ctx, cancel: cancel, waiters: waiters, expected: -1,
		tmpID:       "\x00inflight-" + strconv.FormatUint(c.flights.ids.Add(1), 10),
		leaderReady: make(chan struct{}),
		done:        make(chan struct{}),
	}
}

func (f *flight) tryJoin() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.noJoin {
		return false
	}
	f.waiters++
	return true
}

// release drops a waiter. The last one to leave cancels the upstream
// exchange, unless the fill may go on detached.
func (f *flight) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waiters--
	if f.waiters > 0 || f.background {
		return
	}
	if f.stage == stageFill && f.mayDetach() {
		f.background, f.slot = true, true
		f.stopBG = context.AfterFunc(f.c.bgCtx, f.cancel)
		return
	}
	if f.stage != stageDone {
		f.noJoin = true
		f.cancel()
	}
}

// mayDetach reports whether the fill may go on without waiters, taking a
// background slot if so. f.mu is held.
func (f *flight) mayDetach() bool {
	limit := f.c.detachLimit
	if limit < 0 {
		return false
	}
	remaining := int64(-1)
	switch {
	case f.anySize:
		remaining = 0
	case f.noBody:
		remaining = 0
	case f.expected >= 0:
		remaining = f.expected - f.written.Load()
	}
	return remaining >= 0 && remaining <= limit && f.c.acquireSlot()
}

// publish tells followers the outcome (once) and unregisters the flight
// unless a fill goes on that late arrivals may still follow.
func (f *flight) publish(o outcome, bump bool) {
	f.mu.Lock()
	if f.published {
		f.mu.Unlock()
		return
	}
	f.published = true
	f.out = o
	if o.kind != outStoring {
		f.noJoin = true
	}
	f.mu.Unlock()
	close(f.done)
	if o.kind != outStoring {
		f.c.flights.remove(f, bump)
	}
}

// deliver hands the leader its result, or discards it if the leader left.
func (f *flight) deliver(r *leaderResult) {
	f.mu.Lock()
	if f.leaderGone {
		f.mu.Unlock()
		r.discard()
		return
	}
	f.leaderRes = r
	f.mu.Unlock()
	close(f.leaderReady)
}

// awaitLeader waits for the leader's result or ctx.
func (f *flight) awaitLeader(ctx context.Context) (*leaderResult, error) {
	select {
	case <-f.leaderReady:
		return f.leaderRes, nil
	case <-ctx.Done():
	}
	f.mu.Lock()
	r := f.leaderRes
	f.leaderGone = true
	f.mu.Unlock()
	if r != nil {
		r.discard()
	}
	f.release()
	return nil, ctx.Err()
}

// filled marks the end of the fill, before its readers learn of it: a
// reader leaving then is no reason to detach or cancel anything.
func (f *flight) filled() {
	f.mu.Lock()
	f.stage = stageDone
	f.mu.Unlock()
}

// endRun marks the flight over: it gives back its background slot and
// releases its context unless an upstream body is still being read directly.
func (f *flight) endRun(direct bool) {
	f.mu.Lock()
	f.stage = stageDone
	f.noJoin = true
	if f.stopBG != nil {
		f.stopBG()
	}
	slot := f.slot
	f.slot = false
	f.mu.Unlock()
	if slot {
		f.c.releaseSlot()
	}
	if !direct {
		f.cancel()
	}
}

// forward carries out p's upstream exchange: through a registered flight
// when it may (leading it or following another request's), else through a
// private one.
func (ex *exchange) forward(p pending) (*http.Response, error) {
	c := ex.c
	ex.fwd = p.fwd()
	f, r := c.flights.join(c, ex, ex.follow)
	switch r {
	case roleRelook:
		// A flight for this key ended after our lookup: what it stored or
		// updated may answer the request now.
		ex.follow = !ex.relooked
		ex.relooked = true
		ex.trace.event("a concurrent fill ended: looking up again")
		if err := ex.lookup(); err != nil {
			return ex.storeFailed("lookup", err)
		}
		return ex.decide()
	case roleFollower:
		ex.follow = false
		c.metrics.Coalesced()
		return ex.followFlight(f, p)
	case roleLeader:
	}
	ex.noteBodyForwarded()
	go f.run(ex, p)
	res, err := f.awaitLeader(ex.ctx)
	if err != nil {
		return nil, err
	}
	for _, st := range res.steps {
		ex.trace.add(st)
	}
	if res.err != nil {
		f.release()
		return nil, res.err
	}
	switch res.kind {
	case resSpool:
		if res.serve.Body == spec.BodyNone {
			// The client gets a 304 for its own conditional while the
			// full response the validation brought is stored: the fill
			// was never the client's to read, so it goes on detached
			// whatever its size.
			f.mu.Lock()
			f.anySize = true
			f.mu.Unlock()
		}
		return ex.respond(&res.serve, res.serve.CacheStatus, spoolSource(ex, res.spool, res.size, f.release), res.outcome)
	case resDirect:
		src := directSource(res.resp)
		stop := context.AfterFunc(ex.ctx, f.cancel)
		src.close = func() { // after the upstream body is closed
			stop()
			f.cancel()
			f.release()
		}
		return ex.respond(&res.serve, res.serve.CacheStatus, src, res.outcome)
	case resStored:
	}
	f.release()
	return ex.serveStored(&res.serve, res.pair, res.serve.CacheStatus, res.outcome)
}

// followFlight waits for f's outcome and answers the request from it when
// the core agrees, else goes on alone.
func (ex *exchange) followFlight(f *flight, p pending) (*http.Response, error) {
	select {
	case <-f.done:
	case <-ex.ctx.Done():
		f.release()
		return nil, ex.ctx.Err()
	}
	o := f.out
	ex.trace.event("collapsed into a concurrent request")
	switch o.kind {
	case outStoring:
		// Collapsed: the flight's response answers this request's
		// no-cache or max-age=0 too (a forced refresh), so concurrent
		// forced refreshes make one upstream request.
		pairs := withVariant(ex.entries, o.variant, o.pair)
		next := ex.c.idle.Collapsed(ex.sreq, pairs)
		if fc, ok := next.(spec.FromCache); ok && fc.Pair != nil && fc.Pair.ID == o.pair.ID {
			ex.trace.add(next)
			if !o.spool.acquire() {
				// The fill ended and was released: it is stored by now,
				// or failed.
				f.release()
				return ex.relookAfter(f, &o.cs)
			}
			ex.collapsed = &o.cs
			return ex.respond(&fc.Serve, fc.Serve.CacheStatus, spoolSource(ex, o.spool, o.expected, f.release), OutcomeHit)
		}
	case outUpdated:
		pairs := withUpdates(ex.pairs, o.updates)
		next := ex.c.idle.Collapsed(ex.sreq, pairs)
		if fc, ok := next.(spec.FromCache); ok && fc.Pair != nil && updated(o.updates, fc.Pair.ID) {
			f.release()
			ex.trace.add(next)
			ex.pairs = pairs
			ex.collapsed = &o.cs
			return ex.serveStored(&fc.Serve, fc.Pair, fc.Serve.CacheStatus, OutcomeRevalidated)
		}
	case outFailed:
		if o.err != nil && !errors.Is(o.err, context.Canceled) && !droppedAlone(o.err) {
			f.release()
			ex.collapsed = &o.cs
			return ex.upstreamFailed(p, o.err)
		}
		if o.resp != nil && p.reval != nil {
			if n, ok := p.reval.Next(*o.resp).(spec.NeedToBeUpdated); ok && n.Stale() {
				f.release()
				ex.trace.add(n)
				ex.collapsed = &o.cs
				return ex.serveStored(&n.Serve, n.Pair, n.Serve.CacheStatus, OutcomeStale)
			}
		}
	case outNone:
	}
	f.release()
	ex.trace.event("the collapsed request's response does not answer this one: forwarding alone")
	ex.collapseFailed = true
	return ex.forward(p)
}

// relookAfter looks up again, once f's fill has ended, without joining
// flights: the entry f committed answers the request as the flight's
// response would have (spec.IdleClient.Collapsed: a forced refresh takes
// it too); anything else, and a fill that failed, is decided afresh.
func (ex *exchange) relookAfter(f *flight, cs *spec.CacheStatus) (*http.Response, error) {
	ex.follow = false
	if err := ex.lookup(); err != nil {
		return ex.storeFailed("lookup", err)
	}
	f.mu.Lock()
	id := f.storedID
	f.mu.Unlock()
	if id != "" {
		next := ex.c.idle.Collapsed(ex.sreq, ex.pairs)
		if fc, ok := next.(spec.FromCache); ok && fc.Pair != nil && fc.Pair.ID == id {
			ex.trace.add(next)
			ex.collapsed = cs
			return ex.serveStored(&fc.Serve, fc.Pair, fc.Serve.CacheStatus, OutcomeHit)
		}
	}
	return ex.decide()
}

// withVariant returns the stored pairs with p in place of the entry of the
// same variant.
func withVariant(entries []store.Entry, variant string, p spec.Pair) []spec.Pair {
	pairs := make([]spec.Pair, 0, len(entries)+1)
	for i := range entries {
		if entries[i].Variant == variant {
			continue
		}
		q := entries[i].Pair
		q.ID = entries[i].ID
		pairs = append(pairs, q)
	}
	return append(pairs, p)
}

// updated reports whether the pair with id is among ups: only a pair the
// flight's validation freshened may answer a collapsed request
// (spec.IdleClient.Collapsed).
func updated(ups []spec.Pair, id string) bool {
	for i := range ups {
		if ups[i].ID == id {
			return true
		}
	}
	return false
}

// withUpdates returns pairs with the updated ones replaced, by ID.
func withUpdates(pairs []spec.Pair, ups []spec.Pair) []spec.Pair {
	out := make([]spec.Pair, len(pairs))
	copy(out, pairs)
	for i := range out {
		for j := range ups {
			if ups[j].ID == out[i].ID {
				out[i] = ups[j]
			}
		}
	}
	return out
}
