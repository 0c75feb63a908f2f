// Package tiered puts a bounded memory tier in front of a durable store, so
// that hits on recently used objects are answered from memory: a hot hit
// reads neither the durable store's index nor a file (issue 14).
//
// The memory tier holds two kinds of items under one byte budget, least
// recently used first out:
//
//   - the metadata of a key: the complete list of variants the durable store
//     returned for it, so Lookup can answer without asking it;
//   - bodies up to Options.MaxBodyBytes, by entry ID, filled as they are
//     written (up to 256 KiB: see writeKeepMax) and when a body is first
//     opened from the durable store. Larger bodies are always read from the
//     durable store (which may send them with sendfile(2)).
//
// Every write goes to the durable store, which stays the reference: Commit,
// Update, Delete and the purges change it first, then drop what the memory
// tier holds for the keys they touched, except that a Commit puts its new
// entry in the key's list when memory holds one (a refetched object stays
// answerable from memory). A lookup that raced with such a
// change does not fill the memory tier (each key's shard carries an epoch
// that every change bumps). The durable store also evicts on its own, for
// its budget or a variant bound; when it implements [Liveness], every hit
// from memory asks it, by a map lookup, whether the entry is still there
// (and so keeps its recency current), and an entry it dropped is dropped
// from memory too.
package tiered

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cellar-http/cellar/store"
)

// DefaultMaxBytes is the memory tier's budget when Options.MaxBytes is zero.
const DefaultMaxBytes int64 = 64 << 20

// DefaultMaxBodyBytes caps the default Options.MaxBodyBytes.
const DefaultMaxBodyBytes int64 = 256 << 10

// writeKeepMax is the largest body a writer copies for the memory tier as
// it goes to the durable store. Every miss in flight holds such a copy, so
// it is kept small whatever MaxBodyBytes is: a thousand concurrent misses
// of large bodies hold at most 256 MiB here. A larger body enters memory at
// its first Open, read back from the durable store once.
const writeKeepMax int64 = 256 << 10

// Liveness is implemented by durable stores that can tell cheaply, from
// memory, whether an entry is still stored (disk.Store does). Live reports
// whether the entry of key with the given ID is stored and within its
// horizon, and counts as a use of it for the store's eviction order.
type Liveness interface {
	Live(key, id string) bool
}

// Options configure a Store.
type Options struct {
	// MaxBytes bounds the memory tier: bodies plus an estimate of the
	// metadata. Zero means DefaultMaxBytes.
	MaxBytes int64
	// MaxBodyBytes is the largest body kept in memory; zero means
	// MaxBytes/16, at most 256 KiB (DefaultMaxBodyBytes). Larger bodies are
	// left to the durable store, which the disk store sends from the file
	// with sendfile(2): for a hot 1 MiB body over loopback that took half
	// the CPU of writing it from memory (130–150 vs 225–330 µs a request)
	// and served 1.24 times the requests; at 100 KiB memory served 1.15
	// times the requests of sendfile, at 256 KiB as many (issue 14,
	// bench/RESULTS.md). A NIC gains more from sendfile than loopback does:
	// the kernel sends the page cache without a copy.
	MaxBodyBytes int64
	// Clock returns the current time, for entries' horizons; nil means
	// time.Now.
	Clock func() time.Time
}

// Store is a store.Store: a memory tier in front of a durable store. It is
// safe for concurrent use.
type Store struct {
	cold    store.Store
	live    Liveness // cold's, or nil
	maxBody int64
	now     func() time.Time

	mem    memTier
	closed atomic.Bool

	fillMu  sync.Mutex
	filling map[string]struct{} // IDs of bodies being read into memory

	hits, misses atomic.Int64
}

var _ store.Store = (*Store)(nil)

// New returns a store that keeps recently used metadata and small bodies of
// cold in memory. The Store owns cold: Close closes it.
func New(cold store.Store, o Options) (*Store, error) {
	if o.MaxBytes < 0 || o.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("tiered store: negative size (MaxBytes %d, MaxBodyBytes %d)", o.MaxBytes, o.MaxBodyBytes)
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = min(o.MaxBytes/16, DefaultMaxBodyBytes)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	s := &Store{cold: cold, maxBody: min(o.MaxBodyBytes, o.MaxBytes), now: o.Clock}
	s.live, _ = cold.(Liveness)
	s.mem.init(o.MaxBytes)
	return s, nil
}

