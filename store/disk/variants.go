package disk

import (
	"bytes"
	"math"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// variantVictims returns the variants of r's key that r's commit must
// remove so that, r included, the key keeps at most Options.MaxVariants
// (issue 12: a Vary flood must not grow one URL without bound). It reads
// the key's records in b (so it sees what the batch did so far) but changes
// nothing. Expired and unindexed records go first, then the least recently
// used; the entries committed earlier in the batch (added, oldest first)
// are more recent than any in the LRU. skip names IDs the batch removed.
// s.wmu is held.
func (s *Store) variantVictims(b *bolt.Bucket, r *commitReq, added []*node, skip map[string]bool) []*node {
	type variant struct {
		n    *node
		used int64
	}
	var vs []variant
	now := s.now().UnixNano()
	prefix := keyPrefix(r.e.Key)
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		h, _, err := parseHeader(v)
		if err != nil || skip[h.id] || bytes.Equal(k, r.ik) {
			continue
		}
		n, used := s.variantUse(h, k, v, added)
		if h.expires != 0 && h.expires <= now {
			used = math.MinInt64
		}
		vs = append(vs, variant{n: n, used: used})
	}
	excess := len(vs) + 1 - s.opts.MaxVariants
	if excess <= 0 {
		return nil
	}
	slices.SortFunc(vs, func(a, b variant) int { return compareInt64(a.used, b.used) })
	victims := make([]*node, excess)
	for i := range victims {
		victims[i] = vs[i].n
	}
	return victims
}

// variantUse returns the node of the record (h, v) at index key k and when
// it was last used: an entry of this batch ranks after every indexed one, an
// entry the LRU does not know (it should) before them all.
func (s *Store) variantUse(h header, k, v []byte, added []*node) (*node, int64) {
	for i, n := range added {
		if n.id == h.id {
			return n, math.MaxInt64 - int64(len(added)-i)
		}
	}
	if n, ok := s.idx.peek(h.id); ok {
		return &n, n.used
	}
	return &node{id: h.id, ikey: string(k), size: h.size, cost: recordCost(h.size, k, v)}, math.MinInt64 + 1
}
