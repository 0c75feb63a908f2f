// Package cellar is an RFC 9111 HTTP cache for Go programs: an engine that
// drives the sans-I/O core (package spec) against a store (package store) and
// an upstream, and two thin adapters on it: a client [http.RoundTripper]
// ([NewTransport], a private cache by default) and a server [Middleware] (a
// shared cache in front of a handler).
//
// The engine decides no cache rule itself. For each request it looks up the
// stored variants, asks spec what to do, does the I/O the state asks for
// (forward, validate, serve, store, update, invalidate) and feeds the result
// back until a terminal state. Every response carries a Cache-Status field
// (RFC 9211) built from the core's parameters, and a decision trace
// ([TraceFrom]) lists the states visited with the RFC section that decided
// each.
//
// # Keys
//
// The primary key is spec.Key of the request's absolute URL: the target
// exactly as it is forwarded (url.URL.RequestURI, the host as sent), never
// a normalised spelling the origin would not see. When req.Host is
// set and differs from req.URL.Host (a reverse proxy that preserves the
// client's Host, or a server request), the key uses req.Host: the cache then
// keys on the resource the client asked for, not on the address it was
// forwarded to. Its scheme is req.URL's, or for a server request (which
// has none) "https" over TLS (RFC 9112 §3.3); package proxy hands the
// cache its client's scheme, not the upstream's. Config.KeyHost chooses
// another authority for the key (the upstream's, or a fixed name) without
// changing what is forwarded. Requests
// with an Upgrade header field (WebSocket) and CONNECT
// bypass the cache entirely: the upstream response is returned untouched
// (only Cache-Status: fwd=bypass is added), so httputil.ReverseProxy can
// switch protocols.
//
// # Streaming and detached fills
//
// A miss that may be stored is read from upstream by a fill goroutine that
// writes each chunk to the store's Writer and to a spool, and every waiter
// (the request that caused the miss and any collapsed with it) reads the
// spool at its own pace. The spool keeps up to 64 KiB in memory and spills
// the rest to an unlinked temporary file (Config.SpoolDir), so memory does
// not grow with the body size. The entry is committed only at a clean end
// of the body whose length matches Content-Length; a truncated body, a
// Content-Length the body does not honour or an upstream read error aborts
// the store write and is reported to every reader as a read error, never as
// a short body that looks complete.
//
// When every waiter has gone (closed the body early or cancelled) before the
// fill ends, the fill goes on in the background if the remaining length is
// known and at most Config.DetachedFillLimit and a background worker is
// free; otherwise the upstream request is cancelled and the store write
// aborted. (A fill whose leader never wanted the body, because the cache
// answered its own conditional request with 304 after a validation brought
// a new response, goes on whatever its size.) The spool duplicates on disk
// the bodies of misses larger than 64 KiB while they are being filled: plan
// SpoolDir's space for the largest bodies filled at once.
//
// # Coalescing
//
// Concurrent misses and revalidations of one primary key make one upstream
// request: the first becomes the leader of a flight, the others follow it.
// The upstream request runs on a context detached from every single waiter,
// cancelled only when all have gone and the fill cannot be detached. When the
// leader's response is being stored, each follower asks spec again with the
// new response among its stored variants: if spec would serve it (same
// variant, fresh, ranges and conditionals applied), the follower reads the
// body being written; otherwise it makes its own request. After a successful
// revalidation the followers re-run their lookup on the updated metadata.
// A follower takes the flight's response as a collapsed request
// (spec.IdleClient.Collapsed): its own no-cache or max-age=0, which that
// exchange with the origin satisfied, does not send it upstream again, so
// concurrent forced refreshes of one key make one upstream request. A
// response that only its request kept out of storage (a body the key
// ignores, Cookie, Authorization) does not stop later requests collapsing.
// When the upstream cannot be reached, followers get the error (and may
// serve stale if spec allows it). Followers carry Cache-Status "collapsed".
// For a few seconds after a key's response could not be stored, requests
// for it are not collapsed at all: they would only wait for each other's
// response header before going upstream anyway.
//
// # Errors
//
// A store error on lookup, open or create degrades to pass-through: the
// request is forwarded and the response served without the cache, never a
// 5xx because of the store. An entry that vanished or failed its checksum
// between lookup and open is treated as not stored, and so is a stored body
// whose length disagrees with its header (it is never sent short). An
// upstream failure serves a stale response when spec allows it
// (stale-if-error, the stale budget while disconnected) and otherwise
// returns an *UpstreamError carrying the answer spec chose (502, or 504
// when disconnected: RFC 9111 §5.2.2.2).
package cellar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/memory"
)

