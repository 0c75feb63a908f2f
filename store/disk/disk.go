// Package disk is Cellar's embedded default store: an append-only log of
// index records with the index itself in memory (in the manner of Bitcask),
// plus one file per large body, inside one directory, under a byte budget.
//
// # Layout
//
//	dir/log/<seq>.log     the index log: segments of frames (puts, deletes,
//	                      recency), seq in 16 hex digits, oldest first; the
//	                      newest is appended to, the others are sealed
//	dir/bodies/xx/<id>    one file per committed body larger than
//	                      Options.InlineMax (smaller ones live in their index
//	                      record); xx is the first two hex digits of the
//	                      32-hex-digit entry ID (256 dirs)
//	dir/tmp/<id>          bodies being written; never read
//	dir/clean-shutdown    present only while the store is closed cleanly
//	dir/lock              flock'd by the Store that has the directory open
//
// Every entry (one per Key+Variant) is in memory: its ID, size, checksum,
// expiry, tags, recency and where its record is in the log. Lookup finds a
// Key's variants there and reads each record with one pread, checked by its
// frame's CRC-32C; Open of a body needs no read of the index at all.
//
// A body is written to tmp/ while its CRC-32C is computed; Commit renames it
// into bodies/ and then appends its record to the log, with deletes of the
// version it replaces and of any entries evicted to make room. Commits that
// run concurrently share that append (group commit: N concurrent commits
// pay for one write and, under FsyncIndex and FsyncAlways, one fdatasync),
// and none returns before the append that records it was written (and,
// under FsyncIndex and FsyncAlways, synced; under the default
// FsyncInterval a background sync follows within Options.SyncInterval).
// Files are removed only after the log no longer names them, so a crash can
// leave unreferenced files behind but never a record without its file; Open
// replays the log, cuts off a write torn at its end (or, after
// FsyncInterval, its unsynced end), sweeps orphan files, empties tmp/ and
// drops records whose file is missing or has the wrong size. Every frame is
// checked against its CRC as it is replayed; damage anywhere else drops
// every entry recorded before it (the lost frames may have removed some of
// them), never serving one that was purged. The log is compacted in the
// background (see compact.go).
//
// # Recency and budget
//
// Access recency lives in memory (a lock-protected LRU list; a hit never
// writes to disk) and is appended to the log in batches, every
// Options.RecencyInterval and at Close: after a restart the list starts
// ordered by last recorded use (see recency.go).
// The in-memory index costs roughly 350 bytes plus the key and tag lengths
// per entry (measured: 401 bytes for a 42-byte key and one tag), so the
// number of entries is bounded too (Options.MaxEntries, by default one per
// 2 KiB of MaxBytes: some 200 MiB of index for the default 1 GiB).
// Commit evicts least-recently-used entries until the new entry fits in
// Options.MaxBytes, which counts body bytes plus the log record of each
// entry, and in Options.MaxEntries. Dead records (replaced, removed) are not counted: compaction keeps
// them below the live ones plus 32 MiB. Entries past Entry.Expires are never
// returned by Lookup and are removed by a background sweep.
//
// A key keeps at most Options.MaxVariants variants: the append that
// commits one more also removes the key's least recently used variants
// (expired ones first), ordered by their last commit, Open or Update, which
// the LRU's nodes record. After a restart that order starts as commit time.
// PurgePrefix scans every key in memory; PurgeTag uses an in-memory map of
// tags.
//
// # Filesystem
//
// Every commit of a body over Options.InlineMax creates a file and every
// replacement or eviction removes one, so the cost of creating files bounds
// the rate of such misses; bodies up to InlineMax (16 KiB by default) are
// kept in their index record and create none. On ext4
// mounted without a journal the kernel's inode allocator skips, one by one,
// the inodes freed in the last minutes: under steady churn each creation
// then costs hundreds of microseconds (on one 2-core VM: 300–570 µs to
// create and write 1 KiB, against 30 µs on journaled ext4 and 12 µs on
// tmpfs). Prefer a journaled filesystem for the store's directory.
//
// # Checksums
//
// Every body has a CRC-32C, computed as it is written. A body file is
// checked once more, in full, at its first Open after the store was opened
// (the file may have been damaged while no process held it): a mismatch or
// a short file makes Open return store.ErrCorrupt, which the engine treats
// as a miss, and drops the entry. Verified bodies are tracked in memory and
// Body.WriteTo hands them to the writer as the file itself, so that net/http
// sends them with sendfile(2), unchecked; a file found shorter than recorded
// ends WriteTo in ErrCorrupt.
//
// Body.Read still verifies the CRC-32C once the whole body has been read in
// order: when the bytes do not match, the final Read returns an error
// wrapping store.ErrCorrupt instead of io.EOF, and the entry is deleted. A
// reader must treat ErrCorrupt like a truncated upstream response (abort the
// client connection rather than end the response normally). ReadAt (Range
// requests) is bounds-checked. An inline body is checked when it is opened
// (its frame's CRC and the body's own): Open returns ErrCorrupt and drops
// the entry. A record Lookup finds damaged is dropped likewise.
//
// # Format
//
// A frame of the log is a little-endian u32 length, the CRC-32C of the
// payload and the payload: a put (index key, tags, record), a delete (index
// key, entry ID) or recency (entry IDs and times); see log.go. A put's
// record is the one the bbolt index of earlier releases held (a version
// byte, a header, an inline body if any, store.MarshalEntry), so that Open
// imports such an index.db as it is and then removes it (see upgrade.go).
// An earlier release does not read the log: going back to one starts it
// empty (it sweeps the body files as orphans).
package disk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cellar-http/cellar/store"
)

