package disk

import (
	"fmt"
	"os"
)

// appendLog writes buf, whole frames, at the end of the active segment in
// one write and, under FsyncIndex and FsyncAlways, makes it durable with one
// fdatasync before returning: a batch of commits or removals costs one of
// each. Under FsyncInterval it marks the segment for the syncer instead.
// It returns the segment and the offset buf starts at. A failed append is
// cut off again, so that the segment stays a sequence of good frames; when
// even that fails, the next append starts a new segment. s.wmu is held.
func (s *Store) appendLog(buf []byte) (*segment, int64, error) {
	g := &s.ilog
	act := g.active()
	end := act.size + int64(len(buf))
	if act.broken || act.size > 0 && end > segmentMax || act.data != nil && end > int64(len(act.data)) {
		var err error
		if act, err = s.roll(int64(len(buf))); err != nil {
			return nil, 0, err
		}
	}
	off := act.size
	err := s.writeAt(act, buf, off)
	if err == nil && s.opts.Fsync.syncsEachAppend() {
		err = fdatasync(act.f)
	}
	if err != nil {
		if terr := act.f.Truncate(off); terr != nil {
			act.broken = true
		}
		return nil, 0, fmt.Errorf("disk store: writing the index log: %w", err)
	}
	act.size += int64(len(buf))
	act.dirty = true
	g.total += int64(len(buf))
	return act, off, nil
}

// writeAt writes buf at off of seg, through the test hook when set.
func (s *Store) writeAt(seg *segment, buf []byte, off int64) error {
	if s.appendFault != nil {
		if err := s.appendFault(buf); err != nil {
			return err
		}
	}
	_, err := seg.f.WriteAt(buf, off)
	return err
}

// roll seals the active segment and starts the next, with room for at
// least room bytes. The sealed one was synced by each append under
// FsyncIndex and FsyncAlways; under FsyncInterval it is synced here, so
// that only the newest segment can hold unsynced frames (see syncer.go).
// s.wmu is held.
func (s *Store) roll(room int64) (*segment, error) {
	act := s.ilog.active()
	// Even when not dirty: the syncer's fdatasync may still be running.
	if s.opts.Fsync == FsyncInterval {
		if err := fdatasync(act.f); err != nil {
			return nil, fmt.Errorf("disk store: syncing a sealed log segment: %w", err)
		}
		act.dirty = false
	}
	return s.newSegment(act.seq+1, room)
}

// newSegment creates segment seq as the active one (see segLog.create).
// Under FsyncInterval its first frame, synced with it, marks it as synced
// lazily (see syncer.go). s.wmu is held, or Open runs.
func (s *Store) newSegment(seq uint64, room int64) (*segment, error) {
	seg, err := s.ilog.create(seq, room, s.opts.Fsync == FsyncNone)
	if err != nil || s.opts.Fsync != FsyncInterval {
		return seg, err
	}
	if err = s.markSynced(seg, 0); err == nil {
		err = fdatasync(seg.f)
	}
	if err != nil {
		// The segment stays, without its mark: damage in it is then
		// treated as under FsyncIndex, which loses entries, not purges.
		s.log.Warn("marking a new log segment", "err", err)
	}
	return seg, nil
}

// syncLog makes every segment durable (Close, under FsyncNone and
// FsyncInterval, which did not sync each append; a segment nothing changed
// costs little).
func (s *Store) syncLog() error {
	for _, seg := range s.ilog.segs {
		if err := seg.f.Sync(); err != nil {
			return err
		}
	}
	if len(s.ilog.segs) == 0 {
		return nil
	}
	return syncDir(s.ilog.dir)
}

// removeSegmentFile removes a segment's file; under every policy but
// FsyncNone the removal is made durable before the next, so that segments
// disappear oldest first even after power loss (see compact.go).
// seg is closed already.
func (s *Store) removeSegmentFile(seg *segment) error {
	if err := os.Remove(seg.f.Name()); err != nil && !os.IsNotExist(err) {
		return err
	}
	if s.opts.Fsync == FsyncNone {
		return nil
	}
	return syncDir(s.ilog.dir)
}
