package redis

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/cellar-http/cellar/store"
	"github.com/valkey-io/valkey-go"
)

// batch is how many keys a purge or a walk handles per round trip, and
// purgeWorkers how many scripts a purge keeps in flight.
const (
	batch        = 256
	purgeWorkers = 16
)

// rangeBatch is how many idx sets one pipeline of PurgePrefix reads: small
// enough to answer within CommandTimeout on a busy server.
const rangeBatch = 512

// PurgeTag removes every entry carrying tag and returns how many it removed.
//
// It takes members out of the tag's set (SPOP) before it removes their
// entries, and Commit adds a member after its entry is in: so an entry
// committed concurrently is either purged or stays in the set, never
// orphaned. A member whose entries were replaced by untagged ones, evicted
// or expired costs one script run and is dropped.
func (s *Store) PurgeTag(ctx context.Context, tag string) (int, error) {
	if err := s.checkOpen("purge tag"); err != nil {
		return 0, err
	}
	k := s.tagKey(tag)
	card, err := s.do(ctx, s.client.B().Scard().Key(k).Build()).AsInt64()
	if err != nil {
		return 0, s.wrap("purge tag", err)
	}
	var removed atomic.Int64
	// Bound the rounds by the size at the start so that a steady stream of
	// new members cannot keep the purge going forever.
	for round := int64(0); round <= card/batch; round++ {
		keys, err := s.do(ctx, s.client.B().Spop().Key(k).Count(batch).Build()).AsStrSlice()
		if err != nil {
			return int(removed.Load()), s.wrap("purge tag", err)
		}
		if len(keys) == 0 {
			break
		}
		done := make([]bool, len(keys))
		err = parallel(len(keys), purgeWorkers, func(i int) error {
			n, err := s.remove(ctx, keys[i], "tag", tag)
			if err == nil {
				removed.Add(int64(n))
				done[i] = true
			}
			return err
		})
		if err != nil {
			// Put back the members not handled, so a retry finds them.
			var left []string
			for i, ok := range done {
				if !ok {
					left = append(left, keys[i])
				}
			}
			s.do(context.WithoutCancel(ctx), s.client.B().Sadd().Key(k).Member(left...).Build())
			return int(removed.Load()), err
		}
	}
	return int(removed.Load()), nil
}

// PurgePrefix removes every entry whose key starts with prefix and returns
// how many it removed.
//
// The primary keys are in sorted sets with equal scores (idx), so the keys
// under a prefix are one lexicographic range: one set in standalone mode,
// one per slot in cluster mode (read in one pipeline per node). The cost is
// the number of keys removed, plus one command per slot in cluster mode.
func (s *Store) PurgePrefix(ctx context.Context, prefix string) (int, error) {
	if err := s.checkOpen("purge prefix"); err != nil {
		return 0, err
	}
	lo, hi := "["+prefix, "+"
	if prefix == "" {
		lo = "-"
	} else if succ, ok := successor(prefix); ok {
		hi = "(" + succ
	}
	bases := s.bases()
	pending := make([]int, len(bases))
	for i := range pending {
		pending[i] = i
	}
	seen := map[string]bool{}
	var removed atomic.Int64
	for len(pending) > 0 {
		res := make([]valkey.ValkeyResult, 0, len(pending))
		for from := 0; from < len(pending); from += rangeBatch {
			part := pending[from:min(from+rangeBatch, len(pending))]
			cmds := make(valkey.Commands, len(part))
			for k, i := range part {
				cmds[k] = s.client.B().Zrange().Key(bases[i]+"idx").Min(lo).Max(hi).Bylex().Limit(0, batch).Build()
			}
			cctx, cancel := s.cmdContext(ctx)
			res = append(res, s.client.DoMulti(cctx, cmds...)...)
			cancel()
			if err := res[len(res)-1].Error(); err != nil {
				s.seen(err)
				return int(removed.Load()), s.wrap("purge prefix", err)
			}
		}
		var keys []string
		var next []int
		for k, r := range res {
			ks, err := r.AsStrSlice()
			s.seen(err)
			if err != nil {
				return int(removed.Load()), s.wrap("purge prefix", err)
			}
			fresh := false
			for _, key := range ks {
				if !seen[key] {
					seen[key], fresh = true, true
					keys = append(keys, key)
				}
			}
			// A full batch may hide more; one with nothing new means the
			// removals did not take, and asking again would loop.
			if len(ks) == batch && fresh {
				next = append(next, pending[k])
			}
		}
		err := parallel(len(keys), purgeWorkers, func(i int) error {
			n, err := s.remove(ctx, keys[i], "all", "")
			removed.Add(int64(n))
			return err
		})
		if err != nil {
			return int(removed.Load()), err
		}
		pending = next
	}
	return int(removed.Load()), nil
}

