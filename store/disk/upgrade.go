package disk

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Upgrade from a bbolt index.
//
// Releases before the log kept the index in dir/index.db, a bbolt file with
// the bucket "entries" (index key to record, the record format encodeRecord
// still writes), "tags" and "used" (entry ID to the varint Unix nanoseconds
// of its last use). Open imports its entries into the first segment of a new
// log, with their tags and last use, and then removes it; the body files
// stay where they are. index.db is removed only once that segment is
// durable, and while it exists it is the index: a log beside it comes from an
// import that a crash interrupted (or from a later release that an earlier
// one replaced), and is discarded before importing again. An index.db bbolt
// cannot read is removed and the store starts empty (its bodies are then
// orphans, which Open sweeps).

const legacyIndex = "index.db"

// upgrade imports and removes an index.db of an earlier release, if any.
func (s *Store) upgrade() error {
	path := filepath.Join(s.dir, legacyIndex)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	seqs, err := s.segmentSeqs()
	if err != nil {
		return err
	}
	for _, seq := range seqs {
		if err := os.Remove(filepath.Join(s.ilog.dir, segName(seq))); err != nil {
			return fmt.Errorf("disk store: %w", err)
		}
	}
	n, err := s.importBolt(path, filepath.Join(s.ilog.dir, segName(1)))
	if err != nil {
		s.log.Warn("the index of an earlier release cannot be read; starting with an empty store", "path", path, "err", err)
		os.Remove(filepath.Join(s.ilog.dir, segName(1)))
	} else {
		s.log.Info("imported the index of an earlier release", "entries", n)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("disk store: %w", err)
	}
	return syncDir(s.dir)
}

// importBolt writes a put for every readable record of the bbolt index at
// path into a new segment file at seg, synced, and returns how many.
// Unreadable records are left out; bbolt's panics on damaged pages become
// errors.
func (s *Store) importBolt(path, seg string) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: s.opts.LockTimeout})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	f, err := os.OpenFile(seg, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	err = db.View(func(tx *bolt.Tx) error {
		entries := tx.Bucket([]byte("entries"))
		if entries == nil {
			return nil
		}
		used := tx.Bucket([]byte("used"))
		var frame []byte
		return entries.ForEach(func(k, v []byte) error {
			h, e, err := decodeRecord(v)
			if _, _, ok := splitIndexKey(k); err != nil || !ok {
				return nil
			}
			rec := v
			if used != nil {
				if t, m := binary.Varint(used.Get([]byte(h.id))); m > 0 {
					rec = restamp(v, t)
				}
			}
			frame = appendFrame(frame[:0], putPayload(k, e.Tags, rec))
			n++
			_, err = w.Write(frame)
			return err
		})
	})
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = syncDir(filepath.Dir(seg))
	}
	return n, err
}
