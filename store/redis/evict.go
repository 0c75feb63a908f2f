package redis

import (
	"container/heap"
	"context"
	"strconv"
	"time"

	"github.com/valkey-io/valkey-go"
)

// Every budget base keeps its own counters (see budgetKeys), and every
// script that changes one replies with its new totals and sequence number:
// Store.views holds the latest known state of each base, and Stats their
// sums. A census re-reads every base every censusInterval, so that an
// instance also sees what other instances did.
//
// In cluster mode no script can see the whole budget, so after a census
// over MaxBytes an evictor merges the oldest members of each slot's LRU set
// and evicts the globally least recently used keys until the total fits.
// Commits wake it when this instance's totals go over the budget. The budget
// can thus be exceeded for a moment, never for long. Instances that see the
// same overshoot at once may together evict more than it.

// censusInterval is how often a store re-counts the budget.
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

// bgContext bounds a command of the census loop, which nobody waits for: it
// may take longer than CommandTimeout on a busy server, but not forever.
func (s *Store) bgContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, max(10*s.opts.CommandTimeout, 5*time.Second))
}

// census reads the counters of every base into the views and returns the
// totals and each base's bytes.
func (s *Store) census(ctx context.Context) (total int64, perBase []int64, err error) {
	bases := s.bases()
	perBase = make([]int64, len(bases))
	for lo := 0; lo < len(bases); lo += censusBatch {
		hi := min(lo+censusBatch, len(bases))
		cmds := make(valkey.Commands, 0, hi-lo)
		for _, b := range bases[lo:hi] {
			cmds = append(cmds, s.client.B().Hmget().Key(b+"stat").Field("bytes", "entries", "seq").Build())
		}
		s.mu.Lock()
		sentGen := s.gen + 1
		s.mu.Unlock()
		cctx, cancel := s.bgContext(ctx)
		res := s.client.DoMulti(cctx, cmds...)
		cancel()
		for i, r := range res {
			vals, err := r.ToArray()
			s.seen(err)
			if err != nil {
				return 0, nil, s.wrap("census", err)
			}
			if len(vals) != 3 {
				continue
			}
			b, _ := vals[0].AsInt64()
			n, _ := vals[1].AsInt64()
			seq, _ := vals[2].AsInt64()
			s.observe(lo+i, seq, b, n, true, sentGen)
			perBase[lo+i] = b
			total += b
		}
	}
	return total, perBase, nil
}

// censusLoop takes a census every censusInterval (or when kicked) and, in
// cluster mode, evicts, until the store is closed.
func (s *Store) censusLoop() {
	defer close(s.censusDone)
	t := time.NewTicker(censusInterval)
	defer t.Stop()
	// In cluster mode the first census runs at once; standalone took it
	// in New.
	for first := s.cluster; ; first = false {
		if !first {
			select {
			case <-s.stopCensus:
				return
			case <-t.C:
			case <-s.kick:
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-s.stopCensus:
				cancel()
			case <-ctx.Done():
			}
		}()
		total, perBase, err := s.census(ctx)
		if err == nil && s.cluster && s.opts.MaxBytes > 0 && total > s.opts.MaxBytes {
			s.evict(ctx, total-s.opts.MaxBytes, perBase)
		}
		cancel()
		select {
		case <-s.stopCensus:
			return
		case <-time.After(minPassInterval):
		}
	}
}

// kickEvictor wakes the cluster evictor if the totals are over the budget.
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

// evict removes about over bytes of the least recently used keys across
// all slots.
func (s *Store) evict(ctx context.Context, over int64, perBase []int64) {
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
		cctx, cancel := s.bgContext(ctx)
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
		cctx, cancel := s.bgContext(ctx)
		msgs, err := evictScript.Exec(cctx, s.client, keys, s.scriptArgs("", v.h, now, score)).AsIntSlice()
		cancel()
		if err != nil {
			return
		}
		s.account(v.h, msgs)
		over -= msgs[0]
		// Refill from this slot once its fetched keys are used up.
		if inHeap[v.base] == 0 {
			if err := fetch([]int{v.base}); err != nil {
				return
			}
		}
	}
}
