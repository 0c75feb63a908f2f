package disk

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// recover rebuilds the index from the log and brings the directory back to
// a consistent state after whatever ended the previous run:
//
//   - the log is replayed, segment by segment (replay); a frame that is
//     torn at the end of the newest segment is cut off, and damage
//     anywhere else drops every entry recorded before it (see replay);
//   - an index.db of an earlier release is imported into the log, then
//     removed (see upgrade.go);
//   - tmp/ is emptied (bodies whose Commit never finished);
//   - body files the index does not name (or whose record holds the body
//     inline) are removed (a crash between the rename into bodies/ and the
//     append that indexes it, or between a removal and the unlink);
//   - entries whose file is missing or has the wrong size, or that are past
//     their horizon, are dropped.
//
// It then builds the in-memory LRU, ordered by last recorded use (see
// recency.go), and evicts down to the budget if it shrank.
func (s *Store) recover() error {
	clean, err := s.takeCleanMarker()
	if err != nil {
		return err
	}
	if !clean {
		s.log.Info("the last run ended without Close: every frame of the log is checked as it is replayed")
	}
	s.ilog.dir = filepath.Join(s.dir, "log")
	if err := os.MkdirAll(s.ilog.dir, 0o700); err != nil {
		return fmt.Errorf("disk store: %w", err)
	}
	if err := s.upgrade(); err != nil {
		s.ilog.closeAll()
		return err
	}
	if err := s.replay(); err != nil {
		s.ilog.closeAll()
		return err
	}
	if err := s.reconcile(); err != nil {
		s.ilog.closeAll()
		return err
	}
	return nil
}

// cleanMarker is the file Close leaves once the log is closed and synced.
// Open removes it; when it is missing, the last run ended without Close.
const cleanMarker = "clean-shutdown"

// takeCleanMarker removes the clean-shutdown marker and reports whether it
// was there. The removal is made durable first, so that a crash of this run
// can never be mistaken for a clean shutdown.
func (s *Store) takeCleanMarker() (bool, error) {
	err := os.Remove(filepath.Join(s.dir, cleanMarker))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err == nil {
		err = syncDir(s.dir)
	}
	if err != nil {
		return false, fmt.Errorf("disk store: %w", err)
	}
	return true, nil
}

