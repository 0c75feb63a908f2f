package disk

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Recency across restarts.
//
// A hit never writes to disk: Lookup, Open and Update only note in memory
// (lru.used) the time each entry was last used. Every Options.RecencyInterval,
// and at Close, those notes are written to the bucket "used" (entry ID to the
// Unix nanoseconds of its last use) in one transaction. Open orders the LRU
// by each entry's last recorded use, or its commit time when it was never
// used, so the entries that were hot before a restart are still the last to
// be evicted after it (issue 13, item 5: ordered by commit time alone, the
// first misses after a restart evicted 14–20% of the hot set). A crash loses
// the uses of at most the last interval.
//
// A record of an entry since removed is harmless: Open drops it. Removals do
// not delete it themselves, which would cost every eviction a write.

// DefaultRecencyInterval is how often recency is written to the index when
// Options.RecencyInterval is zero.
const DefaultRecencyInterval = 10 * time.Second

var bucketUsed = []byte("used")

// flushRecency writes the uses noted since the last flush, in one
// transaction. On failure they are kept for the next one.
func (s *Store) flushRecency() error {
	used := s.idx.takeUsed()
	if len(used) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsed)
		var v [binary.MaxVarintLen64]byte
		for id, t := range used {
			if err := b.Put([]byte(id), v[:binary.PutVarint(v[:], t)]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.idx.putBackUsed(used)
		return fmt.Errorf("disk store: recording recency: %w", err)
	}
	return nil
}

// loadRecency raises the recency stamp of every loaded entry to its last
// recorded use, and removes the records of entries no longer indexed.
func (s *Store) loadRecency() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsed)
		var stale [][]byte
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			n := s.idx.byID[string(k)]
			t, m := binary.Varint(v)
			if n == nil || m <= 0 {
				stale = append(stale, append([]byte(nil), k...))
				continue
			}
			if t > n.stored {
				n.stored = t
			}
		}
		for _, k := range stale {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}