// successor returns the smallest string greater than every string that
// starts with prefix, if there is one.
func successor(prefix string) (string, bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// Iterate calls fn for each live entry until fn returns false. It scans the
// meta hashes of every master (SCAN, then HVALS in batches), so entries
// committed or removed during the walk may or may not be seen.
func (s *Store) Iterate(ctx context.Context, fn func(store.Entry) bool) error {
	if err := s.checkOpen("iterate"); err != nil {
		return err
	}
	stop := errStop{}
	err := s.walk(ctx, func(_ []string, vals [][]string) error {
		now := s.opts.Now().UnixMilli()
		for _, vs := range vals {
			for _, v := range vs {
				hd, e, err := decodeValue(v)
				if err != nil || hd.deadline <= now {
					continue
				}
				if !fn(e) {
					return stop
				}
			}
		}
		return nil
	})
	if err == stop {
		return nil
	}
	return err
}

type errStop struct{}

func (errStop) Error() string { return "stop" }

// walk scans the meta hashes of every master node and calls fn with each
// batch of keys and their values.
func (s *Store) walk(ctx context.Context, fn func(metas []string, vals [][]string) error) error {
	pattern := globEscape(s.opts.Prefix) + "{*}:m"
	for _, node := range s.masters(ctx) {
		var cursor uint64
		for {
			r, err := s.doOn(ctx, node, node.B().Scan().Cursor(cursor).Match(pattern).Count(batch).Type("hash").Build()).AsScanEntry()
			if err != nil {
				return s.wrap("scan", err)
			}
			if len(r.Elements) > 0 {
				cmds := make(valkey.Commands, len(r.Elements))
				for i, k := range r.Elements {
					cmds[i] = s.client.B().Hvals().Key(k).Build()
				}
				cctx, cancel := s.cmdContext(ctx)
				res := s.client.DoMulti(cctx, cmds...)
				cancel()
				vals := make([][]string, len(res))
				for i, x := range res {
					v, err := x.AsStrSlice()
					if err != nil {
						return s.wrap("scan", err)
					}
					vals[i] = v
				}
				if err := fn(r.Elements, vals); err != nil {
					return err
				}
			}
			cursor = r.Cursor
			if cursor == 0 {
				break
			}
		}
	}
	return nil
}

// masters returns one client per node to scan: the server itself, or each
// master of the cluster (replicas hold the same keys).
func (s *Store) masters(ctx context.Context) []valkey.Client {
	nodes := s.client.Nodes()
	out := make([]valkey.Client, 0, len(nodes))
	for _, n := range nodes {
		if s.cluster {
			role, err := s.doOn(ctx, n, n.B().Role().Build()).ToArray()
			if err == nil && len(role) > 0 {
				if r, _ := role[0].ToString(); r != "master" {
					continue
				}
			}
		}
		out = append(out, n)
	}
	return out
}

func (s *Store) doOn(ctx context.Context, c valkey.Client, cmd valkey.Completed) valkey.ValkeyResult {
	ctx, cancel := s.cmdContext(ctx)
	defer cancel()
	r := c.Do(ctx, cmd)
	s.seen(r.Error())
	return r
}

// globEscape quotes the characters SCAN MATCH treats as special.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		switch c {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}