// DefaultMaxBytes is the budget used when Options.MaxBytes is zero.
const DefaultMaxBytes int64 = 1 << 30

// DefaultInlineMax is the largest body kept in its index record when
// Options.InlineMax is zero. Measured with BenchmarkCommitParallel on a
// 2-core VM (ext4 without a journal) with the bbolt index of earlier
// releases: in the record, commits of 1, 8 and 16 KiB bodies ran 2.5 to 4
// times as fast as with a file each, 32 KiB ones only 1.2 to 1.4 times
// (bbolt then rewrote large leaves on every commit; the log appends them).
const DefaultInlineMax int64 = 16 << 10

// Fsync says what the store flushes to stable storage, and when. Every
// policy survives a crash of the process (a panic, SIGKILL, OOM kill): the
// kernel still holds every write, and Open finds every committed entry. The
// policies differ on power loss or an operating system crash.
type Fsync int

const (
	// FsyncInterval, the default, syncs the index log in the background,
	// once every Options.SyncInterval (one second by default) in which
	// something was appended, and never waits for it: Commit, Update and
	// the removals return once their append is written. After power loss
	// the changes of at most the last interval are gone (a purge or delete
	// among them may be undone), bodies may be torn (caught as with
	// FsyncIndex), and the end of the log may be damaged: Open cuts the
	// log at the first damage after the last point it knows was synced (see
	// syncer.go) and keeps everything before it. Damage before that point is
	// treated as under FsyncIndex. Misses cost no fdatasync each: over 10k
	// keys behind cellar serve this served 1.1 to 1.2 times the misses of
	// FsyncIndex (bench/RESULTS.md). Use FsyncIndex when a purge must hold
	// across power loss.
	FsyncInterval Fsync = iota
	// FsyncIndex syncs the index (one fdatasync of the log per append: per
	// batch of commits, per update or removal) but not the bodies, before
	// the change returns. After power loss every entry committed before it
	// is still listed (at most a torn last append, never acknowledged, is
	// cut off at Open), and a purge that returned holds; a body whose data
	// had not reached the disk is missing or short (Open drops the entry) or,
	// rarely, of the right size with wrong bytes (the reader gets
	// store.ErrCorrupt at the end of the body and the entry is dropped).
	FsyncIndex
	// FsyncNone never syncs (except the log once, at Close): for caches
	// that may be lost. After power loss recent commits may be gone,
	// bodies may be torn (caught as with FsyncIndex) and the log itself may
	// be damaged anywhere; Open's checks of every frame find it, log a
	// warning and drop the entries recorded before the damage. Removals
	// are commits too: a purge or delete shortly before the power loss may
	// be lost with the end of the log, and its entries served again.
	FsyncNone
	// FsyncAlways syncs each body file and its directory before indexing it,
	// and the log on every append: an entry whose Commit returned is
	// complete and intact after power loss. Removals are synced through the
	// log; their files may survive as orphans, which Open removes.
	FsyncAlways
)

