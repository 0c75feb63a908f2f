// Package memory is a byte-bounded, in-process [store.Store] built on
// otter's W-TinyLFU cache: the default for Transport and Middleware, and a
// reference implementation of the store contract.
//
// The unit of the cache is a primary key (RFC 9111 §2) with all its stored
// variants (§4.1), so a lookup is a single cache read, and a commit replaces
// the key's variant set in one atomic compute: concurrent writers of one key
// never lose a variant. Eviction removes a key with all its variants; the
// budget counts bodies and an estimate of the metadata. A key keeps at most
// Options.MaxVariants variants: the commit's compute drops the least
// recently used ones past it (see store.Store), so a lookup reads at most
// that many.
//
// Entries returned by Lookup and Iterate share their header maps, URL and
// Tags with the store and with other callers: treat them as read-only and
// clone before changing anything (spec does). What a caller passes to
// Create and Update is copied, so the caller may reuse it afterwards.
package memory

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
)

// Options configure a Store.
type Options struct {
	// MaxBytes is the budget: bodies plus an estimate of the memory their
	// metadata takes. It must be positive. A body larger than the whole
	// budget is refused with store.ErrTooLarge.
	MaxBytes int64
	// MaxVariants is how many variants of one primary key are kept; a
	// commit past it drops the least recently used (committed, opened or
	// updated) ones. Zero means store.DefaultMaxVariants; it must not be
	// negative.
	MaxVariants int
}

// Store is an in-memory store.Store. It is safe for concurrent use.
type Store struct {
	cache    *otter.Cache[string, *variants]
	clock    *otter.CoarseClock
	maxBytes int64
	idPrefix string
	nextID   atomic.Uint64
	closed   atomic.Bool

	// maxVariants bounds each key's variant set; useSeq orders the uses of
	// variants (item.used) for choosing which to drop past it.
	maxVariants int
	useSeq      atomic.Uint64

	// Counters for Stats. entries and bytes follow the variant sets in the
	// cache: a write adds the new set under the key's lock, and
	// OnAtomicDeletion subtracts every set that leaves, replaced or removed.
	entries, bytes, hits, misses, evictions atomic.Int64

	// reserved is what the writers in flight hold against the budget (see
	// reserve.go).
	reserved atomic.Int64
	// returning is set while a return of memory to the system is due
	// (reserve.go).
	returning atomic.Bool

	// tags indexes keys by the tags of their variants, for PurgeTag. It may
	// name a key whose variants no longer carry the tag (PurgeTag checks),
	// but never misses one that does: see reconcileTags.
	tagMu sync.Mutex
	tags  map[string]map[string]struct{}
}

var _ store.Store = (*Store)(nil)

// New returns an empty store bounded by o.MaxBytes.
func New(o Options) (*Store, error) {
	if o.MaxBytes <= 0 {
		return nil, fmt.Errorf("memory: MaxBytes must be positive, not %d", o.MaxBytes)
	}
	if o.MaxVariants < 0 {
		return nil, fmt.Errorf("memory: MaxVariants must not be negative, not %d", o.MaxVariants)
	}
	if o.MaxVariants == 0 {
		o.MaxVariants = store.DefaultMaxVariants
	}
	var prefix [4]byte
	_, _ = rand.Read(prefix[:])
	s := &Store{
		clock:    otter.NewCoarseClock(clockResolution),
		maxBytes: o.MaxBytes,
		idPrefix: hex.EncodeToString(prefix[:]) + "-",
		tags:     make(map[string]map[string]struct{}),
	}
	s.maxVariants = o.MaxVariants
	cache, err := otter.New(&otter.Options[string, *variants]{
		MaximumWeight: uint64(o.MaxBytes),
		Weigher:       func(_ string, v *variants) uint32 { return uint32(v.weight) },
		// A key lives while any of its variants may still be used; Lookup
		// hides the variants past their own horizon before that.
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, *variants]) time.Duration {
			return e.Value.ttl()
		}),
		OnAtomicDeletion: s.onAtomicDeletion,
		OnDeletion:       s.onDeletion,
		Clock:            s.clock,
	})
	if err != nil {
		s.clock.Stop()
		return nil, fmt.Errorf("memory: %w", err)
	}
	s.cache = cache
	return s, nil
}

