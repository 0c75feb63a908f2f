package disk

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/cellar-http/cellar/store"
)

// Lookup returns every live variant of key from one read transaction.
// Entries past their horizon are left out and handed to the sweeper.
func (s *Store) Lookup(ctx context.Context, key string) ([]store.Entry, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.release()
	now := s.now().UnixNano()
	prefix := keyPrefix(key)
	out := make([]store.Entry, 0, 4) // most keys have few variants
	var drops []drop
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEntries).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			h, e, err := decodeRecord(v)
			switch {
			case err != nil:
				s.log.Warn("dropping unreadable index record", "key", key, "err", err)
				if h.id != "" {
					drops = append(drops, drop{id: h.id, corrupt: true})
				}
			case h.expires != 0 && h.expires <= now:
				drops = append(drops, drop{id: h.id})
			default:
				out = append(out, e)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("disk store: lookup: %w", err)
	}
	for _, d := range drops {
		select {
		case s.drops <- d:
		default: // the periodic sweep will get it
		}
	}
	if len(out) == 0 {
		s.misses.Add(1)
		return nil, nil
	}
	s.hits.Add(1)
	ids := make([]string, len(out))
	for i := range out {
		ids[i] = out[i].ID
	}
	s.idx.touch(ids, now)
	return out, nil
}

// Update replaces Pair and Expires of the stored entries of key whose IDs
// match those given, keeping their bodies, in one transaction.
func (s *Store) Update(ctx context.Context, key string, entries []store.Entry) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	want := make(map[string]store.Entry, len(entries))
	for _, e := range entries {
		want[e.ID] = e
	}
	type change struct {
		ik, rec       []byte
		id            string
		expires, cost int64
	}
	prefix := keyPrefix(key)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var changes []change
	err := s.db.Update(func(tx *bolt.Tx) error {
		changes = changes[:0]
		b := tx.Bucket(bucketEntries)
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			h, old, err := decodeRecord(v)
			if err != nil {
				continue
			}
			nw, ok := want[h.id]
			if !ok {
				continue
			}
			old.Pair = nw.Pair
			old.Pair.ID = old.ID
			old.Expires = nw.Expires
			rec := encodeRecord(old, h.stored, h.inlineBody())
			ik := bytes.Clone(k)
			changes = append(changes, change{ik: ik, rec: rec, id: h.id, expires: unixNano(old), cost: costOf(old.Size, h.inline, ik, rec)})
		}
		for _, ch := range changes {
			if err := b.Put(ch.ik, ch.rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("disk store: update: %w", err)
	}
	now := s.now().UnixNano()
	for _, ch := range changes {
		s.idx.update(ch.id, ch.expires, ch.cost, now)
	}
	return nil
}

// Delete removes every variant of key.
func (s *Store) Delete(ctx context.Context, key string) error {
	prefix := keyPrefix(key)
	_, err := s.removeWhere(ctx, "delete", func(tx *bolt.Tx) [][]byte {
		return scanKeys(tx.Bucket(bucketEntries), prefix)
	})
	return err
}

// PurgePrefix removes every entry whose key starts with prefix.
func (s *Store) PurgePrefix(ctx context.Context, prefix string) (int, error) {
	p := appendEscaped(nil, prefix)
	return s.removeWhere(ctx, "purge prefix", func(tx *bolt.Tx) [][]byte {
		return scanKeys(tx.Bucket(bucketEntries), p)
	})
}

// PurgeTag removes every entry carrying tag.
func (s *Store) PurgeTag(ctx context.Context, tag string) (int, error) {
	p := append(appendEscaped(nil, tag), sep...)
	return s.removeWhere(ctx, "purge tag", func(tx *bolt.Tx) [][]byte {
		var iks [][]byte
		c := tx.Bucket(bucketTags).Cursor()
		for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
			iks = append(iks, bytes.Clone(k[len(p):]))
		}
		return iks
	})
}

// scanKeys returns copies of the keys of b that start with prefix.
func scanKeys(b *bolt.Bucket, prefix []byte) [][]byte {
	var ks [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		ks = append(ks, bytes.Clone(k))
	}
	return ks
}