// DefaultSyncInterval is how often FsyncInterval syncs the log when
// Options.SyncInterval is zero.
const DefaultSyncInterval = time.Second

// String returns the policy's name as configuration spells it.
func (f Fsync) String() string {
	switch f {
	case FsyncInterval:
		return "interval"
	case FsyncIndex:
		return "index"
	case FsyncNone:
		return "none"
	case FsyncAlways:
		return "always"
	}
	return fmt.Sprintf("Fsync(%d)", int(f))
}

// MarshalText implements encoding.TextMarshaler, for configuration files.
func (f Fsync) MarshalText() ([]byte, error) {
	if f < FsyncInterval || f > FsyncAlways {
		return nil, fmt.Errorf("disk store: unknown fsync policy %d", int(f))
	}
	return []byte(f.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler: it accepts
// "interval", "index", "none" and "always".
func (f *Fsync) UnmarshalText(b []byte) error {
	for p := FsyncInterval; p <= FsyncAlways; p++ {
		if string(b) == p.String() {
			*f = p
			return nil
		}
	}
	return fmt.Errorf("disk store: unknown fsync policy %q (want interval, index, none or always)", b)
}

// syncsEachAppend reports whether every append to the log is synced before
// it returns.
func (f Fsync) syncsEachAppend() bool { return f == FsyncIndex || f == FsyncAlways }

// Options configure a Store. The zero value is usable.
type Options struct {
	// MaxBytes is the budget: body bytes plus the log records of the live
	// entries (the log's dead records, up to as much again plus 32 MiB,
	// are not counted; see compact.go). Zero means
	// DefaultMaxBytes. A body larger than the budget is refused with
	// store.ErrTooLarge.
	MaxBytes int64
	// Fsync is the durability policy; the zero value is FsyncInterval.
	Fsync Fsync
	// SyncInterval is how often FsyncInterval syncs the log; zero means
	// DefaultSyncInterval. Other policies ignore it.
	SyncInterval time.Duration
	// Logger receives warnings about recovery and dropped entries; nil
	// discards them.
	Logger *slog.Logger
	// SweepInterval is how often expired entries are removed in the
	// background; zero means one minute.
	SweepInterval time.Duration
	// InlineMax is the largest body kept inside its index record instead of
	// a file of its own, so that storing it creates no file; zero means
	// DefaultInlineMax, a negative value keeps every body in a file.
	InlineMax int64
	// RecencyInterval is how often the entries used since the last time are
	// recorded in the index log, in one append, so that the least recently
	// used entries are still evicted first after a restart; zero means
	// DefaultRecencyInterval. Close records them too.
	RecencyInterval time.Duration
	// LockTimeout is how long Open waits for another user of the directory
	// to let go of it; zero means 100 ms.
	LockTimeout time.Duration
	// Clock returns the current time, for expiry; nil means time.Now.
	Clock func() time.Time
	// MaxVariants is how many variants of one primary key are kept; a
	// commit past it drops the least recently used (committed, opened or
	// updated) ones in its own append. Zero means
	// store.DefaultMaxVariants; it must not be negative.
	MaxVariants int
	// MaxEntries bounds the number of entries, and with it the memory of
	// the index, which is kept in memory (about 400 bytes per entry plus
	// its key): a commit past it drops the least recently used entries, as
	// the byte budget does. Zero means one entry per EntryBytes of MaxBytes
	// (524,288 for the default 1 GiB: some 200 MiB of index at most); it
	// must not be negative.
	MaxEntries int64
}

// EntryBytes is the budget per entry when Options.MaxEntries is zero.
//
// MaxBytes counts the disk; the index of every entry is also in memory.
// Without a bound on entries, responses of a few hundred bytes (a flood
// of cacheable 404s, or of query strings on a small cacheable page) would
// fill a 1 GiB budget with two to three million entries and a gigabyte of
// index in memory: a client able to ask for them could exhaust the
// process's memory through the disk store. One entry per 2 KiB keeps the
// index within a fifth of MaxBytes, and leaves typical web objects
// (larger than that on average) bounded by bytes alone.
const EntryBytes = 2 << 10

// ErrLocked is matched (with errors.Is) by the error Open returns when the
// directory is in use by another Store, in this process or another.
var ErrLocked = errors.New("disk store: directory is in use by another process")

type lockedError struct{ dir string }

func (e *lockedError) Error() string {
	return "disk store: directory " + e.dir + " is in use by another process"
}

func (e *lockedError) Is(target error) bool { return target == ErrLocked }

// Store is a disk-backed store.Store. It is safe for concurrent use.
type Store struct {
	dir    string
	bodies string // dir/bodies/, with the trailing separator
	opts   Options
	log    *slog.Logger
	now    func() time.Time
	budget int64
	// inlineMax is Options.InlineMax resolved: bodies up to it live in the
	// index; -1 for none.
	inlineMax int64

	ilog segLog   // the index log (see log.go)
	lock *os.File // holds the directory lock (see lockDir)

	// closeMu is held shared by every operation that touches the log and
	// exclusively by Close, so Close waits for them and they see ErrClosed
	// afterwards.
	closeMu sync.RWMutex
	closed  bool

	// wmu serializes every change to the index, so the in-memory index
	// (idx) always mirrors the log once the holder releases it.
	wmu sync.Mutex
	idx lru

	// compactMin is the dead log bytes below which no compaction runs
	// (see compact.go); compacting is set while one runs, compactDone
	// closed when it ends.
	compactMin  int64
	compacting  atomic.Bool
	compactWait sync.WaitGroup
	compactions atomic.Int64 // compactions run, for tests
	// appendFault, when set by a test, is called with every append to the
	// log and fails it by returning an error.
	appendFault func(buf []byte) error
	// compactStep, when set by a test, is called after each step of a
	// compaction (an append of copies, the removal of a segment).
	compactStep func()

	// reserved counts the bytes writers have in flight (see budget.go).
	reserved atomic.Int64

	commits  commitQueue  // Commits waiting for their batch's append
	batchBuf []byte       // the frames of a batch, reused under wmu
	batches  atomic.Int64 // appends Commits have run, for tests

	hits, misses, evictions atomic.Int64

	drops     chan drop // entries Lookup found expired or unreadable
	stopSweep chan struct{}
	sweepDone chan struct{}

	// createFile opens a temporary body file; tests replace it to inject
	// write errors.
	createFile func(path string) (bodyFile, error)
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the store in dir, recovering from any crash
// of a previous user: see the package documentation. It fails with an error
// matching ErrLocked while another Store has dir open.
func Open(dir string, opts Options) (*Store, error) {
	if opts.MaxBytes < 0 {
		return nil, fmt.Errorf("disk store: negative MaxBytes %d", opts.MaxBytes)
	}
	if opts.Fsync < FsyncInterval || opts.Fsync > FsyncAlways {
		return nil, fmt.Errorf("disk store: unknown fsync policy %d", int(opts.Fsync))
	}
	if opts.MaxVariants < 0 {
		return nil, fmt.Errorf("disk store: negative MaxVariants %d", opts.MaxVariants)
	}
	if opts.MaxVariants == 0 {
		opts.MaxVariants = store.DefaultMaxVariants
	}
	if opts.MaxEntries < 0 {
		return nil, fmt.Errorf("disk store: negative MaxEntries %d", opts.MaxEntries)
	}
	s := &Store{
		dir:        dir,
		bodies:     filepath.Join(dir, "bodies") + string(filepath.Separator),
		opts:       opts,
		log:        opts.Logger,
		now:        opts.Clock,
		budget:     opts.MaxBytes,
		drops:      make(chan drop, 1024),
		stopSweep:  make(chan struct{}),
		sweepDone:  make(chan struct{}),
		createFile: createBody,
		compactMin: compactMinBytes,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("store", "disk", "dir", dir)
	if s.now == nil {
		s.now = time.Now
	}
	if s.budget == 0 {
		s.budget = DefaultMaxBytes
	}
	if s.opts.MaxEntries == 0 {
		s.opts.MaxEntries = max(1, s.budget/EntryBytes)
	}
	if s.opts.SweepInterval <= 0 {
		s.opts.SweepInterval = time.Minute
	}
	switch {
	case s.opts.InlineMax == 0:
		s.inlineMax = DefaultInlineMax
	case s.opts.InlineMax < 0:
		s.inlineMax = -1
	default:
		s.inlineMax = s.opts.InlineMax
	}
	if s.opts.RecencyInterval <= 0 {
		s.opts.RecencyInterval = DefaultRecencyInterval
	}
	if s.opts.SyncInterval <= 0 {
		s.opts.SyncInterval = DefaultSyncInterval
	}
	if s.opts.LockTimeout <= 0 {
		s.opts.LockTimeout = 100 * time.Millisecond
	}
	s.idx.init()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("disk store: %w", err)
	}
	lock, err := lockDir(dir, s.opts.LockTimeout)
	if err != nil {
		return nil, err
	}
	s.lock = lock
	if err := s.makeDirs(); err != nil {
		s.unlock()
		return nil, err
	}
	if err := s.recover(); err != nil {
		s.unlock()
		return nil, err
	}
	go s.sweeper()
	return s, nil
}

// makeDirs creates dir, tmp/ and bodies/. The fan-out directories under
// bodies/ are created on first use.
func (s *Store) makeDirs() error {
	for _, d := range []string{s.dir, filepath.Join(s.dir, "tmp"), filepath.Join(s.dir, "bodies")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("disk store: %w", err)
		}
	}
	return nil
}

const hexDigits = "0123456789abcdef"

func (s *Store) fanoutDir(xx string) string { return s.bodies + xx }

// bodyPath is where the committed body of entry id lives.
func (s *Store) bodyPath(id string) string {
	return s.bodies + id[:2] + string(filepath.Separator) + id
}

func (s *Store) tmpPath(id string) string { return filepath.Join(s.dir, "tmp", id) }

// acquire marks the start of an operation that uses the index; release must
// follow. It fails with ErrClosed once Close has begun.
func (s *Store) acquire() error {
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return store.ErrClosed
	}
	return nil
}

func (s *Store) release() { s.closeMu.RUnlock() }

// unlock releases the directory lock.
func (s *Store) unlock() {
	if s.lock != nil {
		s.lock.Close()
	}
}

// Close stops the background sweep and compaction, records recency and
// closes the log. Bodies already open
// stay readable; writers not yet committed fail with store.ErrClosed.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	s.closeMu.Unlock()
	close(s.stopSweep)
	<-s.sweepDone
	s.compactWait.Wait()
	if err := s.flushRecency(); err != nil {
		s.log.Warn("recency of the last uses is lost", "err", err)
	}
	var err error
	if s.opts.Fsync == FsyncInterval {
		// Recorded as synced, so that damage found at the next Open is
		// not taken for an unsynced end (see syncer.go).
		s.wmu.Lock()
		err = s.syncActiveLocked()
		s.wmu.Unlock()
	}
	if err == nil && !s.opts.Fsync.syncsEachAppend() {
		err = s.syncLog()
	}
	if cerr := s.ilog.closeAll(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.leaveCleanMarker()
	}
	s.unlock()
	if err != nil {
		return fmt.Errorf("disk store: closing index: %w", err)
	}
	return nil
}

// Stats returns the store's counters.
func (s *Store) Stats() store.Stats {
	n, b := s.idx.totals()
	return store.Stats{
		Entries:   n,
		Bytes:     b,
		Hits:      s.hits.Load(),
		Misses:    s.misses.Load(),
		Evictions: s.evictions.Load(),
	}
}

// Dir returns the directory the store lives in.
func (s *Store) Dir() string { return s.dir }

func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("disk store: %w", err)
	}
	return nil
}
