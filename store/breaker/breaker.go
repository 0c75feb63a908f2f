// Package breaker is a circuit breaker around a [store.Store]: after a few
// consecutive failures that mean the backend cannot be reached, it stops
// asking it, and every call fails at once with an error wrapping
// store.ErrUnavailable (the engine then passes requests through), until a
// probe in the background finds the backend answering again.
//
// A backend that is down refuses connections at once and costs little; one
// that hangs (a stopped process, a network partition) makes every call wait
// for its timeout. Behind a Redis stopped with SIGSTOP each request waited
// 300–500 ms and throughput fell from 2,300 to 130 req/s (issue 13). The
// breaker turns the slow failure into a fast one after Threshold calls.
//
// It is a wrapper, not part of the engine, so that it composes with any
// backend and the engine keeps one rule (an unavailable store means
// pass-through); `cellar serve` installs it around the Redis store, the
// only backend that can hang on the network. Connect also lets a process
// start while its backend is down.
package breaker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cellar-http/cellar/store"
)

// Defaults for the zero fields of Options.
const (
	DefaultThreshold     = 5
	DefaultProbeInterval = time.Second
	DefaultProbeTimeout  = time.Second
)

// ProbeKey is the key an open breaker looks up to learn whether the backend
// answers again: one cheap read of a key nothing stores.
const ProbeKey = "cellar-breaker-probe:"

// ErrOpen is the error of every call while the breaker is open. It wraps
// store.ErrUnavailable.
var ErrOpen = fmt.Errorf("breaker open, the store is not asked: %w", store.ErrUnavailable)

// Options configure a Breaker.
type Options struct {
	// Threshold is how many consecutive calls must fail with
	// store.ErrUnavailable (a timeout, a refused or reset connection) for
	// the breaker to open. Zero means DefaultThreshold.
	Threshold int
	// ProbeInterval is how often an open breaker probes the backend; zero
	// means DefaultProbeInterval.
	ProbeInterval time.Duration
	// ProbeTimeout bounds one probe; zero means DefaultProbeTimeout.
	ProbeTimeout time.Duration
	// Logger receives one line when the breaker opens and one when it
	// closes; nil discards them.
	Logger *slog.Logger
}

// Breaker is a store.Store that stops asking its backend while the backend
// cannot be reached. It is safe for concurrent use.
type Breaker struct {
	opts    Options
	log     *slog.Logger
	connect func(context.Context) (store.Store, error)

	inner    atomic.Pointer[storeRef] // nil until connected
	open     atomic.Bool
	failures atomic.Int64 // consecutive unavailable failures
	trips    atomic.Int64

	mu      sync.Mutex
	since   time.Time // when it last opened
	lastErr error     // the failure that opened it
	closed  bool
	stop    chan struct{}
	probes  sync.WaitGroup

	// role is the role ClaimRole was asked for ("" before): a backend
	// reached later is asked for it before any call (see claim).
	role       string
	roleLogged atomic.Bool
}

type storeRef struct{ s store.Store }

var _ store.Store = (*Breaker)(nil)

// New returns a closed breaker around s.
func New(s store.Store, o Options) *Breaker {
	b := newBreaker(o)
	b.inner.Store(&storeRef{s})
	return b
}

// Connect opens the backend with connect and returns a breaker around it.
// When connect fails with an error wrapping store.ErrUnavailable, the
// breaker starts open (every call fails at once with ErrOpen) and calls
// connect again at each probe until it succeeds; other errors (a bad
// configuration) are returned.
func Connect(connect func(context.Context) (store.Store, error), o Options) (*Breaker, error) {
	b := newBreaker(o)
	b.connect = connect
	ctx, cancel := context.WithTimeout(context.Background(), b.opts.ProbeTimeout)
	defer cancel()
	s, err := connect(ctx)
	switch {
	case err == nil:
		b.inner.Store(&storeRef{s})
	case errors.Is(err, store.ErrUnavailable):
		b.trip(err)
	default:
		return nil, err
	}
	return b, nil
}