// Defaults for Config.
const (
	DefaultName              = "Cellar"
	DefaultDetachedFillLimit = 8 << 20
	DefaultBackgroundWorkers = 4
	// DefaultMemoryBytes is the budget of the memory store New creates
	// when Config.Store is nil: room for a few thousand typical pages or
	// API responses, small enough for any process. Give a Store for more.
	DefaultMemoryBytes = 64 << 20
	// DefaultBodyKeyLimit bounds how much of a request body BodyKey hashes;
	// a longer body bypasses the cache.
	DefaultBodyKeyLimit = 1 << 20
	// spoolMemory is how much of a body being filled stays in memory before
	// the spool spills to a temporary file.
	spoolMemory = 64 << 10
)

// Config configures a Cache. The zero Config is a private cache in memory
// in front of http.DefaultTransport.
type Config struct {
	// Spec holds the core's options: shared or private, heuristics, the
	// clock (nil means time.Now), methods to cache. Its zero StaleBudget
	// serves a stale response for up to spec.DefaultStaleBudget past its
	// lifetime when the origin cannot be reached (RFC 9111 §4.2.4); a
	// negative one turns that off.
	Spec spec.Options
	// Store keeps the entries. Nil means a new in-memory store
	// (store/memory) with a budget of DefaultMemoryBytes, which the Cache
	// owns: Close closes it. A store given here is not closed by Close.
	Store store.Store
	// Upstream sends requests the cache cannot answer; nil means
	// http.DefaultTransport. Middleware ignores it: its upstream is the
	// wrapped handler.
	Upstream http.RoundTripper
	// Logger receives warnings (store failures, aborted fills) and, at debug
	// level, every request's decision trace; nil discards them.
	Logger *slog.Logger
	// Metrics receives counters; nil means NopMetrics.
	Metrics Metrics
	// Name is the cache's name in Cache-Status (RFC 9211 §2); default
	// "Cellar".
	Name string

	// DetachedFillLimit: when every client reading a miss stops early, the
	// fill goes on in the background if the body's remaining size is known
	// and at most this many bytes (and a background worker is free);
	// otherwise the store write is aborted. Zero means 8 MiB; a negative
	// value never detaches.
	DetachedFillLimit int64
	// BackgroundWorkers bounds the goroutines doing background work
	// (stale-while-revalidate refreshes and detached fills); work that finds
	// no free worker is skipped (a refresh) or aborted (a fill). Zero means 4.
	BackgroundWorkers int
	// SpoolDir is where bodies being filled spill past 64 KiB so that
	// collapsed requests can follow them; empty means os.TempDir(). The
	// files are unlinked as soon as they are created.
	SpoolDir string

	// ForceTTL, outside the RFC and off by default, forces caching of the
	// responses to the requests for which it returns true: before spec sees
	// an upstream response to such a request, its Cache-Control is replaced
	// by "max-age=<ttl>" and Expires, Pragma and the targeted fields
	// (CDN-Cache-Control, Spec.TargetedField) are removed. The rewritten
	// header is what is stored and served. Rules that protect other users
	// still hold: in a shared cache, responses with Set-Cookie or to
	// requests with Authorization are not stored (RFC 9111 §3.5, §7.3).
	// Like BodyKey and KeyHost, it must not keep the request past its
	// return: the caller of a Handler may reuse the request's memory once
	// it is answered (package proxy does, for hits).
	ForceTTL func(*http.Request) (time.Duration, bool)
	// BodyKey, outside the RFC and off by default, adds a SHA-256 hash of
	// the request body to the key of the requests for which it returns true
	// (POST APIs such as GraphQL). The method must also be listed in
	// Spec.CacheableMethods, or spec treats it as unsafe. Bodies longer than
	// BodyKeyLimit bypass the cache. It must not keep the request (see
	// ForceTTL).
	BodyKey func(*http.Request) bool
	// BodyKeyLimit bounds the request body hashed for BodyKey; zero means
	// 1 MiB.
	BodyKeyLimit int64

	// UpstreamBodyTimeout bounds how long one read of an upstream body may
	// wait for bytes once the response header has arrived. When it passes,
	// the fill is aborted (nothing is stored) and every request reading the
	// response, collapsed ones included, gets ErrUpstreamBodyTimeout: the
	// Handler cuts the client's connection, so a short body never looks
	// complete. It applies to pass-through bodies too (as nginx's
	// proxy_read_timeout does), but not to switched protocols (101). Zero
	// means DefaultUpstreamBodyTimeout (60s); a negative value means none.
	UpstreamBodyTimeout time.Duration

	// KeyHost, when set, returns the authority (host[:port]) the cache
	// keys req on, in place of the one described under Keys (req.Host);
	// "" keeps that one. Only the key changes: what is forwarded upstream
	// is not. A shared cache must then forward that authority as the
	// request's Host (package proxy does, given it as its Config.KeyHost):
	// keyed on one name but forwarded with the client's Host, the page an
	// origin builds for "Host: evil.example" would be stored for every
	// name (RFC 9111 §4). See KeyOnHost and KeyOnURLHost. Invalidation by Location
	// and Content-Location (RFC 9111 §4.4) compares their host with the
	// key's, so absolute URLs there under another name invalidate
	// nothing. It must not keep the request (see ForceTTL).
	KeyHost func(req *http.Request) string
}

