package redis

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"sync"
	"time"

	"github.com/cellar-http/cellar/store"
	"github.com/valkey-io/valkey-go"
)

// Create starts writing a new entry. Each chunk is stored as soon as it
// fills, with the short PendingTTL, so the writer holds at most one chunk;
// Commit then makes the entry visible in one script. Cancelling ctx aborts
// the write and deletes what was written.
func (s *Store) Create(ctx context.Context, e store.Entry) (store.Writer, error) {
	if err := s.checkOpen("create"); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redis: create: %w", err)
	}
	if err := s.probe(ctx); err != nil {
		return nil, err
	}
	e.ID = newID()
	e.Pair.ID = e.ID
	e.Size, e.Checksum = 0, 0
	e.Tags = append([]string(nil), e.Tags...)
	w := &writer{
		s:       s,
		ctx:     ctx,
		e:       e,
		h:       hashTag(e.Key),
		cs:      s.opts.ChunkSize,
		renewed: time.Now(),
	}
	// Abort as soon as ctx is cancelled, even if the caller never writes
	// again. The lock makes the callback wait until stop is set.
	w.mu.Lock()
	w.stop = context.AfterFunc(ctx, func() { w.Abort() })
	w.mu.Unlock()
	return w, nil
}

type writer struct {
	s    *Store
	ctx  context.Context
	stop func() bool
	e    store.Entry
	h    string
	cs   int

	mu      sync.Mutex
	buf     []byte // the chunk being filled, never more than cs bytes
	chunks  int    // chunks stored so far
	size    int64
	crc     uint32
	renewed time.Time // when the pending chunks' TTL was last renewed
	done    bool      // committed or aborted
	err     error     // why the writer stopped, if it failed
}

var errWriterDone = errors.New("redis: writer already committed or aborted")

func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		if w.err != nil {
			return 0, w.err
		}
		return 0, errWriterDone
	}
	if err := w.ctx.Err(); err != nil {
		return 0, w.failLocked(fmt.Errorf("redis: write: %w", err))
	}
	if limit := w.s.opts.MaxBytes; limit > 0 && w.size+int64(len(p)) > limit {
		return 0, w.failLocked(fmt.Errorf("redis: body of %q exceeds %d bytes: %w", w.e.Key, limit, store.ErrTooLarge))
	}
	written := 0
	for len(p) > 0 {
		k := min(len(p), w.cs-len(w.buf))
		if len(w.buf)+k > cap(w.buf) {
			w.grow(len(w.buf) + k)
		}
		w.buf = append(w.buf, p[:k]...)
		w.crc = crc32.Update(w.crc, castagnoli, p[:k])
		w.size += int64(k)
		written += k
		p = p[k:]
		if len(w.buf) == w.cs {
			if err := w.flushLocked(); err != nil {
				return written, w.failLocked(err)
			}
		}
	}
	return written, nil
}

// smallBuf is the largest buffer a writer allocates for itself; past it, it
// takes a whole chunk from the store's pool, so that small bodies cost little
// and large ones allocate nothing per chunk.
const smallBuf = 16 << 10

// grow makes room for n bytes in buf, never more than one chunk.
func (w *writer) grow(n int) {
	var nb []byte
	if n <= smallBuf {
		nb = make([]byte, len(w.buf), min(w.cs, max(2*cap(w.buf), n, 1<<10)))
	} else {
		nb = w.s.getChunk()[:len(w.buf)]
	}
	copy(nb, w.buf)
	w.releaseBuf()
	w.buf = nb
}

// releaseBuf returns a pooled buffer.
func (w *writer) releaseBuf() {
	if cap(w.buf) == w.cs && w.cs > smallBuf {
		w.s.putChunk(w.buf)
	}
	w.buf = nil
}

// flushLocked stores the buffered chunk with the pending TTL, renewing the
// TTL of the earlier chunks when a third of it has passed.
func (w *writer) flushLocked() error {
	if len(w.buf) == 0 {
		return nil
	}
	s := w.s
	cmds := make(valkey.Commands, 0, 1)
	cmds = append(cmds, s.client.B().Set().Key(s.chunkKey(w.h, w.e.ID, w.chunks)).
		Value(valkey.BinaryString(w.buf)).Px(s.opts.PendingTTL).Build())
	if time.Since(w.renewed) > s.opts.PendingTTL/3 {
		for i := range w.chunks {
			cmds = append(cmds, s.client.B().Pexpire().Key(s.chunkKey(w.h, w.e.ID, i)).
				Milliseconds(s.opts.PendingTTL.Milliseconds()).Build())
		}
		w.renewed = time.Now()
	}
	if err := s.doMulti(w.ctx, cmds...); err != nil {
		return s.wrap("write chunk", err)
	}
	w.chunks++
	w.buf = w.buf[:0]
	return nil
}

