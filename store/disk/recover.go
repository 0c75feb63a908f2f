package disk

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// recover opens the index and brings the directory back to a consistent
// state after whatever ended the previous run:
//
//   - tmp/ is emptied (bodies whose Commit never finished);
//   - body files the index does not name (or whose record holds the body
//     inline) are removed (a crash between the
//     rename into bodies/ and the index transaction, or between an index
//     removal and the unlink);
//   - index records whose file is missing or has the wrong size, that cannot
//     be read, or that are past their horizon are dropped, as are tag
//     records that point at nothing;
//   - an index bbolt cannot open or walk (possible only after power loss
//     under FsyncNone, or damage from outside) is discarded with every body,
//     and the store starts empty: for a cache, a miss is always safe.
//
// It then rebuilds the in-memory LRU, ordered by last recorded use (see
// recency.go), and evicts
// down to the budget if it shrank.
func (s *Store) recover() error {
	err := s.openIndex()
	if err != nil && isDamage(err) {
		s.log.Warn("index is damaged; starting with an empty store", "err", err)
		if err = s.wipe(); err == nil {
			err = s.openIndex()
		}
	}
	if err != nil {
		if s.db != nil {
			s.db.Close()
		}
		return err
	}
	if err := s.reconcile(); err != nil {
		s.db.Close()
		return err
	}
	return nil
}

// damageError marks a failure that means the index file is unusable.
type damageError struct{ err error }

func (e damageError) Error() string { return "disk store: damaged index: " + e.err.Error() }
func (e damageError) Unwrap() error { return e.err }

func isDamage(err error) bool {
	var d damageError
	return errors.As(err, &d)
}

// cleanMarker is the file Close leaves once the index is closed and synced.
// Open removes it; when it is missing, the last run ended without Close and
// Open checks every page of the index before trusting it.
const cleanMarker = "clean-shutdown"

// openIndex opens index.db, checks it when the last run did not close it,
// creates the buckets and loads every record header into memory. bbolt
// panics on some kinds of page damage; those panics become damageErrors.
func (s *Store) openIndex() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = damageError{fmt.Errorf("panic: %v", r)}
		}
	}()
	path := filepath.Join(s.dir, "index.db")
	info, statErr := os.Stat(path)
	existed := statErr == nil && info.Size() > 0
	s.db, err = bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         s.opts.LockTimeout,
		NoSync:          s.opts.Fsync == FsyncNone,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: 128 << 20,
		// Statistics take a global lock on every read transaction.
		NoStatistics: true,
		// NoFreelistSync stays off: rebuilding the freelist at Open walks
		// the tree in a goroutine of bbolt's own, where a damaged page
		// panics beyond any recover.
	})
	var pathErr *os.PathError
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		s.db = nil
		return &lockedError{dir: s.dir}
	case errors.As(err, &pathErr):
		s.db = nil
		return fmt.Errorf("disk store: opening index: %w", err)
	case err != nil:
		s.db = nil
		return damageError{err}
	}
	// Only now, holding the lock, may Open change anything in the directory.
	clean, err := s.takeCleanMarker()
	if err != nil {
		return err
	}
	if existed && !clean {
		if err := s.checkIndex(); err != nil {
			return err
		}
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketEntries, bucketTags, bucketUsed} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("disk store: opening index: %w", err)
	}
	return s.loadIndex()
}

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

// leaveCleanMarker records a clean shutdown: the index is closed and, under
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

// checkIndex walks every page of the index (bbolt's consistency check,
// which turns its own panics into errors); it costs a read of the whole
// file and runs only after an unclean shutdown.
func (s *Store) checkIndex() error {
	var problems []error
	err := s.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			if len(problems) < 5 {
				problems = append(problems, err)
			}
		}
		return nil
	})
	if err == nil {
		err = errors.Join(problems...)
	}
	if err != nil {
		return damageError{err}
	}
	return nil
}

// loadIndex reads every record header into s.idx.byID (not yet linked into
// the recency list) and queues unreadable records for removal.
func (s *Store) loadIndex() error {
	return s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEntries).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			h, _, err := parseHeader(v)
			if _, _, ok := splitIndexKey(k); err != nil || !ok || s.idx.byID[h.id] != nil {
				s.log.Warn("dropping unreadable index record", "key", string(k))
				s.badKeys = append(s.badKeys, bytes.Clone(k))
				continue
			}
			ik := string(k)
			s.idx.byID[h.id] = &node{
				id: h.id, ikey: ik, size: h.size, crc: h.crc, expires: h.expires, stored: h.stored,
				cost: costOf(h.size, h.inline, k, v), inline: h.inline,
			}
		}
		return nil
	})
}

// wipe discards the index and every body.
func (s *Store) wipe() error {
	if s.db != nil {
		s.db.Close()
		s.db = nil
	}
	s.idx.init()
	s.badKeys = nil
	for _, p := range []string{filepath.Join(s.dir, "index.db"), filepath.Join(s.dir, "bodies"), filepath.Join(s.dir, "tmp")} {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("disk store: discarding damaged store: %w", err)
		}
	}
	return s.makeDirs()
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
	// in its record, which bbolt wrote atomically.
	now := s.now().UnixNano()
	for id, n := range s.idx.byID {
		if n.inline {
			seen[id] = true
		}
		if !seen[id] || n.expires != 0 && n.expires <= now {
			if seen[id] {
				os.Remove(s.bodyPath(id))
			}
			s.badKeys = append(s.badKeys, []byte(n.ikey))
			delete(s.idx.byID, id)
		}
	}
	dropped := len(s.badKeys)
	err = s.db.Update(func(tx *bolt.Tx) error {
		for _, k := range s.badKeys {
			if rec := tx.Bucket(bucketEntries).Get(k); rec != nil {
				if err := deleteEntry(tx, k, rec); err != nil {
					return err
				}
			}
		}
		// Tag records left pointing at nothing (or at an older version).
		tb := tx.Bucket(bucketTags)
		var stale [][]byte
		c := tb.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			i := bytes.Index(k, []byte(sep))
			n := s.idx.byID[string(v)]
			if i < 0 || n == nil || n.ikey != string(k[i+len(sep):]) {
				stale = append(stale, bytes.Clone(k))
			}
		}
		for _, k := range stale {
			if err := tb.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	s.badKeys = nil
	if err != nil {
		return fmt.Errorf("disk store: repairing index: %w", err)
	}

	// Recency: most recent use (or commit) first.
	if err := s.loadRecency(); err != nil {
		return fmt.Errorf("disk store: reading recency: %w", err)
	}
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
