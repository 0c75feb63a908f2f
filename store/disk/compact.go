package disk

import (
	"encoding/binary"
	"slices"
)

// Compaction.
//
// Every commit, update, removal and recency flush appends to the log, and
// every put it replaces or removes leaves dead bytes behind. When the dead
// bytes exceed both the live ones (the frames of the indexed entries) and
// compactMinBytes, a background goroutine seals the active segment and
// rewrites the live frames of every older segment at the end of the log,
// then removes those segments, oldest first.
//
// Why a prefix of the log, and why that is safe at every step:
//   - A frame is copied, under Store.wmu, only while its entry is indexed
//     at that very frame, and the copy is appended after everything the log
//     holds: replaying the log then meets the copy after any frame that
//     could have changed the entry, so a crash halfway leaves duplicates of
//     the same put, which rebuild the same index.
//   - A delete only cancels a put written before it, so in a segment at or
//     before its own. Compaction removes a whole prefix of the segments, so
//     a delete goes only with every put it may cancel: none can come back.
//     Segments are removed oldest first (under every policy but FsyncNone
//     each removal is synced before the next, and under FsyncInterval the
//     copies are synced before the first), so that a crash between two
//     removals never leaves a put whose delete is gone.
//   - A reader holds segLog.mu shared while it reads a frame; the old
//     segments are closed under the exclusive lock, after every node was
//     moved to its copy.
//
// Dead bytes are thereby bounded: the log holds at most the live frames,
// as many dead bytes again (or compactMinBytes), and what is appended while
// a compaction runs. The budget counts only the live frames (each entry's
// cost is its frame plus its body file), so the log may use up to about
// twice its share of Options.MaxBytes, plus compactMinBytes, on disk.

// compactMinBytes is the dead bytes below which no compaction runs: small
// logs are not worth rewriting.
const compactMinBytes = 32 << 20

// compactChunk is how many bytes of frames compaction copies per append (and
// per hold of Store.wmu, which commits wait for).
const compactChunk = 1 << 20

// maybeCompact starts a compaction when the log has enough dead bytes and
// none is running. s.wmu is held.
func (s *Store) maybeCompact() {
	dead := s.ilog.total - s.idx.liveFrames()
	if dead < s.compactMin || dead <= s.idx.liveFrames() || len(s.ilog.segs) == 0 {
		return
	}
	if !s.compacting.CompareAndSwap(false, true) {
		return
	}
	s.compactWait.Add(1)
	go func() {
		defer s.compactWait.Done()
		defer s.compacting.Store(false)
		if err := s.compact(); err != nil {
			s.log.Warn("compacting the index log", "err", err)
		}
	}()
}

// compact seals the active segment and rewrites the live frames of all the
// segments before it at the end of the log, then removes them. It stops
// early, leaving a consistent log, when the store is closing.
func (s *Store) compact() error {
	if err := s.acquire(); err != nil {
		return nil
	}
	s.wmu.Lock()
	_, err := s.roll(0)
	old := slices.Clone(s.ilog.segs[:len(s.ilog.segs)-1])
	s.wmu.Unlock()
	s.release()
	if err != nil {
		return err
	}
	for _, seg := range old {
		if done, err := s.compactSegment(seg); err != nil || done {
			return err
		}
	}
	s.compactions.Add(1)
	return s.dropSegments(old)
}

// candidate is a put found in a segment being compacted.
type candidate struct {
	id      string
	off     int64
	payload []byte
}

