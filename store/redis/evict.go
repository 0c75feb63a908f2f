package redis

import (
	"container/heap"
	"context"
	"strconv"
	"time"

	"github.com/valkey-io/valkey-go"
)

// In cluster mode every slot has its own budget keys (see budgetKeys), so no
// script can see the whole budget. A census sums the slots' counters, and an
// evictor goroutine evicts globally least recently used keys, merging the
// oldest members of each slot's LRU set, until the census fits MaxBytes.
// Commits wake it when this instance's estimate goes over the budget; it
// also runs every censusInterval to see what other instances wrote. The
// budget can thus be exceeded for a moment, never for long. Instances that
// see the same overshoot at once may together evict more than it.

// censusInterval is how often a cluster store re-counts the budget.
const censusInterval = 5 * time.Second

// minPassInterval spaces the passes commits trigger: under a steady stream
// of writes over the budget, a census per commit would cost more than the
// few milliseconds of overshoot it saves.
const minPassInterval = 250 * time.Millisecond

// evictHeads is how many of each slot's oldest keys an eviction considers at
// once.
const evictHeads = 8

// censusBatch is how many counters one pipeline of the census reads.
const censusBatch = 2048

// census reads the budget counters of every base and returns the totals and
// each base's bytes.
func (s *Store) census(ctx context.Context) (bytes, entries int64, perBase []int64, err error) {
	bases := s.bases()
	perBase = make([]int64, len(bases))
	for lo := 0; lo < len(bases); lo += censusBatch {
		hi := min(lo+censusBatch, len(bases))
		cmds := make(valkey.Commands, 0, hi-lo)
		for _, b := range bases[lo:hi] {
			cmds = append(cmds, s.client.B().Hmget().Key(b+"stat").Field("bytes", "entries").Build())
		}
		cctx, cancel := s.cmdContext(ctx)
		res := s.client.DoMulti(cctx, cmds...)
		cancel()
		for i, r := range res {
			vals, err := r.ToArray()
			s.seen(err)
			if err != nil {
				return 0, 0, nil, s.wrap("census", err)
			}
			if len(vals) == 2 {
				b, _ := vals[0].AsInt64()
				n, _ := vals[1].AsInt64()
				perBase[lo+i] = b
				bytes += b
				entries += n
			}
		}
	}
	return bytes, entries, perBase, nil
}

// recount takes a census and makes Stats report it plus this instance's
// changes since the census started.
func (s *Store) recount(ctx context.Context) ([]int64, int64, error) {
	s.mu.Lock()
	b0, n0 := s.localBytes, s.localEntries
	s.mu.Unlock()
	bytes, entries, perBase, err := s.census(ctx)
	if err != nil {
		return nil, 0, err
	}
	s.mu.Lock()
	s.baseBytes, s.baseEntries = bytes-b0, entries-n0
	s.bytes.Store(s.baseBytes + s.localBytes)
	s.entries.Store(s.baseEntries + s.localEntries)
	s.mu.Unlock()
	return perBase, bytes, nil
}

// evictLoop runs the cluster evictor until the store is closed.
func (s *Store) evictLoop() {
	defer close(s.evictorDone)
	t := time.NewTicker(censusInterval)
	defer t.Stop()
	for first := true; ; first = false {
		if !first {
			select {
			case <-s.stopEvictor:
				return
			case <-t.C:
			case <-s.kick:
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-s.stopEvictor:
				cancel()
			case <-ctx.Done():
			}
		}()
		s.evictPass(ctx)
		cancel()
		select {
		case <-s.stopEvictor:
			return
		case <-time.After(minPassInterval):
		}
	}
}

// kickEvictor wakes the evictor if this instance thinks the budget is over.
func (s *Store) kickEvictor() {
	if s.kick == nil || s.opts.MaxBytes <= 0 || s.bytes.Load() <= s.opts.MaxBytes {
		return
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// lruHead is one of a slot's oldest keys.
type lruHead struct {
	base  int     // index in bases()
	h     string  // hash tag
	score float64 // last use, unix ms
}

type lruHeap []lruHead

func (q lruHeap) Len() int           { return len(q) }
func (q lruHeap) Less(i, j int) bool { return q[i].score < q[j].score }
func (q lruHeap) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *lruHeap) Push(x any)        { *q = append(*q, x.(lruHead)) }
func (q *lruHeap) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// evictPass takes a census and, when it exceeds MaxBytes, evicts the least
// recently used keys across all slots until it fits.
func (s *Store) evictPass(ctx context.Context) {
	perBase, total, err := s.recount(ctx)
	if err != nil || s.opts.MaxBytes <= 0 || total <= s.opts.MaxBytes {
		return
	}
	over := total - s.opts.MaxBytes
	bases := s.bases()
	var used []int
	for i, b := range perBase {
		if b > 0 {
			used = append(used, i)
		}
	}
	// A key leaves the head of its slot's LRU set when it is evicted, used
	// again or gone, so refilling a slot always reads its first keys.
	inHeap := make(map[int]int, len(used))
	q := &lruHeap{}
	fetch := func(idx []int) error {
		cmds := make(valkey.Commands, len(idx))
		for k, i := range idx {
			cmds[k] = s.client.B().Zrange().Key(bases[i] + "lru").Min("0").
				Max(strconv.Itoa(evictHeads - 1)).Withscores().Build()
		}
		cctx, cancel := s.cmdContext(ctx)
		defer cancel()
		for k, r := range s.client.DoMulti(cctx, cmds...) {
			zs, err := r.AsZScores()
			if err != nil {
				return err
			}
			for _, z := range zs {
				heap.Push(q, lruHead{base: idx[k], h: z.Member, score: z.Score})
				inHeap[idx[k]]++
			}
		}
		return nil
	}
	if err := fetch(used); err != nil {
		return
	}
	now := s.opts.Now()
	// Bound the work of one pass; the next one carries on.
	for tries := 0; over > 0 && q.Len() > 0 && tries < 100_000; tries++ {
		v := heap.Pop(q).(lruHead)
		inHeap[v.base]--
		score := strconv.FormatFloat(v.score, 'f', -1, 64)
		keys := append([]string{s.metaKey(v.h)}, budgetKeys(bases[v.base])...)
		cctx, cancel := s.cmdContext(ctx)
		msgs, err := evictScript.Exec(cctx, s.client, keys, s.scriptArgs("", v.h, now, score)).AsIntSlice()
		cancel()
		if err != nil {
			return
		}
		s.account(msgs)
		over -= msgs[0]
		// Refill from this slot once its fetched keys are used up.
		if inHeap[v.base] == 0 {
			if err := fetch([]int{v.base}); err != nil {
				return
			}
		}
	}
}
