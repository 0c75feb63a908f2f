package disk

import (
	"math"
	"slices"
)

// variantVictims returns the variants of r's key that r's commit must
// remove so that, r included, the key keeps at most Options.MaxVariants
// (issue 12: a Vary flood must not grow one URL without bound). It reads
// the key's variants in memory plus those the batch added so far, but
// changes nothing. Expired variants go first, then the least recently used;
// the entries committed earlier in the batch (added, oldest first) are more
// recent than any in the LRU. skip names IDs the batch removed. s.wmu is
// held.
func (s *Store) variantVictims(r *commitReq, added []*node, skip map[string]bool) []*node {
	type variant struct {
		n    *node
		used int64
	}
	var vs []variant
	now := s.now().UnixNano()
	pre := keyPrefixOf(string(r.ik))
	consider := func(n *node, used int64) {
		if skip[n.id] || n.ikey == string(r.ik) {
			return
		}
		if n.expires != 0 && n.expires <= now {
			used = math.MinInt64
		}
		vs = append(vs, variant{n: n, used: used})
	}
	for _, n := range s.idx.variants(pre, nil) {
		consider(&n, n.used)
	}
	for i, n := range added {
		if keyPrefixOf(n.ikey) == pre {
			consider(n, math.MaxInt64-int64(len(added)-i))
		}
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
