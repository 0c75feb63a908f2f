package redis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cellar-http/cellar/store"
	"github.com/valkey-io/valkey-go"
)

// Store is a [store.Store] kept in Redis or Valkey. It is safe for
// concurrent use, and several processes may share one server or cluster.
type Store struct {
	opts    Options
	client  valkey.Client
	cluster bool

	closed atomic.Bool
	// refs counts the store itself and its open bodies: the client is
	// closed when the last of them is.
	refs atomic.Int64

	hits, misses, evictions atomic.Int64
	// views is the last known budget counters of each base (one in
	// standalone mode, one per slot in cluster mode), from script replies
	// and censuses; bytes and entries are their sums. Guarded by mu.
	mu    sync.Mutex
	views []baseView
	gen   int64 // counts view updates, to tell a stale census from a reset

	chunks sync.Pool // *[]byte of cap ChunkSize, for writers

	// The census loop and, in cluster mode, the evictor (see evict.go).
	kick       chan struct{}
	stopCensus chan struct{}
	censusDone chan struct{}
	// lastFail and lastOK are when (unix ns) a command last failed because
	// the server was unavailable, and last succeeded.
	lastFail, lastOK atomic.Int64
	// bytes and entries are the sums of views.
	bytes, entries atomic.Int64

	// beforeRetry, set by tests only, runs before a failed body read is
	// sent again.
	beforeRetry func()
}

var _ store.Store = (*Store)(nil)

// New connects to the server(s) in opts and returns a Store. It fails with
// an error wrapping store.ErrUnavailable when no server answers.
func New(opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	client, err := valkey.NewClient(valkey.ClientOption{
		InitAddress:  opts.Addrs,
		SelectDB:     opts.DB,
		Username:     opts.Username,
		Password:     opts.Password,
		TLSConfig:    opts.TLS,
		ClientName:   "cellar",
		DisableCache: true,
		Dialer:       net.Dialer{Timeout: opts.DialTimeout},
		// Detects a server that stopped answering on an open connection.
		ConnWriteTimeout: max(2*opts.CommandTimeout, time.Second),
		// Reconnect quickly once the server is back.
		RetryDelay: func(attempts int, _ valkey.Completed, _ error) time.Duration {
			return min(time.Duration(attempts+1)*20*time.Millisecond, 200*time.Millisecond)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("redis: connect %s: %w: %w", strings.Join(opts.Addrs, ","), store.ErrUnavailable, err)
	}
	s := &Store{opts: opts, client: client, cluster: client.Mode() == valkey.ClientModeCluster}
	s.refs.Store(1)
	s.views = make([]baseView, len(s.bases()))
	s.stopCensus = make(chan struct{})
	s.censusDone = make(chan struct{})
	if s.cluster {
		// The census loop takes a first census at once, in the
		// background: with 16384 slots it is not instant.
		s.kick = make(chan struct{}, 1)
	} else if _, _, err := s.census(context.Background()); err != nil {
		client.Close()
		return nil, err
	}
	go s.censusLoop()
	return s, nil
}

// Cluster reports whether the store talks to a Redis Cluster.
func (s *Store) Cluster() bool { return s.cluster }

// Stats returns the store's counters. Hits, Misses and Evictions count what
// this instance did since it was opened. Entries and Bytes are the shared
// totals, as of this instance's last change or census (every
// censusInterval) of each budget base.
func (s *Store) Stats() store.Stats {
	return store.Stats{
		Entries:   s.entries.Load(),
		Bytes:     s.bytes.Load(),
		Hits:      s.hits.Load(),
		Misses:    s.misses.Load(),
		Evictions: s.evictions.Load(),
	}
}

// Close releases the store. Bodies already open stay readable until they
// are closed; everything else fails with store.ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	close(s.stopCensus)
	<-s.censusDone
	s.release()
	return nil
}

func (s *Store) acquire() bool {
	for {
		n := s.refs.Load()
		if n <= 0 {
			return false
		}
		if s.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (s *Store) release() {
	if s.refs.Add(-1) == 0 {
		s.client.Close()
	}
}

// cmdContext bounds one command by CommandTimeout.
func (s *Store) cmdContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opts.CommandTimeout)
}

func (s *Store) do(ctx context.Context, cmd valkey.Completed) valkey.ValkeyResult {
	ctx, cancel := s.cmdContext(ctx)
	defer cancel()
	r := s.client.Do(ctx, cmd)
	s.seen(r.Error())
	return r
}

func (s *Store) doMulti(ctx context.Context, cmds ...valkey.Completed) error {
	ctx, cancel := s.cmdContext(ctx)
	defer cancel()
	for _, r := range s.client.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			s.seen(err)
			return err
		}
	}
	s.seen(nil)
	return nil
}

// seen records that the server answered, after a failure: err is nil or a
// reply of the server's.
func (s *Store) seen(err error) {
	if s.lastFail.Load() <= s.lastOK.Load() {
		return
	}
	if _, reply := valkey.IsValkeyErr(err); err == nil || reply {
		s.lastOK.Store(time.Now().UnixNano())
	}
}

