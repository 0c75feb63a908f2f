package memory

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync"
	"sync/atomic"

	"github.com/cellar-http/cellar/store"
)

// chunkSize is the size of the chunks a body is kept in. Every chunk but
// the last is full, so ReadAt finds a byte's chunk by division. A body's
// first chunk is sized by its announced length, or starts small and grows,
// so that small bodies take little more than their size. WriteTo makes one
// Write per chunk: at 256 KiB a body up to that size reaches the connection
// in one write (at 64 KiB a 100 KiB hit took two, and a third syscall).
const chunkSize = 256 << 10

const firstChunk = 512

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// body is a committed body: immutable, shared by every reader.
type body struct {
	chunks [][]byte
	size   int64
}

// readAt copies from b at off into p; the caller has checked 0 <= off < size.
func (b *body) readAt(p []byte, off int64) int {
	n := 0
	for n < len(p) && off < b.size {
		c := b.chunks[off/chunkSize]
		k := copy(p[n:], c[off%chunkSize:])
		n += k
		off += int64(k)
	}
	return n
}

// writer buffers a body until Commit. Its methods may be called from
// different goroutines (an Abort from a cancelled request, say).
type writer struct {
	s    *Store
	ctx  context.Context
	orig store.Entry // what the caller gave, returned by Commit
	e    store.Entry // the store's own copy, with the ID set
	meta int64
	held int64 // bytes reserved against the store's budget (reserve.go)

	mu     sync.Mutex
	chunks [][]byte
	cur    []byte
	size   int64
	crc    uint32
	done   bool  // committed or aborted
	err    error // why the writer failed, if it did
}

func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return 0, err
	}
	need := w.meta + w.size + int64(len(p))
	if need > w.s.maxBytes {
		return 0, w.fail(fmt.Errorf("%w: the body of %q exceeds the budget of %d bytes", store.ErrTooLarge, w.e.Key, w.s.maxBytes))
	}
	if need > w.held {
		if !w.s.reserve(need - w.held) {
			return 0, w.fail(w.s.errBudgetHeld(w.e.Key, need-w.held))
		}
		w.held = need
	}
	w.crc = crc32.Update(w.crc, castagnoli, p)
	w.size += int64(len(p))
	n := len(p)
	for len(p) > 0 {
		if len(w.cur) == chunkSize {
			w.chunks = append(w.chunks, w.cur)
			w.cur = make([]byte, 0, chunkSize)
		}
		k := min(len(p), chunkSize-len(w.cur))
		if cap(w.cur)-len(w.cur) < k {
			grown := make([]byte, len(w.cur), min(max(2*cap(w.cur), len(w.cur)+k, firstChunk), chunkSize))
			copy(grown, w.cur)
			w.cur = grown
		}
		w.cur = append(w.cur, p[:k]...)
		p = p[k:]
	}
	return n, nil
}

// usable returns why the writer cannot go on, if it cannot: it has
// finished, failed, its context has ended or the store has closed. The
// caller holds mu.
func (w *writer) usable() error {
	switch {
	case w.err != nil:
		return w.err
	case w.done:
		return errFinished
	case w.ctx.Err() != nil:
		return w.fail(fmt.Errorf("memory: writing %q: %w", w.e.Key, context.Cause(w.ctx)))
	case w.s.closed.Load():
		return w.fail(store.ErrClosed)
	}
	return nil
}

// fail records err, drops the buffered body (nothing else refers to it:
// the garbage collector takes it back) and returns its reservation. The
// caller holds mu.
func (w *writer) fail(err error) error {
	w.err = err
	w.chunks, w.cur = nil, nil
	w.release()
	w.s.dropped(w.size)
	return err
}

// release returns the writer's reservation; the caller holds mu.
func (w *writer) release() {
	w.s.unreserve(w.held)
	w.held = 0
}

func (w *writer) Commit() (store.Entry, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return store.Entry{}, err
	}
	cur := w.cur
	if len(w.chunks) == 0 && cap(cur)-len(cur) > len(cur)/8 {
		cur = append([]byte(nil), cur...) // trim a small body's slack
	}
	b := &body{chunks: append(w.chunks, cur), size: w.size}
	w.e.Size, w.e.Checksum = w.size, w.crc
	it := &item{e: w.e, body: b, weight: w.meta + w.size}
	w.done = true
	w.chunks, w.cur = nil, nil
	err := w.s.commit(it)
	// Committed, the body counts in the cache's weight; refused, it is
	// garbage. Either way the writer holds nothing any more.
	w.release()
	if err != nil {
		w.err = err
		return store.Entry{}, err
	}
	out := w.orig
	out.ID, out.Pair.ID, out.Size, out.Checksum = w.e.ID, w.e.ID, w.size, w.crc
	return out, nil
}

func (w *writer) Abort() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done && w.err == nil {
		w.fail(errors.New("memory: write aborted"))
	}
	w.done = true
	return nil
}

// reader reads a committed body. Read and Seek keep a position and are for
// one goroutine; ReadAt, WriteTo's source data and Size are safe to share.
type reader struct {
	b      *body
	off    int64
	closed atomic.Bool
}

var errReaderClosed = errors.New("memory: read of a closed body")

func (r *reader) Size() int64 { return r.b.size }

func (r *reader) Read(p []byte) (int, error) {
	if r.closed.Load() {
		return 0, errReaderClosed
	}
	if r.off >= r.b.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	n := r.b.readAt(p, r.off)
	r.off += int64(n)
	return n, nil
}

func (r *reader) ReadAt(p []byte, off int64) (int, error) {
	if r.closed.Load() {
		return 0, errReaderClosed
	}
	if off < 0 {
		return 0, errors.New("memory: negative offset")
	}
	if off >= r.b.size {
		return 0, io.EOF
	}
	n := r.b.readAt(p, off)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteTo writes the rest of the body to dst straight from its chunks, so
// that io.Copy to a connection copies nothing.
func (r *reader) WriteTo(dst io.Writer) (int64, error) {
	if r.closed.Load() {
		return 0, errReaderClosed
	}
	var total int64
	for r.off < r.b.size {
		c := r.b.chunks[r.off/chunkSize][r.off%chunkSize:]
		n, err := dst.Write(c)
		r.off += int64(n)
		total += int64(n)
		if err != nil {
			return total, err
		}
		if n < len(c) {
			return total, io.ErrShortWrite
		}
	}
	return total, nil
}

// Seek sets the position of Read and WriteTo, for http.ServeContent.
func (r *reader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.b.size
	default:
		return 0, errors.New("memory: invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("memory: negative position")
	}
	r.off = offset
	return offset, nil
}

func (r *reader) Close() error {
	r.closed.Store(true)
	return nil
}