// removeWhere deletes, in one transaction, the entries at the index keys
// that collect returns, and reports how many it removed.
func (s *Store) removeWhere(ctx context.Context, op string, collect func(*bolt.Tx) [][]byte) (int, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.release()
	s.wmu.Lock()
	var ids []string
	err := s.db.Update(func(tx *bolt.Tx) error {
		ids = ids[:0]
		b := tx.Bucket(bucketEntries)
		for _, ik := range collect(tx) {
			rec := b.Get(ik)
			if rec == nil {
				continue
			}
			if h, _, err := parseHeader(rec); err == nil {
				ids = append(ids, h.id)
			}
			if err := deleteEntry(tx, ik, rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.wmu.Unlock()
		return 0, fmt.Errorf("disk store: %s: %w", op, err)
	}
	for _, id := range ids {
		s.idx.remove(id)
	}
	s.wmu.Unlock()
	s.unlinkBodies(ids)
	return len(ids), nil
}

// drop asks for the removal of one entry: an expired one (removed only if
// still expired) or a corrupt one.
type drop struct {
	id      string
	corrupt bool
}

// removeIDs removes the given entries, if still present, and counts the
// expired ones as evictions.
func (s *Store) removeIDs(ds []drop) {
	if s.acquire() != nil {
		return
	}
	defer s.release()
	now := s.now().UnixNano()
	s.wmu.Lock()
	var gone []string
	var expired int64
	err := s.db.Update(func(tx *bolt.Tx) error {
		gone, expired = gone[:0], 0
		b := tx.Bucket(bucketEntries)
		for _, d := range ds {
			n, ok := s.idx.peek(d.id)
			if !ok {
				continue
			}
			isExpired := n.expires != 0 && n.expires <= now
			if !d.corrupt && !isExpired {
				continue
			}
			ik := []byte(n.ikey)
			rec := b.Get(ik)
			if rec == nil {
				continue
			}
			if err := deleteEntry(tx, ik, rec); err != nil {
				return err
			}
			gone = append(gone, d.id)
			if !d.corrupt {
				expired++
			}
		}
		return nil
	})
	if err != nil {
		s.wmu.Unlock()
		s.log.Warn("removing entries", "err", err)
		return
	}
	for _, id := range gone {
		s.idx.remove(id)
	}
	s.wmu.Unlock()
	s.evictions.Add(expired)
	s.unlinkBodies(gone)
}

// iterateBatch is how many entries Iterate decodes per read transaction. fn
// runs outside any transaction, so it may call the store.
const iterateBatch = 256

// Iterate calls fn for every live entry, in index-key order.
func (s *Store) Iterate(ctx context.Context, fn func(store.Entry) bool) error {
	var after []byte
	for {
		if err := ctxErr(ctx); err != nil {
			return err
		}
		batch, last, err := s.iterateNext(after)
		if err != nil {
			return err
		}
		for _, e := range batch {
			if !fn(e) {
				return nil
			}
		}
		if last == nil {
			return nil
		}
		after = last
	}
}

// iterateNext returns up to iterateBatch live entries whose index keys
// follow after (from the start when nil), and the last key seen, nil at
// the end.
func (s *Store) iterateNext(after []byte) ([]store.Entry, []byte, error) {
	if err := s.acquire(); err != nil {
		return nil, nil, err
	}
	defer s.release()
	now := s.now().UnixNano()
	var out []store.Entry
	var last []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEntries).Cursor()
		var k, v []byte
		if after == nil {
			k, v = c.First()
		} else if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
			k, v = c.Next()
		}
		for n := 0; k != nil && n < iterateBatch; k, v = c.Next() {
			n++
			last = bytes.Clone(k)
			h, e, err := decodeRecord(v)
			if err != nil || h.expires != 0 && h.expires <= now {
				continue
			}
			out = append(out, e)
		}
		if k == nil {
			last = nil
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("disk store: iterate: %w", err)
	}
	return out, last, nil
}