// leaveCleanMarker records a clean shutdown: the log is closed and, under
// every policy, synced.
func (s *Store) leaveCleanMarker() error {
	f, err := os.OpenFile(filepath.Join(s.dir, cleanMarker), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return syncDir(s.dir)
}

// segmentSeqs returns the seqs of the segment files in the log directory,
// in order.
func (s *Store) segmentSeqs() ([]uint64, error) {
	names, err := readDirNames(s.ilog.dir)
	if err != nil {
		return nil, err
	}
	var seqs []uint64
	for _, name := range names {
		if seq, ok := parseSegName(name); ok {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	return seqs, nil
}

// replay rebuilds the index (s.idx.byID, nodes not yet linked) from the
// segments, oldest first, and opens them; the newest stays active.
//
// A frame whose length or CRC is wrong is either torn or damaged. At the
// end of the newest segment (no good frame follows it) it is a write torn
// by a crash: no Commit that wrote it returned (under FsyncIndex and
// FsyncAlways the append had not been synced), so the segment is cut there
// and everything before it kept. In the newest segment, at or past the
// greatest offset its synced frames record, it is the unsynced end of a
// segment written under FsyncInterval, cut off too (see syncer.go).
// Anywhere else it is damage, and the frame lost may have removed or
// replaced entries recorded before it: those
// entries are all dropped (a cache may lose entries, but must not bring back
// one that was purged). The replay goes on after the damaged frame when its
// length is right (a good frame follows it), else with the next segment.
// Damage that destroys the length field of a frame in the newest segment is
// taken for a torn write.
func (s *Store) replay() error {
	seqs, err := s.segmentSeqs()
	if err != nil {
		return err
	}
	r := replayer{s: s, live: make(map[string]*node), byID: s.idx.byID}
	rollAfter := false
	for i, seq := range seqs {
		r.synced = -1
		path := filepath.Join(s.ilog.dir, segName(seq))
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("disk store: opening log segment: %w", err)
		}
		seg := &segment{seq: seq, f: f}
		s.ilog.segs = append(s.ilog.segs, seg)
		info, err := f.Stat()
		if err != nil {
			return fmt.Errorf("disk store: opening log segment: %w", err)
		}
		size := info.Size()
		seg.size = size
		for from := int64(0); ; {
			end, bad, next, err := scanSegment(f, from, size, func(off, rlen int64, payload []byte) error {
				r.apply(seg, off, rlen, payload)
				return nil
			})
			if err != nil {
				return fmt.Errorf("disk store: reading log segment %s: %w", path, err)
			}
			if !bad {
				break
			}
			if i == len(seqs)-1 && (next < 0 || r.unsyncedEnd(f, end, next, size)) {
				s.log.Warn("cutting off a write torn at the end of the log", "segment", path, "offset", end, "bytes", size-end)
				if err := f.Truncate(end); err != nil {
					return fmt.Errorf("disk store: cutting off a torn write: %w", err)
				}
				seg.size = end
				break
			}
			s.log.Warn("the log is damaged; dropping the entries recorded before the damage", "segment", path, "offset", end, "entries", len(r.live))
			r.dropAll()
			rollAfter = i == len(seqs)-1
			if next < 0 {
				break // the damage hides where the next frame starts
			}
			from = next // the damaged frame's length was right: read on
		}
		s.ilog.total += seg.size
		if i == len(seqs)-1 && r.synced >= 0 && s.opts.Fsync.syncsEachAppend() {
			rollAfter = true // see syncer.go
		}
	}
	// Map every segment; the newest, still appended to, with room to grow.
	for i, seg := range s.ilog.segs {
		n := seg.size
		if i == len(s.ilog.segs)-1 && !rollAfter {
			n = max(n, segmentMax)
		}
		seg.data, _ = mapSegment(seg.f, n) // nil: pread
	}
	if len(seqs) == 0 || rollAfter {
		var next uint64 = 1
		if len(seqs) > 0 {
			next = seqs[len(seqs)-1] + 1
		}
		if _, err := s.newSegment(next, 0); err != nil {
			return err
		}
	} else if s.opts.Fsync == FsyncInterval {
		// What the last run appended may not be on disk yet: sync it, so
		// that the mark this run's damage is measured from is true.
		if err := s.syncAndMark(s.ilog.active()); err != nil {
			return err
		}
	}
	if r.bad > 0 {
		s.log.Warn("dropped unreadable index records", "records", r.bad)
	}
	return nil
}

// replayer applies frames to the index being rebuilt.
type replayer struct {
	s    *Store
	live map[string]*node // by index key
	byID map[string]*node
	bad  int // frames with a good CRC that could not be read
	// synced is the greatest offset the synced frames of the segment
	// being replayed record, -1 while there is none (see syncer.go).
	synced int64
}

// apply applies one frame: a put replaces the entry at its index key, a
// delete removes it if it is still the one named, a used frame raises the
// recency of the entries it names.
func (r *replayer) apply(seg *segment, off, rlen int64, payload []byte) {
	switch payload[0] {
	case recPut:
		p, err := parsePut(payload)
		if err != nil {
			r.bad++
			return
		}
		h, meta, err := parseHeader(p.rec)
		if _, _, ok := splitIndexKey(p.ik); err != nil || !ok || len(meta) == 0 {
			// An unreadable put still replaced what was at its key.
			r.bad++
			if old := r.live[string(p.ik)]; old != nil {
				r.remove(old)
			}
			return
		}
		ik := string(p.ik)
		n := &node{
			id: h.id, ikey: ik, size: h.size, crc: h.crc, expires: h.expires, stored: h.stored,
			inline: h.inline, tags: p.tags, seg: seg, off: off, rlen: rlen, metaLen: int64(len(meta)),
		}
		n.cost = rlen
		if !h.inline {
			n.cost += h.size
		}
		if old := r.live[ik]; old != nil {
			if old.id == h.id { // a copy made by compaction
				n.stored = max(n.stored, old.stored)
			}
			r.remove(old)
		}
		if other := r.byID[h.id]; other != nil {
			r.remove(other)
		}
		r.live[ik] = n
		r.byID[n.id] = n
	case recDelete:
		ik, id, err := parseDelete(payload)
		if err != nil {
			r.bad++
			return
		}
		if n := r.live[string(ik)]; n != nil && n.id == id {
			r.remove(n)
		}
	case recUsed:
		if !parseUsed(payload, func(id string, t int64) {
			if n := r.byID[id]; n != nil && t > n.stored {
				n.stored = t
			}
		}) {
			r.bad++
		}
	case recSynced:
		if v, ok := parseSynced(payload); ok {
			r.synced = max(r.synced, v)
		} else {
			r.bad++
		}
	default:
		r.bad++
	}
}

// unsyncedEnd reports whether damage at offset end of the newest segment,
// with a good frame again at next, lies in the end that a segment written
// under FsyncInterval may not have synced: at or past the greatest offset
// its synced frames record, before or after the damage.
func (r *replayer) unsyncedEnd(f io.ReaderAt, end, next, size int64) bool {
	mark := max(r.synced, syncedMark(f, next, size))
	return mark >= 0 && end >= mark
}

func (r *replayer) remove(n *node) {
	delete(r.live, n.ikey)
	delete(r.byID, n.id)
}

func (r *replayer) dropAll() {
	clear(r.live)
	clear(r.byID)
}

// reconcile matches the index against the files on disk, then links the
// surviving entries into the LRU and enforces the budget.
func (s *Store) reconcile() error {
	// Bodies whose Commit never finished.
	tmp := filepath.Join(s.dir, "tmp")
	names, err := readDirNames(tmp)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := os.RemoveAll(filepath.Join(tmp, name)); err != nil {
			return fmt.Errorf("disk store: %w", err)
		}
	}

	// Every body file must be named by the index with the same size.
	seen := make(map[string]bool, len(s.idx.byID))
	orphans := 0
	dirs, err := readDirNames(s.bodies)
	if err != nil {
		return err
	}
	for _, xx := range dirs {
		dir := s.fanoutDir(xx)
		if !isFanout(xx) {
			orphans++
			if err := os.RemoveAll(dir); err != nil {
				return fmt.Errorf("disk store: removing orphan: %w", err)
			}
			continue
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("disk store: %w", err)
		}
		for _, de := range ents {
			name := de.Name()
			n := s.idx.byID[name]
			if n == nil || n.inline || name[:2] != xx || !de.Type().IsRegular() {
				orphans++
				if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
					return fmt.Errorf("disk store: removing orphan: %w", err)
				}
				continue
			}
			info, err := de.Info()
			if err != nil {
				continue // gone meanwhile: treated as missing below
			}
			if info.Size() != n.size {
				s.log.Warn("dropping entry whose body has the wrong size", "id", name, "size", info.Size(), "want", n.size)
				os.Remove(filepath.Join(dir, name))
				continue
			}
			seen[name] = true
		}
	}

	// Drop records without a good body, and expired ones. An inline body is
	// in its record, whose frame's CRC was checked. Their frames stay in
	// the log, dead, until compaction; the next Open drops them again.
	now := s.now().UnixNano()
	dropped := 0
	for id, n := range s.idx.byID {
		if n.inline {
			seen[id] = true
		}
		if !seen[id] || n.expires != 0 && n.expires <= now {
			if seen[id] && !n.inline {
				os.Remove(s.bodyPath(id))
			}
			dropped++
			delete(s.idx.byID, id)
		}
	}
	// Recency: most recent use (or commit) first.
	nodes := make([]*node, 0, len(s.idx.byID))
	for _, n := range s.idx.byID {
		nodes = append(nodes, n)
	}
	slices.SortFunc(nodes, func(a, b *node) int { return compareInt64(b.stored, a.stored) })
	clear(s.idx.byID)
	for _, n := range nodes {
		s.idx.pushBackLocked(n)
	}
	if orphans > 0 || dropped > 0 {
		s.log.Info("recovered store", "entries", len(nodes), "orphans_removed", orphans, "entries_dropped", dropped)
	}
	return s.enforceBudget()
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// enforceBudget evicts least-recent entries until the store fits its
// budget (which may have shrunk since the last run).
func (s *Store) enforceBudget() error { return s.evictOver(0) }

// isFanout reports whether name is a fan-out directory name: two lower-case
// hex digits.
func isFanout(name string) bool {
	return len(name) == 2 && strings.IndexByte(hexDigits, name[0]) >= 0 && strings.IndexByte(hexDigits, name[1]) >= 0
}

func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("disk store: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("disk store: %w", err)
	}
	return names, nil
}
