package disk

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Syncing in the background (FsyncInterval).
//
// Under FsyncInterval an append is written but not synced: Commit returns
// without waiting for the disk, and the sweeper syncs the active segment
// every Options.SyncInterval in which something was appended (syncActive).
// Three rules keep Open's recovery sound:
//
//   - Only the newest segment may hold unsynced frames: roll syncs the
//     active segment before it seals it, and compaction syncs its copies
//     before it removes the segments they came from.
//   - After each sync a "synced" frame records how far the segment was
//     synced (markSynced); a new segment starts with one for offset 0,
//     synced with it. The frame itself is synced by the next sync.
//   - After power loss the unsynced end of the newest segment may be
//     missing, torn, or written back out of order: a page of zeros between
//     good frames. Damage at or past the greatest synced offset recorded in
//     the newest segment is that end: Open cuts the segment there and
//     keeps everything before it, as it does with a torn last append.
//     Damage before it was synced, so it is real damage, and Open drops
//     every entry recorded before it, as under FsyncIndex (see replay).
//
// A segment without a synced frame (written under another policy) is
// recovered by the rules of FsyncIndex; Open under FsyncInterval syncs and
// marks the active segment before appending to it, and Open under
// FsyncIndex or FsyncAlways starts a new segment when the newest one was
// synced lazily, so that their appends are never taken for unsynced ones.

// syncActive syncs the active segment when frames were appended to it
// since the last sync, then records how far in a synced frame. The sync
// runs without Store.wmu, so that commits go on meanwhile.
func (s *Store) syncActive() error {
	if err := s.acquire(); err != nil {
		return nil
	}
	defer s.release()
	s.wmu.Lock()
	act := s.ilog.active()
	if !act.dirty {
		s.wmu.Unlock()
		return nil
	}
	act.dirty = false
	upto := act.size
	s.wmu.Unlock()

	err := fdatasync(act.f)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.ilog.active() != act {
		return nil // sealed meanwhile: roll synced it whole
	}
	if err != nil {
		act.dirty = true
		return fmt.Errorf("disk store: syncing the index log: %w", err)
	}
	return s.markSynced(act, upto)
}

// syncActiveLocked syncs the active segment and records it, with s.wmu
// held, when frames were appended since the last sync: compaction's copies
// must be durable before the segments they came from are removed, and
// Close records the whole log as synced. A segment that is not dirty ends
// with the mark of its last sync.
func (s *Store) syncActiveLocked() error {
	act := s.ilog.active()
	if s.opts.Fsync != FsyncInterval || !act.dirty {
		return nil
	}
	return s.syncAndMark(act)
}

// syncAndMark syncs seg and records, in a synced frame, that all of it
// before that frame is on disk. s.wmu is held, or Open runs.
func (s *Store) syncAndMark(seg *segment) error {
	if err := fdatasync(seg.f); err != nil {
		return fmt.Errorf("disk store: syncing the index log: %w", err)
	}
	seg.dirty = false
	return s.markSynced(seg, seg.size)
}

// markSynced appends a synced frame recording that seg's bytes before upto
// are on disk. It does not make seg dirty: a store that appends nothing
// else is not synced again. s.wmu is held, or Open runs.
func (s *Store) markSynced(seg *segment, upto int64) error {
	var p [1 + binary.MaxVarintLen64]byte
	p[0] = recSynced
	n := 1 + binary.PutUvarint(p[1:], uint64(upto))
	buf := appendFrame(nil, p[:n])
	if _, err := seg.f.WriteAt(buf, seg.size); err != nil {
		if terr := seg.f.Truncate(seg.size); terr != nil {
			seg.broken = true
		}
		return fmt.Errorf("disk store: marking the log synced: %w", err)
	}
	seg.size += int64(len(buf))
	s.ilog.total += int64(len(buf))
	return nil
}

// parseSynced returns the offset of a synced payload (its type byte
// included).
func parseSynced(p []byte) (int64, bool) {
	if len(p) < 2 || p[0] != recSynced {
		return 0, false
	}
	v, n := binary.Uvarint(p[1:])
	if n <= 0 || 1+n != len(p) || v > 1<<62 {
		return 0, false
	}
	return int64(v), true
}

// syncedMark returns the greatest offset a synced frame of the segment in
// r records, reading the good frames from offset from to size and past any
// damage it can step over; -1 when there is none.
func syncedMark(r io.ReaderAt, from, size int64) int64 {
	mark := int64(-1)
	for from >= 0 && from < size {
		_, bad, next, err := scanSegment(r, from, size, func(_, _ int64, p []byte) error {
			if v, ok := parseSynced(p); ok {
				mark = max(mark, v)
			}
			return nil
		})
		if err != nil || !bad {
			break
		}
		from = next
	}
	return mark
}
