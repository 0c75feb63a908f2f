package disk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/cellar-http/cellar/store"
)

// Open returns a reader over the body of the entry with the given key and
// ID. It does not read the index: the in-memory LRU knows every entry's
// size and checksum, so Open is a map lookup plus open(2).
func (s *Store) Open(ctx context.Context, key, id string) (store.Body, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.release()
	n, ok := s.idx.get(id, s.now().UnixNano())
	if !ok || !hasKey(n.ikey, key) {
		return nil, fmt.Errorf("disk store: body %s of %q: %w", id, key, store.ErrNotFound)
	}
	if n.inline {
		return s.openInline(key, n)
	}
	f, err := openBody(s.bodyPath(id))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("disk store: body %s of %q: %w", id, key, store.ErrNotFound)
		}
		return nil, fmt.Errorf("disk store: %w", err)
	}
	b := &body{s: s, f: f, id: id, size: n.size, want: n.crc}
	if !n.verified {
		if err := b.verify(); err != nil {
			f.Close()
			return nil, err
		}
		s.idx.setVerified(id)
	}
	return b, nil
}

// verify reads the whole file of a body not yet verified since the store
// was opened and checks it against its checksum, before a byte of it is
// served: a body found corrupt is dropped and Open returns ErrCorrupt (the
// engine then treats it as a miss). Once verified, a body is served with
// sendfile(2), unchecked (see WriteTo).
func (b *body) verify() error {
	bp := verifyBuffers.Get().(*[]byte)
	defer verifyBuffers.Put(bp)
	buf := *bp
	var crc uint32
	var off int64
	for off < b.size {
		n, err := b.f.ReadAt(buf[:min(int64(len(buf)), b.size-off)], off)
		crc = crc32.Update(crc, castagnoli, buf[:n])
		off += int64(n)
		if err == io.EOF && off < b.size {
			return b.corrupt(fmt.Sprintf("file ends at %d of %d bytes", off, b.size))
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("disk store: reading body %s: %w", b.id, err)
		}
	}
	if crc != b.want {
		return b.corrupt("checksum mismatch")
	}
	return nil
}

var verifyBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// WriteTo writes the rest of the body to w. The body was verified (when
// written, or at its first Open since the store was opened), so it is handed
// to w as the file itself: when w is a net/http ResponseWriter (or passes
// io.ReaderFrom through), the kernel sends it with sendfile(2), with no copy
// and no checksum. A file found shorter than its recorded size ends in
// ErrCorrupt, so the response is aborted rather than ended short.
func (b *body) WriteTo(w io.Writer) (int64, error) {
	if b.err != nil {
		if b.err == io.EOF {
			return 0, nil
		}
		return 0, b.err
	}
	rest := b.size - b.off
	if rest <= 0 {
		return 0, nil
	}
	lr := &io.LimitedReader{R: b.f, N: rest}
	n, err := io.Copy(w, lr)
	b.off += n
	if err != nil {
		return n, fmt.Errorf("disk store: sending body %s: %w", b.id, err)
	}
	if n < rest {
		return n, b.corrupt(fmt.Sprintf("file ends at %d of %d bytes", b.off, b.size))
	}
	b.err = io.EOF
	return n, nil
}

// openInline reads a body kept in its index record: the size bytes before
// the marshalled entry that ends its frame, checked against the body's
// checksum before they are returned.
func (s *Store) openInline(key string, n node) (store.Body, error) {
	s.ilog.mu.RLock()
	cur, ok := s.idx.peek(n.id) // where the record is now (compaction moves it)
	var b []byte
	var bad string
	var err error
	if ok {
		start := cur.off + cur.rlen - cur.metaLen - cur.size
		if cur.size < 0 || start < cur.off {
			bad = "unreadable record"
		} else {
			var v []byte
			if v, err = cur.seg.readAt(start, cur.size, &b); err == nil {
				b = bytes.Clone(v) // v may alias the mapping
				if b == nil {
					b = []byte{}
				}
				if crc32.Checksum(b, castagnoli) != cur.crc {
					bad = "checksum mismatch"
				}
			}
		}
	}
	s.ilog.mu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("disk store: reading body %s: %w", n.id, err)
	}
	if bad != "" {
		s.log.Warn("dropping corrupt entry", "id", n.id, "reason", bad)
		go s.removeIDs([]drop{{id: n.id, corrupt: true}})
		return nil, fmt.Errorf("disk store: body %s: %s: %w", n.id, bad, store.ErrCorrupt)
	}
	if !ok {
		return nil, fmt.Errorf("disk store: body %s of %q: %w", n.id, key, store.ErrNotFound)
	}
	return &memBody{b: b}, nil
}