func newBreaker(o Options) *Breaker {
	if o.Threshold <= 0 {
		o.Threshold = DefaultThreshold
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = DefaultProbeInterval
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = DefaultProbeTimeout
	}
	b := &Breaker{opts: o, log: o.Logger, stop: make(chan struct{})}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	return b
}

// IsOpen reports whether the breaker is open: calls fail at once without
// reaching the backend.
func (b *Breaker) IsOpen() bool { return b.open.Load() }

// Trips returns how many times the breaker has opened.
func (b *Breaker) Trips() int64 { return b.trips.Load() }

// State returns whether the breaker is open and, if it is, since when and
// the failure that opened it.
func (b *Breaker) State() (open bool, since time.Time, cause error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open.Load() {
		return false, time.Time{}, nil
	}
	return true, b.since, b.lastErr
}

// backend returns the store to call, or ErrOpen.
func (b *Breaker) backend() (store.Store, error) {
	if b.open.Load() {
		return nil, ErrOpen
	}
	r := b.inner.Load()
	if r == nil {
		return nil, ErrOpen
	}
	return r.s, nil
}

// record counts a call's outcome: an unavailable backend adds a failure,
// and Threshold in a row open the breaker; any answer of the backend's
// (success, not found, too large) resets the count. A caller that gave up
// (its context ended) says nothing about the backend.
func (b *Breaker) record(err error) {
	switch {
	case err == nil:
		b.failures.Store(0)
	case errors.Is(err, store.ErrUnavailable):
		if b.failures.Add(1) >= int64(b.opts.Threshold) {
			b.trip(err)
		}
	case errors.Is(err, context.Canceled), errors.Is(err, store.ErrClosed):
	default:
		b.failures.Store(0)
	}
}

// trip opens the breaker and starts the probe, unless it is open already.
func (b *Breaker) trip(cause error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || !b.open.CompareAndSwap(false, true) {
		return
	}
	b.trips.Add(1)
	b.since, b.lastErr = time.Now(), cause
	b.log.Warn("store unavailable: breaker open, serving without the cache until it answers",
		"failures", b.failures.Load(), "err", cause, "probe_every", b.opts.ProbeInterval)
	b.probes.Add(1)
	go b.probe()
}

// probe asks the backend one cheap question every ProbeInterval (or
// connects it, if it never was) and closes the breaker when it answers.
func (b *Breaker) probe() {
	defer b.probes.Done()
	t := time.NewTicker(b.opts.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		role, err := b.ask()
		if err != nil {
			b.log.Debug("store probe failed", "err", err)
			continue
		}
		b.mu.Lock()
		if b.role != role {
			// ClaimRole was asked for a role during the probe, after it
			// claimed: the next probe claims it before closing.
			b.mu.Unlock()
			continue
		}
		since := b.since
		b.failures.Store(0)
		b.open.Store(false)
		b.mu.Unlock()
		b.log.Info("store answers again: breaker closed", "open_for", time.Since(since).Round(time.Millisecond))
		return
	}
}

// ask is one probe: a lookup of ProbeKey, or a connection attempt when the
// backend was never reached; either way the backend must also accept the
// role ClaimRole was given (claim). It returns that role.
func (b *Breaker) ask() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), b.opts.ProbeTimeout)
	defer cancel()
	if r := b.inner.Load(); r != nil {
		role, err := b.claim(ctx, r.s)
		if err != nil {
			return role, err
		}
		_, err = r.s.Lookup(ctx, ProbeKey)
		return role, err
	}
	s, err := b.connect(ctx)
	if err != nil {
		return "", err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return "", s.Close()
	}
	b.inner.Store(&storeRef{s})
	b.mu.Unlock()
	return b.claim(ctx, s)
}

