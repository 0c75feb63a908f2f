package redis

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync"

	"github.com/cellar-http/cellar/store"
	"github.com/valkey-io/valkey-go"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// body reads a stored body chunk by chunk: Read holds at most one chunk,
// ReadAt fetches just the bytes asked for with GETRANGE.
type body struct {
	s        *Store
	ctx      context.Context // the Open context, without its cancellation
	key, h   string
	hd       header
	checksum uint32

	mu     sync.Mutex // guards the sequential state below
	off    int64      // next byte Read returns
	chunk  string     // the chunk holding off, once fetched
	cstart int64      // offset of chunk's first byte
	crc    uint32     // CRC-32C of bytes [0, off)
	done   bool       // EOF reached and checked
	closed bool
}

func (b *body) Size() int64 { return b.hd.size }

// expectLen is the length chunk n must have.
func (b *body) expectLen(n int) int64 {
	start := int64(n) * int64(b.hd.chunkSize)
	return min(int64(b.hd.chunkSize), b.hd.size-start)
}

// Read reads the body in order. At the end it checks the checksum: a
// mismatch drops the entry and fails with store.ErrCorrupt instead of
// io.EOF. A chunk that vanished (the entry was evicted, purged or replaced
// and its grace period passed) fails with store.ErrNotFound.
func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, fmt.Errorf("redis: read: %w", store.ErrClosed)
	}
	if b.off >= b.hd.size {
		if !b.done {
			b.done = true
			if b.crc != b.checksum {
				b.dropCorrupt()
				return 0, fmt.Errorf("redis: body of %q: checksum mismatch: %w", b.key, store.ErrCorrupt)
			}
		}
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.off >= b.cstart+int64(len(b.chunk)) || b.chunk == "" {
		n := int(b.off / int64(b.hd.chunkSize))
		v, err := b.fetch(n)
		if err != nil {
			return 0, err
		}
		if int64(len(v)) != b.expectLen(n) {
			b.dropCorrupt()
			return 0, fmt.Errorf("redis: body of %q: chunk %d has %d bytes, want %d: %w",
				b.key, n, len(v), b.expectLen(n), store.ErrCorrupt)
		}
		b.chunk, b.cstart = v, int64(n)*int64(b.hd.chunkSize)
	}
	k := copy(p, b.chunk[b.off-b.cstart:])
	b.crc = crc32.Update(b.crc, castagnoli, p[:k])
	b.off += int64(k)
	if b.off == b.cstart+int64(len(b.chunk)) {
		b.chunk = "" // hold no chunk longer than needed
	}
	return k, nil
}

// ReadAt reads len(p) bytes at off, fetching only the byte ranges asked for.
// It does not verify the checksum (only a full Read can).
func (b *body) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("redis: ReadAt: negative offset")
	}
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return 0, fmt.Errorf("redis: read: %w", store.ErrClosed)
	}
	if off >= b.hd.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), b.hd.size-off)
	cs := int64(b.hd.chunkSize)
	var read int64
	for read < want {
		pos := off + read
		n := int(pos / cs)
		start := pos - int64(n)*cs
		end := min(start+want-read, b.expectLen(n)) // exclusive
		key := b.s.chunkKey(b.h, b.hd.id, n)
		v, err := b.retryOnce(func() (string, error) {
			return b.s.do(b.ctx, b.s.client.B().Getrange().Key(key).Start(start).End(end-1).Build()).ToString()
		})
		if err != nil {
			return int(read), b.readErr(err)
		}
		if int64(len(v)) != end-start {
			if v == "" {
				// GETRANGE answers "" for a missing key.
				return int(read), fmt.Errorf("redis: body of %q: chunk %d: %w", b.key, n, store.ErrNotFound)
			}
			return int(read), fmt.Errorf("redis: body of %q: chunk %d is short: %w", b.key, n, store.ErrCorrupt)
		}
		copy(p[read:], v)
		read += int64(len(v))
	}
	if read < int64(len(p)) {
		return int(read), io.EOF
	}
	return int(read), nil
}

// fetch reads chunk n. A command that failed for want of the server (a
// timeout, a reset connection) is sent once more before the read fails: a
// server that stalls for a moment between two chunks (a fork for a
// snapshot, a slow disk, a failover) would otherwise cut a response that
// was already half sent to the client (issue 13, item 7). A chunk that is
// gone, or a reply of the server's, is not retried.
func (b *body) fetch(n int) (string, error) {
	key := b.s.chunkKey(b.h, b.hd.id, n)
	v, err := b.retryOnce(func() (string, error) {
		return b.s.do(b.ctx, b.s.client.B().Get().Key(key).Build()).ToString()
	})
	if err != nil {
		return "", b.readErr(err)
	}
	return v, nil
}

// retryOnce runs read, and once more when the server did not answer. Range
// reads (ReadAt) go through it too.
func (b *body) retryOnce(read func() (string, error)) (string, error) {
	v, err := read()
	if err != nil && retryable(err) {
		if b.s.beforeRetry != nil {
			b.s.beforeRetry()
		}
		v, err = read()
	}
	return v, err
}

// retryable reports whether a failed read may succeed if sent again: the
// server did not answer (rather than answered nil or an error).
func retryable(err error) bool {
	if valkey.IsValkeyNil(err) || errors.Is(err, context.Canceled) {
		return false
	}
	_, reply := valkey.IsValkeyErr(err)
	return !reply
}

func (b *body) readErr(err error) error {
	if valkey.IsValkeyNil(err) {
		return fmt.Errorf("redis: body of %q: chunk gone: %w", b.key, store.ErrNotFound)
	}
	return b.s.wrap("read body", err)
}

// dropCorrupt removes the version whose bytes failed their check, so that
// the next lookup misses instead of serving it again.
func (b *body) dropCorrupt() {
	nums, _, err := b.s.exec(b.ctx, removeScript, 7, b.key, b.h, b.s.opts.Now(), "id", b.hd.id)
	if err == nil {
		b.s.account(b.h, nums)
	}
}

func (b *body) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	b.chunk = ""
	b.s.release()
	return nil
}