// memBody reads an inline body, checked when it was opened.
type memBody struct {
	b   []byte
	off int64
}

func (m *memBody) Size() int64 { return int64(len(m.b)) }

func (m *memBody) Read(p []byte) (int, error) {
	if m.off >= int64(len(m.b)) {
		return 0, io.EOF
	}
	n := copy(p, m.b[m.off:])
	m.off += int64(n)
	return n, nil
}

func (m *memBody) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("disk store: negative offset")
	}
	if off >= int64(len(m.b)) {
		return 0, io.EOF
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteTo writes the rest of the body in one Write.
func (m *memBody) WriteTo(w io.Writer) (int64, error) {
	rest := m.b[m.off:]
	n, err := w.Write(rest)
	m.off += int64(n)
	if err == nil && n < len(rest) {
		err = io.ErrShortWrite
	}
	return int64(n), err
}

func (m *memBody) Close() error { return nil }

// hasKey reports whether index key ik belongs to the primary key key.
func hasKey(ik, key string) bool {
	if strings.IndexByte(key, 0) >= 0 {
		return strings.HasPrefix(ik, string(keyPrefix(key)))
	}
	return len(ik) >= len(key)+len(sep) && ik[:len(key)] == key && ik[len(key):len(key)+len(sep)] == sep
}

// body reads a committed body file. Sequential reads feed a CRC-32C that is
// checked when they reach the end.
type body struct {
	s    *Store
	f    *os.File
	id   string
	size int64
	want uint32

	off int64  // sequential read offset
	crc uint32 // CRC of the bytes read sequentially so far
	err error  // sticky end-of-body result: io.EOF or a corruption error
}

func (b *body) Size() int64 { return b.size }

// Read reads the body in order. At the end it returns io.EOF when the bytes
// match the checksum recorded at Commit, and an error wrapping
// store.ErrCorrupt (the entry is then deleted) when they do not or the file
// is shorter than recorded.
func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.off >= b.size {
		if b.crc != b.want {
			return 0, b.corrupt("checksum mismatch")
		}
		b.err = io.EOF
		return 0, io.EOF
	}
	if rem := b.size - b.off; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := b.f.Read(p)
	b.crc = crc32.Update(b.crc, castagnoli, p[:n])
	b.off += int64(n)
	if err == io.EOF {
		if b.off < b.size {
			return n, b.corrupt(fmt.Sprintf("file ends at %d of %d bytes", b.off, b.size))
		}
		err = nil
	}
	if err != nil {
		return n, fmt.Errorf("disk store: reading body %s: %w", b.id, err)
	}
	return n, nil
}

// ReadAt reads len(p) bytes at off, for Range requests. It checks bounds
// but not the checksum.
func (b *body) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("disk store: negative offset")
	}
	if off >= b.size {
		return 0, io.EOF
	}
	short := false
	if rem := b.size - off; int64(len(p)) > rem {
		p = p[:rem]
		short = true
	}
	n, err := b.f.ReadAt(p, off)
	if err == io.EOF && n < len(p) {
		return n, b.corrupt(fmt.Sprintf("file ends before %d of %d bytes", off+int64(len(p)), b.size))
	}
	if err != nil && err != io.EOF {
		return n, fmt.Errorf("disk store: reading body %s: %w", b.id, err)
	}
	if short {
		return n, io.EOF
	}
	return n, nil
}

// corrupt makes the body's sticky error a corruption error and deletes the
// entry.
func (b *body) corrupt(why string) error {
	b.err = fmt.Errorf("disk store: body %s: %s: %w", b.id, why, store.ErrCorrupt)
	b.s.log.Warn("dropping corrupt entry", "id", b.id, "reason", why)
	b.s.removeIDs([]drop{{id: b.id, corrupt: true}})
	return b.err
}

func (b *body) Close() error { return b.f.Close() }

// Live reports, from memory, whether key's entry id is stored and within its
// horizon, and counts as a use of it for eviction. A memory tier in front of
// the store (package tiered) asks it on each hit it answers, so that it
// never serves an entry this store has evicted, and this store's recency
// follows those hits.
func (s *Store) Live(key, id string) bool {
	now := s.now().UnixNano()
	n, ok := s.idx.get(id, now)
	return ok && hasKey(n.ikey, key) && (n.expires == 0 || n.expires > now)
}
