package disk

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Recency across restarts.
//
// A hit never writes to disk: Lookup, Open and Update only note in memory
// (lru.used) the time each entry was last used. Every Options.RecencyInterval,
// and at Close, those notes are appended to the log as "used" frames (entry
// ID and the Unix nanoseconds of its last use). Open orders the LRU by each
// entry's last recorded use, or its commit time when it was never used, so
// the entries that were hot before a restart are still the last to be
// evicted after it (issue 13, item 5: ordered by commit time alone, the
// first misses after a restart evicted 14–20% of the hot set). A crash loses
// the uses of at most the last interval. Compaction, which drops the used
// frames with the segments it empties, writes each live entry's last use
// into the header of the record it copies.
//
// A used frame naming an entry since removed is harmless: Open ignores it.

// DefaultRecencyInterval is how often recency is written to the index when
// Options.RecencyInterval is zero.
const DefaultRecencyInterval = 10 * time.Second

// usedPerFrame bounds a used frame to about 170 KiB.
const usedPerFrame = 4096

// flushRecency appends the uses noted since the last flush, in one append.
// On failure they are kept for the next one.
func (s *Store) flushRecency() error {
	used := s.idx.takeUsed()
	if len(used) == 0 {
		return nil
	}
	var buf, p []byte
	n := 0
	for id, t := range used {
		if n == 0 {
			p = append(p[:0], recUsed)
		}
		p = append(p, id...)
		p = binary.AppendVarint(p, t)
		if n++; n == usedPerFrame {
			buf, n = appendFrame(buf, p), 0
		}
	}
	if n > 0 {
		buf = appendFrame(buf, p)
	}
	s.wmu.Lock()
	_, _, err := s.appendLog(buf)
	s.wmu.Unlock()
	if err != nil {
		s.idx.putBackUsed(used)
		return fmt.Errorf("disk store: recording recency: %w", err)
	}
	return nil
}

// recordRecency is the sweeper's periodic flushRecency. Used frames are
// dead bytes as soon as they are written (compaction carries the uses in
// the copied records), so it may start a compaction as a commit does: a
// cache that only serves hits for hours commits nothing, and its log
// would otherwise grow by a used frame per interval until the next miss.
func (s *Store) recordRecency() error {
	if err := s.flushRecency(); err != nil {
		return err
	}
	s.wmu.Lock()
	s.maybeCompact()
	s.wmu.Unlock()
	return nil
}

// parseUsed calls fn for each entry ID and time of a used payload (its type
// byte included), and reports whether the payload is well formed.
func parseUsed(p []byte, fn func(id string, t int64)) bool {
	if len(p) < 1 || p[0] != recUsed {
		return false
	}
	p = p[1:]
	for len(p) > 0 {
		if len(p) < idLen {
			return false
		}
		id := p[:idLen]
		t, n := binary.Varint(p[idLen:])
		if n <= 0 {
			return false
		}
		fn(string(id), t)
		p = p[idLen+n:]
	}
	return true
}