// exec runs a script on the keys of hash tag h. Its reply starts with
// nints integers; the rest are strings.
func (s *Store) exec(ctx context.Context, script *valkey.Lua, nints int, key, h string, now time.Time, extra ...string) ([]int64, []string, error) {
	ctx, cancel := s.cmdContext(ctx)
	defer cancel()
	msgs, err := script.Exec(ctx, s.client, s.scriptKeys(h), s.scriptArgs(key, h, now, extra...)).ToArray()
	s.seen(err)
	if err != nil {
		return nil, nil, err
	}
	if len(msgs) < min(nints, 1) {
		return nil, nil, fmt.Errorf("redis: short script reply (%d values)", len(msgs))
	}
	nums := make([]int64, 0, nints)
	for i := 0; i < nints && i < len(msgs); i++ {
		n, err := msgs[i].AsInt64()
		if err != nil {
			return nil, nil, err
		}
		nums = append(nums, n)
	}
	var strs []string
	for i := nints; i < len(msgs); i++ {
		v, err := msgs[i].ToString()
		if err != nil {
			return nil, nil, err
		}
		strs = append(strs, v)
	}
	return nums, strs, nil
}

// baseView is what a base's stat hash held at sequence number seq.
type baseView struct {
	seq, bytes, entries int64
	gen                 int64 // s.gen when the view was stored
}

// account applies the reply of a script on hash tag h,
// {result, db, dn, evicted, totB, totN, seq}, to the counters.
func (s *Store) account(h string, r []int64) {
	if len(r) < 7 {
		return
	}
	s.evictions.Add(r[3])
	if r[6] >= 0 {
		s.observe(s.baseIndex(h), r[6], r[4], r[5], false, 0)
	}
}

// observe stores what base i's counters held at sequence seq, unless a
// later state is known. Replies can arrive out of order, so a lower seq is
// stale, except from a census sent after the view was stored (census with
// sentGen > view.gen): the server was then reset and counts anew.
func (s *Store) observe(i int, seq, bytes, entries int64, census bool, sentGen int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := &s.views[i]
	if seq == v.seq || seq < v.seq && !(census && v.gen < sentGen) {
		return
	}
	s.bytes.Add(bytes - v.bytes)
	s.entries.Add(entries - v.entries)
	s.gen++
	*v = baseView{seq: seq, bytes: bytes, entries: entries, gen: s.gen}
}

// wrap gives err the store's context: errors that mean the server cannot be
// used right now wrap store.ErrUnavailable.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		// The caller gave up; the server may be fine.
		return fmt.Errorf("redis: %s: %w", op, err)
	}
	if s.closed.Load() && errors.Is(err, valkey.ErrClosing) {
		return fmt.Errorf("redis: %s: %w", op, store.ErrClosed)
	}
	if ve, ok := valkey.IsValkeyErr(err); ok {
		if ve.IsLoading() || ve.IsClusterDown() || ve.IsTryAgain() || busyError(ve.Error()) {
			return fmt.Errorf("redis: %s: %w: %w", op, store.ErrUnavailable, err)
		}
		return fmt.Errorf("redis: %s: %w", op, err)
	}
	// Everything else is the connection: refused, reset, timed out, closing.
	s.lastFail.Store(time.Now().UnixNano())
	return fmt.Errorf("redis: %s: %w: %w", op, store.ErrUnavailable, err)
}

func (s *Store) getChunk() []byte {
	if p, ok := s.chunks.Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return make([]byte, 0, s.opts.ChunkSize)
}

func (s *Store) putChunk(b []byte) {
	b = b[:0]
	s.chunks.Put(&b)
}

// inScriptBudget is the budget the commit script enforces itself: all of it
// in standalone mode, none in cluster mode, where a slot's script sees only
// its slot and the evictor keeps the budget.
func (s *Store) inScriptBudget() int64 {
	if s.cluster {
		return 0
	}
	return s.opts.MaxBytes
}

// probe fails fast with store.ErrUnavailable when the last command that
// reached for the server failed and a PING still does. A healthy store
// sends nothing: Create costs no round trip.
func (s *Store) probe(ctx context.Context) error {
	if s.lastFail.Load() <= s.lastOK.Load() {
		return nil
	}
	return s.wrap("create", s.do(ctx, s.client.B().Ping().Build()).Error())
}

// busyError reports server replies that mean "not now" rather than "wrong".
func busyError(msg string) bool {
	for _, p := range []string{"OOM", "MASTERDOWN", "READONLY", "BUSY", "NOREPLICAS", "NOAUTH", "WRONGPASS"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

func (s *Store) checkOpen(op string) error {
	if s.closed.Load() {
		return fmt.Errorf("redis: %s: %w", op, store.ErrClosed)
	}
	return nil
}

// newID returns a fresh version ID: 16 hex digits, unique per primary key
// with overwhelming probability.
func newID() string {
	return fmt.Sprintf("%016x", rand.Uint64())
}

// deadline returns when an entry stops being served (unix ms) and when its
// keys expire: its Expires, or DefaultTTL from now. Keys live at least a
// second so that Redis never deletes a key being written.
func (s *Store) deadline(e store.Entry, now time.Time) (visible, ttlAt int64) {
	if e.Expires.IsZero() {
		visible = now.Add(s.opts.DefaultTTL).UnixMilli()
	} else {
		visible = e.Expires.UnixMilli()
	}
	return visible, max(visible, now.Add(time.Second).UnixMilli())
}

// parallel runs fn(i) for i in [0, n) on at most limit goroutines (the
// client pipelines their commands) and returns the first error.
func parallel(n, limit int, fn func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, limit)
	)
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}