// compactSegment copies the live frames of the sealed segment seg to the end
// of the log. It reports done when the store is closing.
func (s *Store) compactSegment(seg *segment) (done bool, err error) {
	var pending []candidate
	var pendingBytes int
	_, _, _, err = scanSegment(seg.f, 0, seg.size, func(off, rlen int64, payload []byte) error {
		if payload[0] != recPut {
			return nil
		}
		p, err := parsePut(payload)
		if err != nil {
			return nil
		}
		h, _, err := parseHeader(p.rec)
		if err != nil {
			return nil
		}
		pending = append(pending, candidate{id: h.id, off: off, payload: slices.Clone(payload)})
		pendingBytes += len(payload)
		if pendingBytes < compactChunk {
			return nil
		}
		if done, err = s.copyLive(seg, pending); err != nil || done {
			return errStop
		}
		pending, pendingBytes = pending[:0], 0
		return nil
	})
	if err == errStop {
		return done, nil
	}
	if err != nil {
		return false, err
	}
	return s.copyLive(seg, pending)
}

// errStop ends a scan early.
var errStop = errorString("stop")

type errorString string

func (e errorString) Error() string { return string(e) }

// copyLive appends, in one append, a copy of each candidate whose entry is
// still indexed at that frame of seg, and moves its node there. The copy's
// record carries the entry's last use as its recency stamp (the used frames
// go with the old segments). It reports done when the store is closing.
func (s *Store) copyLive(seg *segment, cands []candidate) (bool, error) {
	if len(cands) == 0 {
		return false, nil
	}
	if err := s.acquire(); err != nil {
		return true, nil
	}
	defer s.release()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	type moved struct {
		n        node
		off, end int64
	}
	var ms []moved
	var buf []byte
	for _, c := range cands {
		n, ok := s.idx.peek(c.id)
		if !ok || n.seg != seg || n.off != c.off {
			continue // replaced, removed or copied since
		}
		p, err := parsePut(c.payload)
		if err != nil {
			continue
		}
		off := int64(len(buf))
		buf = appendPutFrame(buf, p.ik, p.tags, restamp(p.rec, n.lastAt))
		ms = append(ms, moved{n: n, off: off, end: int64(len(buf))})
	}
	if len(ms) == 0 {
		return false, nil
	}
	to, base, err := s.appendLog(buf)
	if err != nil {
		return false, err
	}
	for _, m := range ms {
		frame := buf[m.off:m.end]
		loc := node{seg: to, off: base + m.off, rlen: m.end - m.off}
		s.idx.move(m.n.id, seg, m.n.off, loc, costOf(m.n.size, m.n.inline, frame))
	}
	if s.compactStep != nil {
		s.compactStep()
	}
	return false, nil
}

// restamp returns rec with its recency stamp (the header's stored time)
// raised to t.
func restamp(rec []byte, t int64) []byte {
	if len(rec) < 1 {
		return rec
	}
	stored, n := binary.Varint(rec[1:])
	if n <= 0 || stored >= t {
		return rec
	}
	out := make([]byte, 0, len(rec)+binary.MaxVarintLen64)
	out = append(out, rec[0])
	out = binary.AppendVarint(out, t)
	return append(out, rec[1+n:]...)
}

// dropSegments removes the compacted segments old, oldest first. Entries
// still recorded in one of them (after damage the scan could not read past)
// are dropped first.
func (s *Store) dropSegments(old []*segment) error {
	if err := s.acquire(); err != nil {
		return nil
	}
	defer s.release()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	// The copies must be on disk before their originals go.
	if err := s.syncActiveLocked(); err != nil {
		return err
	}
	stale := s.idx.inSegments(old)
	for _, n := range stale {
		s.idx.remove(n.id)
	}
	if len(stale) > 0 {
		s.log.Warn("dropping entries the compaction could not read", "entries", len(stale))
		defer s.unlinkBodies(fileIDs(stale))
	}
	s.ilog.mu.Lock()
	s.ilog.segs = slices.Clone(s.ilog.segs[len(old):])
	for _, seg := range old {
		seg.close()
	}
	s.ilog.mu.Unlock()
	for _, seg := range old {
		s.ilog.total -= seg.size
		if err := s.removeSegmentFile(seg); err != nil {
			return err
		}
		if s.compactStep != nil {
			s.compactStep()
		}
	}
	return nil
}