// Commit stores the last chunk and makes the entry visible.
func (w *writer) Commit() (store.Entry, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		if w.err != nil {
			return store.Entry{}, w.err
		}
		return store.Entry{}, errWriterDone
	}
	if err := w.ctx.Err(); err != nil {
		return store.Entry{}, w.failLocked(fmt.Errorf("redis: commit: %w", err))
	}
	if err := w.flushLocked(); err != nil {
		return store.Entry{}, w.failLocked(err)
	}
	w.releaseBuf()
	s := w.s
	e := w.e
	e.Size, e.Checksum = w.size, w.crc
	now := s.opts.Now()
	visible, ttlAt := s.deadline(e, now)
	value := encodeValue(header{
		id: e.ID, chunkSize: w.cs, chunks: w.chunks, size: e.Size, deadline: visible,
	}, e)
	nums, _, err := s.exec(w.ctx, commitScript, 7, e.Key, w.h, now,
		e.Variant, value, e.ID, strconv.Itoa(w.chunks), strconv.FormatInt(ttlAt, 10),
		strconv.FormatInt(s.inScriptBudget(), 10), strconv.Itoa(s.opts.MaxVariants))
	if err != nil {
		return store.Entry{}, w.failLocked(s.wrap("commit", err))
	}
	if nums[0] < 0 {
		return store.Entry{}, w.failLocked(fmt.Errorf("redis: commit %q: chunks expired before commit (PendingTTL %v)", e.Key, s.opts.PendingTTL))
	}
	s.account(w.h, nums)
	if err := s.indexTags(w.ctx, e.Key, e.Tags, ttlAt); err != nil {
		// Without its tag index the entry would escape PurgeTag: undo it.
		if n, _, uerr := s.exec(context.WithoutCancel(w.ctx), removeScript, 7, e.Key, w.h, now, "id", e.ID); uerr == nil {
			s.account(w.h, n)
		}
		w.done, w.err = true, err
		w.stop()
		return store.Entry{}, err
	}
	w.done = true
	w.stop()
	s.kickEvictor()
	return e, nil
}

// indexTags adds key to the set of each tag, which lives as long as the
// longest-lived entry that carries the tag. It runs after the commit so that
// a concurrent PurgeTag (which removes members before it removes entries)
// never drops the membership of an entry committed after it.
func (s *Store) indexTags(ctx context.Context, key string, tags []string, ttlAt int64) error {
	if len(tags) == 0 {
		return nil
	}
	cmds := make(valkey.Commands, 0, 3*len(tags))
	for _, t := range tags {
		k := s.tagKey(t)
		cmds = append(cmds,
			s.client.B().Sadd().Key(k).Member(key).Build(),
			s.client.B().Pexpireat().Key(k).MillisecondsTimestamp(ttlAt).Nx().Build(),
			s.client.B().Pexpireat().Key(k).MillisecondsTimestamp(ttlAt).Gt().Build())
	}
	return s.wrap("index tags", s.doMulti(ctx, cmds...))
}

// Abort deletes the chunks written so far. It is a no-op after Commit.
func (w *writer) Abort() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return nil
	}
	w.done = true
	w.stop()
	return w.deleteChunksLocked()
}

// failLocked aborts the write because of err and returns err.
func (w *writer) failLocked(err error) error {
	w.done, w.err = true, err
	w.stop()
	if errors.Is(err, store.ErrUnavailable) {
		// The server cannot be reached to delete them: the chunks expire
		// after PendingTTL, and failing twice as slowly helps nobody.
		w.releaseBuf()
		w.chunks = 0
		return err
	}
	w.deleteChunksLocked()
	return err
}

// deleteChunksLocked removes the stored chunks. It does not use the write's
// context, which may be what was cancelled; chunks it cannot delete expire
// after PendingTTL.
func (w *writer) deleteChunksLocked() error {
	w.releaseBuf()
	if w.chunks == 0 {
		return nil
	}
	s := w.s
	keys := make([]string, w.chunks)
	for i := range keys {
		keys[i] = s.chunkKey(w.h, w.e.ID, i)
	}
	w.chunks = 0
	err := s.do(context.WithoutCancel(w.ctx), s.client.B().Unlink().Key(keys...).Build()).Error()
	return s.wrap("abort", err)
}