// clockResolution is how often the store reads the time for expiry checks
// on reads: reading a precise clock on every lookup would cost more than
// the rest of the lookup. Lookup reads the precise time anyway when a
// horizon is within horizonSlack of the coarse time, so that no entry is
// served past its Expires however late the coarse clock runs.
const (
	clockResolution = 10 * time.Millisecond
	horizonSlack    = time.Second
)

// variants is the immutable set of committed variants of one key. Every
// change builds a new set.
type variants struct {
	items  []*item
	weight int64
	// horizon is the latest Expires of the items, or zero if one of them
	// has none; soonest is the earliest non-zero Expires, or zero if none
	// has one (then Lookup need not read the clock).
	horizon, soonest time.Time
}

// item is one committed variant: the store's own copy of its metadata and
// its immutable body.
type item struct {
	e      store.Entry
	body   *body
	weight int64
	// used is the store's useSeq at the variant's last commit, open or
	// update: the only field that changes once the item is in a set.
	used atomic.Uint64
}

func newVariants(items []*item) *variants {
	v := &variants{items: items}
	never := false
	for _, it := range items {
		v.weight += it.weight
		switch x := it.e.Expires; {
		case x.IsZero():
			never = true
		default:
			if x.After(v.horizon) {
				v.horizon = x
			}
			if v.soonest.IsZero() || x.Before(v.soonest) {
				v.soonest = x
			}
		}
	}
	if never {
		v.horizon = time.Time{}
	}
	return v
}

func (v *variants) ttl() time.Duration {
	if v.horizon.IsZero() {
		return math.MaxInt64
	}
	return max(time.Until(v.horizon), 1)
}

// live reports whether it is within its horizon at now. A zero now stands
// for a time before every horizon (the caller knows none has passed).
func (it *item) live(now time.Time) bool {
	return now.IsZero() || it.e.Expires.IsZero() || now.Before(it.e.Expires)
}

// now returns the time to judge v's items by: zero when none of them can
// have expired, which spares reading the precise clock. The coarse clock
// lags behind the real time, never ahead, so comparing it with the soonest
// horizon minus a slack far larger than its lag is safe.
func (v *variants) now(coarse *otter.CoarseClock) time.Time {
	if v.soonest.IsZero() || coarse.NowNano() < v.soonest.UnixNano()-int64(horizonSlack) {
		return time.Time{}
	}
	now := time.Now()
	if now.Before(v.soonest) {
		return time.Time{}
	}
	return now
}

func (v *variants) hasTag(tag string) bool {
	for _, it := range v.items {
		if slices.Contains(it.e.Tags, tag) {
			return true
		}
	}
	return false
}

func (v *variants) allTags() []string {
	var tags []string
	for _, it := range v.items {
		tags = append(tags, it.e.Tags...)
	}
	return tags
}

func (s *Store) onAtomicDeletion(e otter.DeletionEvent[string, *variants]) {
	s.entries.Add(-int64(len(e.Value.items)))
	s.bytes.Add(-e.Value.weight)
	if e.WasEvicted() {
		s.evictions.Add(int64(len(e.Value.items)))
	}
}

// onDeletion runs after a set has left the cache (replaced or removed) and
// drops the index entries of tags that the key no longer carries.
func (s *Store) onDeletion(e otter.DeletionEvent[string, *variants]) {
	if tags := e.Value.allTags(); len(tags) > 0 {
		s.reconcileTags(e.Key, tags)
	}
}

