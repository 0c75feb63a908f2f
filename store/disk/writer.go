package disk

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"sync"

	"github.com/cellar-http/cellar/store"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// bodyFile is the part of *os.File a writer uses (an interface so tests can
// inject write errors).
type bodyFile interface {
	io.Writer
	Sync() error
	Close() error
}

// newID returns a fresh entry ID: 128 random bits in lower-case hex.
func newID() string {
	var b [idLen]byte
	for half := range 2 {
		v := rand.Uint64()
		for i := range 16 {
			b[half*16+i] = hexDigits[v>>60]
			v <<= 4
		}
	}
	return string(b[:])
}

// Create starts writing a new entry. A body of up to Options.InlineMax
// bytes is kept in memory and committed inside its index record; a larger
// one goes to a file in tmp/ until Commit, from the first byte when its
// Content-Length announces it, else from the write that outgrows InlineMax.
func (s *Store) Create(ctx context.Context, e store.Entry) (store.Writer, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.release()
	e.ID = newID()
	e.Pair.ID = e.ID
	e.Size, e.Checksum = 0, 0
	// The metadata is encoded at Commit: keep it safe from later changes
	// by the caller.
	e.Tags = slices.Clone(e.Tags)
	e.Pair.Request.Header = e.Pair.Request.Header.Clone()
	e.Pair.Response.Header = e.Pair.Response.Header.Clone()
	if u := e.Pair.Request.URL; u != nil {
		c := *u
		if u.User != nil {
			user := *u.User
			c.User = &user
		}
		e.Pair.Request.URL = &c
	}
	// Refuse at once a body its Content-Length says the budget cannot hold,
	// rather than write it to tmp/ and refuse it at Commit; reserve room for
	// one it can.
	declared := declaredLength(e)
	if declared >= 0 {
		// Encoding the record to learn its cost is a second encoding of
		// every miss's metadata (Commit encodes it again): only a body
		// that takes half the budget is weighed here. Commit refuses any
		// entry over the budget anyway.
		if declared > s.budget/2 {
			if cost := recordCost(declared, indexKey(e.Key, e.Variant), encodeRecord(e, 0, nil)); cost > s.budget {
				return nil, fmt.Errorf("disk store: declared entry of %d bytes exceeds the %d-byte budget: %w", cost, s.budget, store.ErrTooLarge)
			}
		}
		if err := s.reserve(declared); err != nil {
			return nil, err
		}
	}
	w := &writer{s: s, ctx: ctx, e: e, reserved: max(declared, 0)}
	if s.inlineMax < 0 || declared > s.inlineMax {
		if err := w.spill(); err != nil {
			s.unreserve(declared)
			return nil, err
		}
	} else if declared > 0 {
		w.inline = make([]byte, 0, declared)
	}
	return w, nil
}

// spill moves the body to a file in tmp/: it has outgrown Options.InlineMax
// (or is announced larger). w.mu is held, or w is not yet shared.
func (w *writer) spill() error {
	w.tmp = w.s.tmpPath(w.e.ID) // named here: a body kept inline needs no file
	f, err := w.s.createFile(w.tmp)
	if err != nil {
		return fmt.Errorf("disk store: creating body: %w", err)
	}
	w.f, w.spilled = f, true
	w.bw = bufPool.Get().(*bufio.Writer)
	w.bw.Reset(f)
	inline := w.inline
	w.inline = nil
	if _, err := w.bw.Write(inline); err != nil {
		return fmt.Errorf("disk store: writing body: %w", err)
	}
	return nil
}

// bufPool holds the write buffers of writers: callers often write in small
// pieces (whatever a network read returned), and a buffer turns them into
// few large writes.
var bufPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 64<<10) }}

type writerState int

const (
	writing writerState = iota
	committed
	aborted
)

// writer streams a body into tmp/. Its methods may be called from different
// goroutines (Abort from a canceller, say), but not Write concurrently with
// itself.
type writer struct {
	s   *Store
	ctx context.Context
	e   store.Entry
	tmp string // the body's file in tmp/, once spilled

	mu sync.Mutex
	// inline holds the body while it may still be kept in its index record;
	// spilled says it went to a file instead.
	inline  []byte
	spilled bool
	f       bodyFile      // nil until spilled, and once closed
	bw      *bufio.Writer // buffers writes to f; nil once released
	n       int64
	crc     uint32
	// reserved is what this writer counts against the budget (Store.reserve):
	// at least n, until Commit hands it to the index or the write ends.
	reserved int64
	state    writerState
	err      error // the sticky error that failed the write
}