// Cache is the engine: it answers requests from its store, going upstream
// when spec says so. It is safe for concurrent use. Use it as an
// http.RoundTripper (RoundTrip), or in front of a handler (Handler).
type Cache struct {
	idle     spec.IdleClient
	opts     spec.Options
	store    store.Store
	ownStore bool // created by New (Config.Store was nil): Close closes it
	// releaseStore ends the claim of a given store's role (storerole.go);
	// nil for the store New made.
	releaseStore func()
	upstream     http.RoundTripper
	log          *slog.Logger
	metrics      Metrics
	name         string

	detachLimit  int64
	bodyKeyLimit int64
	spoolDir     string
	bodyTimeout  time.Duration
	forceTTL     func(*http.Request) (time.Duration, bool)
	bodyKey      func(*http.Request) bool
	keyHost      func(*http.Request) string

	flights flightTable

	// statusFields shares the Cache-Status values of hits (statusfield.go).
	statusFields statusFields

	// storeWarn rate-limits the warnings of store failures, which a
	// store that is down produces on every request.
	storeWarn warnLimiter

	// Background work: slots bounds it, bgCtx cancels it on Close, bgWG
	// waits for it.
	slots    chan struct{}
	bgCtx    context.Context
	bgCancel context.CancelFunc
	bgWG     sync.WaitGroup
	bgMu     sync.Mutex
	closed   bool
}