// reconcileTags makes the index agree with what key currently holds for
// each of tags. Every change of a key's tags is followed by a call naming
// them, made once the change is visible (after the commit's compute, or
// from onDeletion); the calls are serialised by tagMu and each reads the
// current set, so the last one for a tag leaves the index right.
func (s *Store) reconcileTags(key string, tags []string) {
	s.tagMu.Lock()
	defer s.tagMu.Unlock()
	if s.tags == nil {
		return // closed
	}
	cur, ok := s.cache.GetEntryQuietly(key)
	for _, tag := range tags {
		keys := s.tags[tag]
		if ok && cur.Value.hasTag(tag) {
			if keys == nil {
				keys = make(map[string]struct{})
				s.tags[tag] = keys
			}
			keys[key] = struct{}{}
		} else if keys != nil {
			delete(keys, key)
			if len(keys) == 0 {
				delete(s.tags, tag)
			}
		}
	}
}

// Lookup returns the live variants stored under key. The entries are
// shared: see the package documentation.
func (s *Store) Lookup(ctx context.Context, key string) ([]store.Entry, error) {
	return s.AppendLookup(ctx, nil, key)
}

// AppendLookup is Lookup appending the entries to dst, which it returns
// (nil when there are none): a caller with room for them allocates
// nothing. The engine looks up into a buffer of its own, which spares a
// hit one allocation of a few hundred bytes (BenchmarkServeHit).
func (s *Store) AppendLookup(_ context.Context, dst []store.Entry, key string) ([]store.Entry, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	v, ok := s.cache.GetIfPresent(key)
	if !ok {
		s.misses.Add(1)
		return nil, nil
	}
	now := v.now(s.clock)
	out := dst[:0]
	if cap(out) < len(v.items) {
		out = make([]store.Entry, 0, len(v.items))
	}
	for _, it := range v.items {
		if it.live(now) {
			out = append(out, it.e)
		}
	}
	if len(out) == 0 {
		s.misses.Add(1)
		return nil, nil
	}
	s.hits.Add(1)
	return out, nil
}

