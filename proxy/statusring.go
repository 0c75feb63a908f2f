package proxy

import (
	"sync"
	"sync/atomic"
)

// The per-second counters of the status page, in the order of
// [SecondCounts]' fields.
const (
	cRequests = iota
	cHits
	cStale
	cRevalidated
	cMisses
	cPass
	cErrors
	cBytes
	cUpstream
	cUpstreamErrors
	nCounters
)

// SecondCounts are the requests one second saw, by outcome, and the
// upstream exchanges it made.
type SecondCounts struct {
	// Time is the second, in Unix seconds.
	Time int64 `json:"t"`
	// Requests answered, and among them: fresh hits, stale hits, hits
	// after a 304 (revalidated), misses (forwarded and maybe stored) and
	// pass-through (the cache not used: other methods, upgrades).
	Requests    int64 `json:"requests"`
	Hits        int64 `json:"hits"`
	Stale       int64 `json:"stale"`
	Revalidated int64 `json:"revalidated"`
	Misses      int64 `json:"misses"`
	Pass        int64 `json:"pass"`
	// Errors are responses with a 5xx status, the proxy's or the origin's.
	Errors int64 `json:"errors"`
	// BytesOut are response body bytes sent to clients.
	BytesOut int64 `json:"bytes_out"`
	// Upstream are requests sent upstream; UpstreamErrors those that got
	// no response (refused, reset, timed out) or a 5xx.
	Upstream       int64 `json:"upstream"`
	UpstreamErrors int64 `json:"upstream_errors"`
}

func (s *SecondCounts) set(c *[nCounters]int64) {
	s.Requests, s.Hits, s.Stale, s.Revalidated = c[cRequests], c[cHits], c[cStale], c[cRevalidated]
	s.Misses, s.Pass, s.Errors, s.BytesOut = c[cMisses], c[cPass], c[cErrors], c[cBytes]
	s.Upstream, s.UpstreamErrors = c[cUpstream], c[cUpstreamErrors]
}

// secondRing keeps per-second counters for the last len(slots) seconds.
// Adding is lock-free but for the first add of a second, which clears the
// slot the second reuses; its memory is fixed at creation.
type secondRing struct {
	mu    sync.Mutex // serializes the clearing of a slot
	slots []ringSlot
}

type ringSlot struct {
	sec atomic.Int64 // the Unix second the counters are for
	c   [nCounters]atomic.Int64
}

func newSecondRing(seconds int) *secondRing {
	return &secondRing{slots: make([]ringSlot, seconds)}
}

// slot returns the slot of second sec, cleared if it held an older one.
func (r *secondRing) slot(sec int64) *ringSlot {
	s := &r.slots[uint64(sec)%uint64(len(r.slots))]
	if s.sec.Load() == sec {
		return s
	}
	r.mu.Lock()
	if old := s.sec.Load(); old < sec {
		for i := range s.c {
			s.c[i].Store(0)
		}
		s.sec.Store(sec)
	}
	r.mu.Unlock()
	return s
}

// add adds n to counter i of second sec and returns the counter's new
// value (n when the second's slot was taken by a later one meanwhile).
func (r *secondRing) add(sec int64, i int, n int64) int64 {
	if s := r.slot(sec); s.sec.Load() == sec {
		return s.c[i].Add(n)
	}
	return n
}

// last returns the seconds from now-n+1 to now, oldest first; seconds
// that saw nothing are zero.
func (r *secondRing) last(now int64, n int) []SecondCounts {
	n = min(n, len(r.slots))
	out := make([]SecondCounts, n)
	for i := range out {
		sec := now - int64(n-1-i)
		out[i].Time = sec
		s := &r.slots[uint64(sec)%uint64(len(r.slots))]
		if s.sec.Load() != sec {
			continue
		}
		var c [nCounters]int64
		for j := range c {
			c[j] = s.c[j].Load()
		}
		out[i].set(&c)
	}
	return out
}