// ClaimRole implements store.RoleKeeper for a durable store that does:
// the memory tier lives no longer than the process.
func (s *Store) ClaimRole(ctx context.Context, shared bool) error {
	if rk, ok := s.cold.(store.RoleKeeper); ok {
		return rk.ClaimRole(ctx, shared)
	}
	return nil
}

// Cold returns the durable store behind the memory tier.
func (s *Store) Cold() store.Store { return s.cold }

// Lookup answers from memory when it holds key's variants and they are all
// still live, and otherwise asks the durable store and keeps its answer.
func (s *Store) Lookup(ctx context.Context, key string) ([]store.Entry, error) {
	return s.AppendLookup(ctx, nil, key)
}

// AppendLookup is Lookup for a caller with room for the entries: a hit
// from memory appends them to dst and, when they fit, allocates nothing
// (the engine looks up into a buffer of its own, as over the memory
// store); an answer of the durable store is its own slice. It returns nil
// when there are none.
func (s *Store) AppendLookup(ctx context.Context, dst []store.Entry, key string) ([]store.Entry, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	if es, ok := s.mem.meta(key); ok {
		if out, ok := s.liveOf(dst, key, es); ok {
			if len(out) == 0 {
				s.misses.Add(1)
				return nil, nil
			}
			s.hits.Add(1)
			return out, nil
		}
		s.mem.dropKey(key) // the durable store dropped one: ask it
	}
	epoch := s.mem.epoch(key)
	es, err := s.cold.Lookup(ctx, key)
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		s.misses.Add(1)
		return nil, nil
	}
	s.hits.Add(1)
	s.mem.putMeta(key, slices.Clone(es), epoch)
	return es, nil
}

// liveOf returns the entries of es within their horizon, appended to dst
// (a slice of the caller's own). It reports false when the durable store
// no longer has one of them.
func (s *Store) liveOf(dst []store.Entry, key string, es []store.Entry) ([]store.Entry, bool) {
	now := s.now()
	out := dst[:0]
	if cap(out) < len(es) {
		out = make([]store.Entry, 0, len(es))
	}
	for i := range es {
		e := &es[i]
		if !e.Expires.IsZero() && !now.Before(e.Expires) {
			continue
		}
		if s.live != nil && !s.live.Live(key, e.ID) {
			return nil, false
		}
		out = append(out, *e)
	}
	return out, true
}

// Open serves the body from memory when it is there and the entry is still
// stored; otherwise it opens it in the durable store, and keeps a small one
// in memory once it has been read and verified in full.
func (s *Store) Open(ctx context.Context, key, id string) (store.Body, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	// Bodies are answered from memory only over a durable store that
	// implements Liveness: its Live both says the entry is still stored
	// and records the use, which its recency and variant bound depend on.
	// Over any other store every Open reaches it, so that it sees each use.
	if s.live != nil {
		if b, ok := s.mem.body(id); ok {
			if s.live.Live(key, id) {
				return newReader(b), nil
			}
			s.mem.dropBody(id) // gone from the durable store: never served again
		}
	}
	cb, err := s.cold.Open(ctx, key, id)
	if err != nil {
		if cb != nil {
			cb.Close()
		}
		return nil, err
	}
	if s.live == nil || cb.Size() > s.maxBody {
		return cb, nil
	}
	if b, ok := s.mem.body(id); ok { // filled meanwhile
		cb.Close()
		return newReader(b), nil
	}
	if !s.startFill(id) {
		// Another Open is reading this body into memory: this one
		// streams it from the durable store rather than hold a second
		// copy (a thousand clients arriving at once for a new large
		// object would otherwise each read it into memory together).
		return cb, nil
	}
	defer s.endFill(id)
	b, err := readFull(cb)
	cb.Close()
	if err != nil {
		return nil, err
	}
	s.mem.putBody(id, b)
	return newReader(b), nil
}

// startFill reports whether the caller may read body id into memory: no
// other Open is doing so. A true result must be followed by endFill.
func (s *Store) startFill(id string) bool {
	s.fillMu.Lock()
	defer s.fillMu.Unlock()
	if _, busy := s.filling[id]; busy {
		return false
	}
	if s.filling == nil {
		s.filling = make(map[string]struct{})
	}
	s.filling[id] = struct{}{}
	return true
}

func (s *Store) endFill(id string) {
	s.fillMu.Lock()
	delete(s.filling, id)
	s.fillMu.Unlock()
}