// ClaimRole implements store.RoleKeeper. A backend that answers is asked
// at once; one that cannot be reached (the breaker is open, or Connect
// could not connect) is asked before the breaker closes, so that a process
// started while its Redis was down still never uses a prefix kept for the
// other role. A backend that keeps the other role, or that could not
// answer the claim, stays unused: the breaker opens, and its probes ask
// again.
func (b *Breaker) ClaimRole(ctx context.Context, shared bool) error {
	b.mu.Lock()
	b.role = store.RoleName(shared)
	b.mu.Unlock()
	s, err := b.backend()
	if err != nil {
		return err
	}
	_, err = b.claim(ctx, s)
	if errors.Is(err, store.ErrRole) || errors.Is(err, store.ErrUnavailable) {
		// Not used until a probe's claim succeeds.
		b.trip(err)
	}
	return err
}

// claim asks s for the role ClaimRole was given, if any and if s keeps
// roles, and returns that role ("" for none), which the probe compares
// with b.role before closing the breaker.
func (b *Breaker) claim(ctx context.Context, s store.Store) (string, error) {
	b.mu.Lock()
	role := b.role
	b.mu.Unlock()
	rk, ok := s.(store.RoleKeeper)
	if role == "" || !ok {
		return role, nil
	}
	err := rk.ClaimRole(ctx, role == store.RoleName(true))
	if errors.Is(err, store.ErrRole) && !b.roleLogged.Swap(true) {
		b.log.Error("the store keeps the entries of caches of the other role: not using it", "err", err)
	}
	return role, err
}

// Lookup implements store.Store.
func (b *Breaker) Lookup(ctx context.Context, key string) ([]store.Entry, error) {
	s, err := b.backend()
	if err != nil {
		return nil, err
	}
	es, err := s.Lookup(ctx, key)
	b.record(err)
	return es, err
}

// Open implements store.Store.
func (b *Breaker) Open(ctx context.Context, key, id string) (store.Body, error) {
	s, err := b.backend()
	if err != nil {
		return nil, err
	}
	body, err := s.Open(ctx, key, id)
	b.record(err)
	return body, err
}

// Create implements store.Store. The Writer is the backend's: a write that
// fails makes the engine abort the fill, which bounds its cost.
func (b *Breaker) Create(ctx context.Context, e store.Entry) (store.Writer, error) {
	s, err := b.backend()
	if err != nil {
		return nil, err
	}
	w, err := s.Create(ctx, e)
	b.record(err)
	return w, err
}

// Update implements store.Store.
func (b *Breaker) Update(ctx context.Context, key string, entries []store.Entry) error {
	s, err := b.backend()
	if err != nil {
		return err
	}
	err = s.Update(ctx, key, entries)
	b.record(err)
	return err
}

// Delete implements store.Store.
func (b *Breaker) Delete(ctx context.Context, key string) error {
	s, err := b.backend()
	if err != nil {
		return err
	}
	err = s.Delete(ctx, key)
	b.record(err)
	return err
}

// PurgeTag implements store.Store.
func (b *Breaker) PurgeTag(ctx context.Context, tag string) (int, error) {
	s, err := b.backend()
	if err != nil {
		return 0, err
	}
	n, err := s.PurgeTag(ctx, tag)
	b.record(err)
	return n, err
}

// PurgePrefix implements store.Store.
func (b *Breaker) PurgePrefix(ctx context.Context, prefix string) (int, error) {
	s, err := b.backend()
	if err != nil {
		return 0, err
	}
	n, err := s.PurgePrefix(ctx, prefix)
	b.record(err)
	return n, err
}

// Iterate implements store.Store.
func (b *Breaker) Iterate(ctx context.Context, fn func(store.Entry) bool) error {
	s, err := b.backend()
	if err != nil {
		return err
	}
	err = s.Iterate(ctx, fn)
	b.record(err)
	return err
}

// Stats returns the backend's counters (zero before it is connected).
func (b *Breaker) Stats() store.Stats {
	if r := b.inner.Load(); r != nil {
		return r.s.Stats()
	}
	return store.Stats{}
}

// Close stops the probe and closes the backend.
func (b *Breaker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.stop)
	b.mu.Unlock()
	b.probes.Wait()
	if r := b.inner.Load(); r != nil {
		return r.s.Close()
	}
	return nil
}
