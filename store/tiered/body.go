package tiered

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/cellar-http/cellar/store"
)

// reader reads a body held in memory. The bytes are shared by every reader
// and never written after they enter the memory tier.
type reader struct {
	b      []byte
	off    int64
	closed atomic.Bool
}

var errReaderClosed = errors.New("tiered store: read of a closed body")

func newReader(b []byte) *reader { return &reader{b: b} }

// Size is the body length.
func (r *reader) Size() int64 { return int64(len(r.b)) }

func (r *reader) Read(p []byte) (int, error) {
	if r.closed.Load() {
		return 0, errReaderClosed
	}
	if r.off >= int64(len(r.b)) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += int64(n)
	return n, nil
}

func (r *reader) ReadAt(p []byte, off int64) (int, error) {
	if r.closed.Load() {
		return 0, errReaderClosed
	}
	if off < 0 {
		return 0, errors.New("tiered store: negative offset")
	}
	if off >= int64(len(r.b)) {
		return 0, io.EOF
	}
	n := copy(p, r.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteTo writes the rest of the body in one Write, so that a body served to
// a connection is one write with no copy.
func (r *reader) WriteTo(w io.Writer) (int64, error) {
	if r.closed.Load() {
		return 0, errReaderClosed
	}
	rest := r.b[r.off:]
	if len(rest) == 0 {
		return 0, nil
	}
	n, err := w.Write(rest)
	r.off += int64(n)
	if err == nil && n < len(rest) {
		err = io.ErrShortWrite
	}
	return int64(n), err
}

func (r *reader) Close() error {
	r.closed.Store(true)
	return nil
}

// readFull reads a durable body in full, in order, so that the durable
// store verifies its checksum at the end.
func readFull(b store.Body) ([]byte, error) {
	buf := make([]byte, b.Size())
	if _, err := io.ReadFull(b, buf); err != nil {
		return nil, fmt.Errorf("tiered store: reading body: %w", err)
	}
	// Read on to the end, where the checksum is checked.
	var one [1]byte
	if n, err := b.Read(one[:]); n != 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = fmt.Errorf("body longer than its %d bytes: %w", len(buf), store.ErrCorrupt)
		}
		return nil, fmt.Errorf("tiered store: reading body: %w", err)
	}
	return buf, nil
}