// Create starts an entry in the durable store; its body is also kept for
// the memory tier when it is small, and enters it at Commit.
func (s *Store) Create(ctx context.Context, e store.Entry) (store.Writer, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	w, err := s.cold.Create(ctx, e)
	if err != nil {
		return nil, err
	}
	return &writer{s: s, w: w, key: e.Key, keep: true}, nil
}

// Update updates the durable store, then drops key's metadata from memory.
func (s *Store) Update(ctx context.Context, key string, entries []store.Entry) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	err := s.cold.Update(ctx, key, entries)
	s.mem.dropKey(key)
	return err
}

// Delete removes key's variants from the durable store and from memory.
func (s *Store) Delete(ctx context.Context, key string) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	err := s.cold.Delete(ctx, key)
	s.mem.dropKeyAndBodies(key)
	return err
}

// PurgeTag removes the entries carrying tag from the durable store and from
// memory.
func (s *Store) PurgeTag(ctx context.Context, tag string) (int, error) {
	if s.closed.Load() {
		return 0, store.ErrClosed
	}
	n, err := s.cold.PurgeTag(ctx, tag)
	s.mem.dropWhere(func(key string, es []store.Entry) bool {
		for i := range es {
			for _, t := range es[i].Tags {
				if t == tag {
					return true
				}
			}
		}
		return false
	})
	return n, err
}

// PurgePrefix removes the entries whose key starts with prefix from the
// durable store and from memory.
func (s *Store) PurgePrefix(ctx context.Context, prefix string) (int, error) {
	if s.closed.Load() {
		return 0, store.ErrClosed
	}
	n, err := s.cold.PurgePrefix(ctx, prefix)
	s.mem.dropWhere(func(key string, _ []store.Entry) bool { return strings.HasPrefix(key, prefix) })
	return n, err
}

// Iterate walks the durable store, which holds every entry.
func (s *Store) Iterate(ctx context.Context, fn func(store.Entry) bool) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return s.cold.Iterate(ctx, fn)
}

// Stats returns the durable store's entries, bytes and evictions, and the
// lookups this store answered, from either tier.
func (s *Store) Stats() store.Stats {
	st := s.cold.Stats()
	st.Hits, st.Misses = s.hits.Load(), s.misses.Load()
	return st
}

// MemStats returns what the memory tier holds: items (metadata lists and
// bodies) and their estimated bytes.
func (s *Store) MemStats() (items int, bytes int64) { return s.mem.totals() }

// Close empties the memory tier and closes the durable store. Bodies open
// from memory stay readable.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.mem.clear()
	return s.cold.Close()
}

// writer writes to the durable store and keeps a copy of a small body.
type writer struct {
	s    *Store
	w    store.Writer
	key  string
	buf  []byte
	keep bool // the body is still small enough to keep
	mu   sync.Mutex
}

func (w *writer) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.mu.Lock()
	if w.keep {
		if int64(len(w.buf)+n) > min(w.s.maxBody, writeKeepMax) {
			w.keep, w.buf = false, nil
		} else {
			w.buf = append(w.buf, p[:n]...)
		}
	}
	w.mu.Unlock()
	return n, err
}

// Commit commits to the durable store, then puts the new entry in the
// key's metadata in memory (commitMeta; over a durable store with
// Liveness) and keeps the body.
func (w *writer) Commit() (store.Entry, error) {
	epoch := w.s.mem.epoch(w.key) // a change from now on may postdate e
	e, err := w.w.Commit()
	if err != nil || w.s.live == nil {
		// Without Liveness, memory cannot learn which variants the
		// durable store dropped for this commit: it asks again.
		w.s.mem.dropKey(w.key)
		if err != nil {
			return e, err
		}
	} else {
		w.s.mem.commitMeta(w.key, e, epoch)
	}
	w.mu.Lock()
	buf, keep := w.buf, w.keep
	w.buf, w.keep = nil, false
	w.mu.Unlock()
	if keep && int64(len(buf)) == e.Size && !w.s.closed.Load() {
		if buf == nil {
			buf = []byte{}
		}
		w.s.mem.putBody(e.ID, buf)
	}
	return e, nil
}

func (w *writer) Abort() error {
	w.mu.Lock()
	w.buf, w.keep = nil, false
	w.mu.Unlock()
	return w.w.Abort()
}