// New returns a Cache for cfg. It fails when a value is out of range.
func New(cfg Config) (*Cache, error) {
	if cfg.BackgroundWorkers < 0 {
		return nil, fmt.Errorf("cellar: negative BackgroundWorkers %d", cfg.BackgroundWorkers)
	}
	if cfg.BodyKeyLimit < 0 {
		return nil, fmt.Errorf("cellar: negative BodyKeyLimit %d", cfg.BodyKeyLimit)
	}
	if cfg.SpoolDir != "" {
		if fi, err := os.Stat(cfg.SpoolDir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("cellar: SpoolDir %q is not a directory", cfg.SpoolDir)
		}
	}
	c := &Cache{
		opts:         cfg.Spec,
		store:        cfg.Store,
		upstream:     cfg.Upstream,
		log:          cfg.Logger,
		metrics:      cfg.Metrics,
		name:         cfg.Name,
		detachLimit:  cfg.DetachedFillLimit,
		bodyKeyLimit: cfg.BodyKeyLimit,
		spoolDir:     cfg.SpoolDir,
		bodyTimeout:  cfg.UpstreamBodyTimeout,
		forceTTL:     cfg.ForceTTL,
		bodyKey:      cfg.BodyKey,
		keyHost:      cfg.KeyHost,
	}
	if c.store == nil {
		st, err := memory.New(memory.Options{MaxBytes: DefaultMemoryBytes})
		if err != nil {
			return nil, fmt.Errorf("cellar: the default memory store: %w", err)
		}
		c.store, c.ownStore = st, true
	} else {
		release, err := claimStore(c.store, c.opts.Shared)
		if err != nil {
			return nil, err
		}
		c.releaseStore = release
	}
	if c.opts.Clock == nil {
		c.opts.Clock = time.Now
	}
	c.idle = spec.NewIdleClient(c.opts)
	if c.upstream == nil {
		c.upstream = http.DefaultTransport
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.metrics == nil {
		c.metrics = NopMetrics{}
	}
	if c.name == "" {
		c.name = DefaultName
	}
	if c.detachLimit == 0 {
		c.detachLimit = DefaultDetachedFillLimit
	}
	if c.bodyTimeout == 0 {
		c.bodyTimeout = DefaultUpstreamBodyTimeout
	}
	if c.bodyKeyLimit == 0 {
		c.bodyKeyLimit = DefaultBodyKeyLimit
	}
	workers := cfg.BackgroundWorkers
	if workers == 0 {
		workers = DefaultBackgroundWorkers
	}
	if err := c.claimRole(); err != nil {
		return nil, err
	}
	c.slots = make(chan struct{}, workers)
	c.bgCtx, c.bgCancel = context.WithCancel(context.Background())
	c.flights.init()
	return c, nil
}

// NewTransport returns a Cache to use as an http.Client's Transport. It is a
// private cache (like a browser's) unless cfg.Spec.Shared is set.
func NewTransport(cfg Config) (*Cache, error) {
	return New(cfg)
}

// Store returns the store the cache uses.
func (c *Cache) Store() store.Store { return c.store }

// Options returns the core options the cache runs with.
func (c *Cache) Options() spec.Options { return c.opts }

// Close stops background work (stale-while-revalidate refreshes, detached
// fills): it cancels it and waits for it to end, at most 5 seconds. It does
// not close a store given in Config.Store (it closes the memory store New
// made when there was none), and requests still in progress are not
// interrupted; requests made after Close are served but start no
// background work. A store given in Config.Store may be used by a Cache
// of the other role (shared or private) once Close has returned, not
// before (ErrStoreRole).
func (c *Cache) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.bgMu.Lock()
	c.closed = true
	c.bgMu.Unlock()
	c.bgCancel()
	err := c.waitBackground(ctx)
	if c.releaseStore != nil {
		c.releaseStore()
	}
	if c.ownStore {
		err = errors.Join(err, c.store.Close())
	}
	return err
}

// Shutdown is Close that first lets background work finish until ctx is
// done, then cancels what is left and waits for it.
func (c *Cache) Shutdown(ctx context.Context) error {
	c.bgMu.Lock()
	c.closed = true
	c.bgMu.Unlock()
	err := c.waitBackground(ctx)
	c.bgCancel()
	if err != nil {
		wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = c.waitBackground(wctx)
	}
	if c.releaseStore != nil {
		c.releaseStore()
	}
	if c.ownStore {
		err = errors.Join(err, c.store.Close())
	}
	return err
}

func (c *Cache) waitBackground(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		c.bgWG.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cellar: background work still running: %w", ctx.Err())
	}
}

// acquireSlot takes a background worker slot without waiting. The caller
// must call releaseSlot when done. It fails when all are busy or the cache
// is closed.
func (c *Cache) acquireSlot() bool {
	c.bgMu.Lock()
	defer c.bgMu.Unlock()
	if c.closed {
		return false
	}
	select {
	case c.slots <- struct{}{}:
		c.bgWG.Add(1)
		return true
	default:
		return false
	}
}

func (c *Cache) releaseSlot() {
	<-c.slots
	c.bgWG.Done()
}

func (c *Cache) now() time.Time { return c.opts.Clock() }