// Open returns a reader over the committed body of key's entry id.
func (s *Store) Open(_ context.Context, key, id string) (store.Body, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	if v, ok := s.cache.GetIfPresent(key); ok {
		now := v.now(s.clock)
		for _, it := range v.items {
			if it.e.ID == id && it.live(now) {
				it.used.Store(s.useSeq.Add(1))
				return &reader{b: it.body}, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: %q of %q", store.ErrNotFound, id, key)
}

// Create starts buffering a new entry.
func (s *Store) Create(ctx context.Context, e store.Entry) (store.Writer, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w := &writer{s: s, ctx: ctx, orig: e, e: cloneEntry(e)}
	w.e.ID = s.newID()
	w.e.Pair.ID = w.e.ID
	w.meta = metaWeight(&w.e)
	if w.meta > s.maxBytes {
		return nil, fmt.Errorf("%w: the metadata of %q alone exceeds the budget of %d bytes", store.ErrTooLarge, e.Key, s.maxBytes)
	}
	// A body whose length is announced is refused before its first byte
	// when it cannot fit, and otherwise reserved whole at once, so that it
	// never starts buffering only to be refused halfway.
	need := w.meta
	if n := declaredLength(&w.e); n >= 0 {
		if n > s.maxBytes-w.meta {
			return nil, fmt.Errorf("%w: %q announces %d body bytes, more than the budget of %d bytes", store.ErrTooLarge, e.Key, n, s.maxBytes)
		}
		need += n
	}
	if !s.reserve(need) {
		return nil, s.errBudgetHeld(e.Key, need)
	}
	w.held = need
	if n := declaredLength(&w.e); n > 0 {
		// The announced length, reserved above, sizes the first chunk:
		// the body is written without growing (copying) it.
		w.cur = make([]byte, 0, min(n, chunkSize))
	}
	return w, nil
}

func (s *Store) newID() string {
	b := make([]byte, 0, 24)
	b = append(b, s.idPrefix...)
	return string(strconv.AppendUint(b, s.nextID.Add(1), 36))
}

// commit installs it in its key's variant set, replacing the variant with
// the same Variant and dropping the least recently used ones past the
// bound, in one atomic compute.
func (s *Store) commit(it *item) error {
	var tooLarge bool
	it.used.Store(s.useSeq.Add(1))
	s.cache.Compute(it.e.Key, func(old *variants, found bool) (*variants, otter.ComputeOp) {
		now := time.Now()
		items := []*item{it}
		var pruned int64
		if found {
			items = make([]*item, 0, len(old.items)+1)
			for _, o := range old.items {
				switch {
				case o.e.Variant == it.e.Variant:
				case !o.live(now):
					pruned++
				default:
					items = append(items, o)
				}
			}
			items = append(items, it)
			var dropped int
			items, dropped = dropLeastUsed(items, s.maxVariants)
			pruned += int64(dropped)
		}
		v := newVariants(items)
		if v.weight > math.MaxUint32 {
			tooLarge = true
			return old, otter.CancelOp
		}
		s.evictions.Add(pruned)
		s.entries.Add(int64(len(v.items)))
		s.bytes.Add(v.weight)
		return v, otter.WriteOp
	})
	if tooLarge {
		return fmt.Errorf("%w: the variants of %q would exceed 4 GiB", store.ErrTooLarge, it.e.Key)
	}
	if len(it.e.Tags) > 0 {
		s.reconcileTags(it.e.Key, it.e.Tags)
	}
	return nil
}

// dropLeastUsed removes from items, in place, the least recently used ones
// past bound, and returns what is left and how many it removed. It costs
// O(len(items)) per removal; a set is at most one past the bound.
func dropLeastUsed(items []*item, bound int) ([]*item, int) {
	dropped := 0
	for len(items) > bound {
		lru := 0
		for i, it := range items {
			if it.used.Load() < items[lru].used.Load() {
				lru = i
			}
		}
		items = slices.Delete(items, lru, lru+1)
		dropped++
	}
	return items, dropped
}

// Update replaces Pair and Expires of the variants of key named by ID.
func (s *Store) Update(_ context.Context, key string, entries []store.Entry) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	if len(entries) == 0 {
		return nil
	}
	s.cache.Compute(key, func(old *variants, found bool) (*variants, otter.ComputeOp) {
		if !found {
			return old, otter.CancelOp
		}
		items := slices.Clone(old.items)
		changed := false
		for i, it := range items {
			for j := range entries {
				u := &entries[j]
				if u.ID != it.e.ID {
					continue
				}
				n := &item{e: it.e, body: it.body}
				n.used.Store(s.useSeq.Add(1))
				n.e.Pair = clonePair(u.Pair)
				n.e.Pair.ID = it.e.ID
				n.e.Expires = u.Expires
				n.weight = metaWeight(&n.e) + n.e.Size
				items[i] = n
				changed = true
				break
			}
		}
		if !changed {
			return old, otter.CancelOp
		}
		v := newVariants(items)
		if v.weight > math.MaxUint32 {
			return old, otter.CancelOp
		}
		s.entries.Add(int64(len(v.items)))
		s.bytes.Add(v.weight)
		return v, otter.WriteOp
	})
	return nil
}

// Delete removes every variant of key.
func (s *Store) Delete(_ context.Context, key string) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	s.cache.Invalidate(key)
	return nil
}

// PurgeTag removes the variants carrying tag.
func (s *Store) PurgeTag(_ context.Context, tag string) (int, error) {
	if s.closed.Load() {
		return 0, store.ErrClosed
	}
	s.tagMu.Lock()
	keys := make([]string, 0, len(s.tags[tag]))
	for k := range s.tags[tag] {
		keys = append(keys, k)
	}
	s.tagMu.Unlock()

	removed := 0
	for _, key := range keys {
		removed += s.removeWhere(key, func(it *item) bool { return slices.Contains(it.e.Tags, tag) })
	}
	return removed, nil
}

// removeWhere removes the variants of key that match, in one compute, and
// returns how many live ones it removed.
func (s *Store) removeWhere(key string, match func(*item) bool) int {
	removed := 0
	s.cache.Compute(key, func(old *variants, found bool) (*variants, otter.ComputeOp) {
		removed = 0
		if !found {
			return old, otter.CancelOp
		}
		now := time.Now()
		var keep []*item
		for _, it := range old.items {
			switch {
			case !match(it):
				keep = append(keep, it)
			case it.live(now):
				removed++
			}
		}
		switch {
		case len(keep) == len(old.items):
			return old, otter.CancelOp
		case len(keep) == 0:
			return old, otter.InvalidateOp
		}
		v := newVariants(keep)
		s.entries.Add(int64(len(v.items)))
		s.bytes.Add(v.weight)
		return v, otter.WriteOp
	})
	return removed
}

// PurgePrefix removes every variant of the keys that start with prefix.
func (s *Store) PurgePrefix(ctx context.Context, prefix string) (int, error) {
	if s.closed.Load() {
		return 0, store.ErrClosed
	}
	var keys []string
	for k := range s.cache.Keys() {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	removed := 0
	for _, key := range keys {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		removed += s.removeWhere(key, func(*item) bool { return true })
	}
	return removed, nil
}

// Iterate calls fn for each live variant. The entries are shared: see the
// package documentation.
func (s *Store) Iterate(ctx context.Context, fn func(store.Entry) bool) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	for _, v := range s.cache.All() {
		if err := ctx.Err(); err != nil {
			return err
		}
		now := v.now(s.clock)
		for _, it := range v.items {
			if it.live(now) && !fn(it.e) {
				return nil
			}
		}
	}
	return nil
}

// Stats returns the store's counters. It first lets the cache finish
// pending evictions, so that Bytes reflects the budget.
func (s *Store) Stats() store.Stats {
	if !s.closed.Load() {
		s.cache.CleanUp()
	}
	return store.Stats{
		Entries:   s.entries.Load(),
		Bytes:     s.bytes.Load(),
		Hits:      s.hits.Load(),
		Misses:    s.misses.Load(),
		Evictions: s.evictions.Load(),
	}
}

// Close empties the store. Bodies already opened stay readable. Closing
// twice is a no-op.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.tagMu.Lock()
	s.tags = nil
	s.tagMu.Unlock()
	s.cache.InvalidateAll()
	s.cache.StopAllGoroutines()
	s.clock.Stop()
	return nil
}

