package disk

import (
	"fmt"
	"net/http"

	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
)

// In-flight bytes.
//
// A body being written lives in tmp/ before Commit indexes it, and those
// bytes are on the disk as much as committed ones. So every writer reserves
// what it has written (or, from Create, what its Content-Length declares)
// against the budget: the committed bytes plus every reservation stay within
// Options.MaxBytes, least-recently-used entries being evicted as the
// reservations grow. A writer releases its reservation when it aborts, and
// when its entry is indexed (its bytes are then counted as committed).

// declaredLength is the body length e's stored response announces in
// Content-Length (RFC 9110 §8.6), or -1 when it announces none the body
// must match: a HEAD response (RFC 9110 §9.3.2) or a 304 (RFC 9110 §15.4.5)
// describes a body it does not carry, and a malformed or repeated field
// declares nothing.
func declaredLength(e store.Entry) int64 {
	if e.Pair.Request.Method == http.MethodHead || e.Pair.Response.Status == http.StatusNotModified {
		return -1
	}
	v := e.Pair.Response.Header["Content-Length"]
	if len(v) != 1 {
		return -1
	}
	n, ok := spec.ParseContentLength(v[0])
	if !ok {
		return -1
	}
	return n
}

// reserve counts n more in-flight bytes against the budget, evicting
// least-recently-used entries when the committed bytes and every reservation
// no longer fit. It fails with store.ErrTooLarge, reserving nothing, when the
// reservations alone would exceed the budget.
func (s *Store) reserve(n int64) error {
	if n <= 0 {
		return nil
	}
	r := s.reserved.Add(n)
	if r > s.budget {
		s.reserved.Add(-n)
		return fmt.Errorf("disk store: %d bytes being written exceed the %d-byte budget: %w", r, s.budget, store.ErrTooLarge)
	}
	if _, used := s.idx.totals(); used+r <= s.budget {
		return nil
	}
	if err := s.acquire(); err != nil {
		s.reserved.Add(-n)
		return err
	}
	defer s.release()
	if err := s.evictOver(s.budget / 64); err != nil {
		s.reserved.Add(-n)
		return err
	}
	return nil
}

// unreserve releases n in-flight bytes.
func (s *Store) unreserve(n int64) {
	if n > 0 {
		s.reserved.Add(-n)
	}
}

// evictOver evicts least-recently-used entries until the committed bytes
// plus the reservations fit the budget with slack bytes to spare (so that
// writers growing a little at a time do not each pay for an append), and
// the entries fit Options.MaxEntries.
// It takes s.wmu; the caller holds acquire (or is Open).
func (s *Store) evictOver(slack int64) error {
	s.wmu.Lock()
	count, total := s.idx.totals()
	over := total + s.reserved.Load() - s.budget
	extra := count - s.opts.MaxEntries // a store reopened with a lower bound
	if over <= 0 && extra <= 0 {
		s.wmu.Unlock()
		return nil
	}
	if over > 0 {
		over += slack
	}
	victims := s.idx.victims(over, extra, nil)
	if len(victims) == 0 {
		s.wmu.Unlock()
		return nil
	}
	err := s.removeNodes(victims)
	if err != nil {
		s.wmu.Unlock()
		return fmt.Errorf("disk store: evicting to budget: %w", err)
	}
	s.wmu.Unlock()
	s.evictions.Add(int64(len(victims)))
	s.unlinkBodies(fileIDs(victims))
	return nil
}