func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.err != nil:
		return 0, w.err
	case w.state == committed:
		return 0, errors.New("disk store: write after Commit")
	case w.state == aborted:
		return 0, errors.New("disk store: write after Abort")
	}
	if err := ctxErr(w.ctx); err != nil {
		return 0, w.fail(err)
	}
	if w.n+int64(len(p)) > w.s.budget {
		return 0, w.fail(fmt.Errorf("disk store: body exceeds the %d-byte budget: %w", w.s.budget, store.ErrTooLarge))
	}
	if grow := w.n + int64(len(p)) - w.reserved; grow > 0 {
		if err := w.s.reserve(grow); err != nil {
			return 0, w.fail(err)
		}
		w.reserved += grow
	}
	var n int
	var err error
	switch {
	case !w.spilled && w.n+int64(len(p)) <= w.s.inlineMax:
		w.inline = append(w.inline, p...)
		n = len(p)
	case !w.spilled:
		if err := w.spill(); err != nil {
			return 0, w.fail(err)
		}
		fallthrough
	default:
		n, err = w.bw.Write(p)
	}
	w.crc = crc32.Update(w.crc, castagnoli, p[:n])
	w.n += int64(n)
	if err != nil {
		return n, w.fail(fmt.Errorf("disk store: writing body: %w", err))
	}
	return n, nil
}

// fail records err, discards the temporary file and returns err. w.mu is held.
func (w *writer) fail(err error) error {
	w.err = err
	w.discard()
	return err
}

// discard closes and removes the temporary file. w.mu is held.
func (w *writer) discard() {
	w.s.unreserve(w.reserved)
	w.reserved = 0
	w.releaseBuffer()
	w.inline = nil
	if !w.spilled {
		return // no file was created
	}
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	if err := os.Remove(w.tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		w.s.log.Warn("removing temporary body", "path", w.tmp, "err", err)
	}
}

// Abort discards the body. It is a no-op after Commit.
func (w *writer) Abort() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != writing {
		return nil
	}
	w.state = aborted
	if w.err == nil {
		w.discard()
	}
	return nil
}

// Commit moves the body into bodies/ and indexes the entry, replacing the
// previous version of its Key and Variant and evicting what the budget
// requires.
func (w *writer) Commit() (store.Entry, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.err != nil:
		return store.Entry{}, w.err
	case w.state == committed:
		return store.Entry{}, errors.New("disk store: Commit called twice")
	case w.state == aborted:
		return store.Entry{}, errors.New("disk store: Commit after Abort")
	}
	if err := ctxErr(w.ctx); err != nil {
		return store.Entry{}, w.fail(err)
	}
	if !w.spilled {
		return w.commitInline()
	}
	if err := w.bw.Flush(); err != nil {
		return store.Entry{}, w.fail(fmt.Errorf("disk store: writing body: %w", err))
	}
	w.releaseBuffer()
	s := w.s
	if s.opts.Fsync == FsyncAlways {
		if err := w.f.Sync(); err != nil {
			return store.Entry{}, w.fail(fmt.Errorf("disk store: syncing body: %w", err))
		}
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return store.Entry{}, w.fail(fmt.Errorf("disk store: closing body: %w", err))
	}
	e := w.e
	e.Size, e.Checksum = w.n, w.crc
	final := s.bodyPath(e.ID)
	if err := s.moveIntoBodies(w.tmp, final, e.ID[:2]); err != nil {
		return store.Entry{}, w.fail(fmt.Errorf("disk store: %w", err))
	}
	if s.opts.Fsync == FsyncAlways {
		if err := syncDir(s.fanoutDir(e.ID[:2])); err != nil {
			os.Remove(final)
			return store.Entry{}, w.fail(fmt.Errorf("disk store: syncing directory: %w", err))
		}
	}
	// The index releases the reservation once the entry counts as committed.
	reserved := w.reserved
	w.reserved = 0
	if err := s.index(e, reserved, nil); err != nil {
		os.Remove(final)
		w.err = err
		return store.Entry{}, err
	}
	w.state = committed
	return e, nil
}

// commitInline indexes the entry with its body inside the record: no file
// is created, renamed or synced (the append to the log syncs the record
// under FsyncIndex and FsyncAlways). w.mu is held.
func (w *writer) commitInline() (store.Entry, error) {
	e := w.e
	e.Size, e.Checksum = w.n, w.crc
	body := w.inline
	if body == nil {
		body = []byte{}
	}
	w.inline = nil
	reserved := w.reserved
	w.reserved = 0
	if err := w.s.index(e, reserved, body); err != nil {
		w.err = err
		return store.Entry{}, err
	}
	w.state = committed
	return e, nil
}

// moveIntoBodies renames a finished temporary body to its final path,
// creating its fan-out directory xx on first use.
func (s *Store) moveIntoBodies(tmp, final, xx string) error {
	err := os.Rename(tmp, final)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Mkdir(s.fanoutDir(xx), 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	if s.opts.Fsync == FsyncAlways {
		if err := syncDir(s.bodies); err != nil {
			return err
		}
	}
	return os.Rename(tmp, final)
}

// releaseBuffer returns the write buffer to the pool. w.mu is held.
func (w *writer) releaseBuffer() {
	if w.bw != nil {
		w.bw.Reset(nil)
		bufPool.Put(w.bw)
		w.bw = nil
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// unlinkBodies removes the body files of entries no longer indexed. A reader
// that has one open keeps reading it.
func (s *Store) unlinkBodies(ids []string) {
	for _, id := range ids {
		if err := os.Remove(s.bodyPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("removing body", "id", id, "err", err)
		}
	}
}