// entryOverhead estimates the memory of an item beyond its strings: the
// item, its Entry, two header maps, the URL and slice headers.
const entryOverhead = 640

// metaWeight estimates the memory e's metadata takes.
func metaWeight(e *store.Entry) int64 {
	n := entryOverhead + len(e.Key) + len(e.Variant) + len(e.ID) + len(e.Pair.Request.Method)
	if u := e.Pair.Request.URL; u != nil {
		n += len(u.Scheme) + len(u.Opaque) + len(u.Host) + len(u.Path) + len(u.RawPath) + len(u.RawQuery) + len(u.Fragment)
		if u.User != nil {
			n += len(u.User.String())
		}
	}
	n += headerWeight(e.Pair.Request.Header) + headerWeight(e.Pair.Response.Header)
	for _, t := range e.Tags {
		n += len(t) + 16
	}
	return int64(n)
}

func headerWeight(h http.Header) int {
	n := 0
	for k, vs := range h {
		n += len(k) + 48
		for _, v := range vs {
			n += len(v) + 16
		}
	}
	return n
}

func cloneEntry(e store.Entry) store.Entry {
	e.Pair = clonePair(e.Pair)
	e.Tags = slices.Clone(e.Tags)
	return e
}

func clonePair(p spec.Pair) spec.Pair {
	p.Request.Header = p.Request.Header.Clone()
	p.Response.Header = p.Response.Header.Clone()
	if u := p.Request.URL; u != nil {
		c := *u
		if u.User != nil {
			user := *u.User
			c.User = &user
		}
		p.Request.URL = &c
	}
	return p
}

var errFinished = errors.New("memory: write after Commit or Abort")
