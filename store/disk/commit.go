package disk

import (
	"fmt"
	"sync"

	"github.com/cellar-http/cellar/store"
)

// Group commit.
//
// Every Commit ends in an append to the index log and, under FsyncIndex and
// FsyncAlways, an fdatasync of it. Commits that arrive while a batch is
// being written queue up, and the next append records all of them: N
// concurrent commits pay for one write and one fdatasync, not N.
//
// There is no committer goroutine. The first Commit to find no batch in
// progress leads: it takes the queue (itself included), records it in one
// append, and on its way out wakes the oldest Commit that queued meanwhile
// to lead the next batch, then tells the others in its batch that they are
// done. No Commit returns before the append that records it has been
// written (and, under FsyncIndex and FsyncAlways, reached the disk), and its
// body was renamed into bodies/ before it queued, so the guarantees of the
// package documentation hold for each entry of a batch.

// commitReq is one Commit waiting for the append that records it.
type commitReq struct {
	e     store.Entry
	ik    []byte // index key
	frame []byte // the put's frame in the log
	n     *node  // the entry's node, linked into the LRU once committed
	// reserved is the writer's in-flight reservation, released when the
	// entry is mirrored (it then counts as committed) or fails.
	reserved int64

	// Set by the leader of the batch.
	oldID     string // the version replaced, if any
	oldInline bool   // that version's body was in its record: no file to remove
	victims   []*node
	err       error

	// signal receives exactly once: true to lead the next batch, false
	// once the request's batch is done.
	signal chan bool
}

// commitQueue holds the Commits waiting for an append.
type commitQueue struct {
	mu      sync.Mutex
	waiting []*commitReq
	leading bool // a Commit is recording a batch
}

// index records the committed entry e (its body already in bodies/) in an
// append to the log that also drops the version it replaces and any entries
// evicted to make room, then mirrors the change in memory and removes the
// files no longer referenced. Concurrent calls share one append. It
// releases the writer's reservation of reserved bytes, whatever the outcome.
func (s *Store) index(e store.Entry, reserved int64, inline []byte) error {
	if err := s.acquire(); err != nil {
		s.unreserve(reserved)
		return err
	}
	defer s.release()
	r, err := s.newCommitReq(e, inline)
	if err != nil {
		s.unreserve(reserved)
		return err
	}
	r.reserved = reserved

	q := &s.commits
	q.mu.Lock()
	q.waiting = append(q.waiting, r)
	if q.leading {
		q.mu.Unlock()
		if lead := <-r.signal; !lead {
			return s.finishCommit(r)
		}
		q.mu.Lock()
	}
	q.leading = true
	batch := q.waiting
	q.waiting = nil
	q.mu.Unlock()

	s.indexBatch(batch)

	q.mu.Lock()
	var next *commitReq
	if len(q.waiting) > 0 {
		next = q.waiting[0]
	} else {
		q.leading = false
	}
	q.mu.Unlock()
	if next != nil {
		next.signal <- true
	}
	for _, o := range batch {
		if o != r {
			o.signal <- false
		}
	}
	return s.finishCommit(r)
}

// newCommitReq encodes e's frame and node (outside any lock: concurrent
// commits encode and checksum in parallel); a non-nil inline is the body,
// to be kept in the record.
func (s *Store) newCommitReq(e store.Entry, inline []byte) (*commitReq, error) {
	ik := indexKey(e.Key, e.Variant)
	now := s.now().UnixNano()
	frame, metaLen := appendRecordFrame(nil, ik, e, now, inline)
	if len(frame)-frameHeader > maxFrame {
		return nil, fmt.Errorf("disk store: index record of %d bytes: %w", len(frame)-frameHeader, store.ErrTooLarge)
	}
	cost := costOf(e.Size, inline != nil, frame)
	if cost > s.budget {
		return nil, fmt.Errorf("disk store: entry of %d bytes exceeds the %d-byte budget: %w", cost, s.budget, store.ErrTooLarge)
	}
	return &commitReq{
		e: e, ik: ik, frame: frame,
		n: &node{id: e.ID, ikey: string(ik), size: e.Size, cost: cost, crc: e.Checksum, expires: unixNano(e), stored: now, inline: inline != nil, tags: e.Tags, rlen: int64(len(frame)), metaLen: int64(metaLen),
			// The writer checksummed the bytes as it wrote them.
			verified: inline == nil},
		signal: make(chan bool, 1),
	}, nil
}

// finishCommit removes the files of the entries r's append dropped
// (outside any lock, by each Commit for its own) and returns r's result.
func (s *Store) finishCommit(r *commitReq) error {
	if r.err != nil {
		s.unreserve(r.reserved)
		return r.err
	}
	// A body kept inline went with its record: removing a file that
	// was never created costs a path lookup per miss (an unlinkat that
	// fails), which every refetch of a small response would pay.
	var gone []string
	if r.oldID != "" && !r.oldInline {
		gone = append(gone, r.oldID)
	}
	for _, v := range r.victims {
		if !v.inline {
			gone = append(gone, v.id)
		}
	}
	s.evictions.Add(int64(len(r.victims)))
	s.unlinkBodies(gone)
	return nil
}

// indexBatch records batch in one append and mirrors it in memory. When
// that append fails and the batch has more than one commit, it records each
// commit in an append of its own, so that a commit the log cannot take
// fails alone.
func (s *Store) indexBatch(batch []*commitReq) {
	s.batches.Add(1)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	err := s.appendBatch(batch)
	if err == nil {
		s.mirror(batch)
		return
	}
	if len(batch) == 1 {
		batch[0].err = fmt.Errorf("disk store: indexing entry: %w", err)
		return
	}
	for _, r := range batch {
		one := []*commitReq{r}
		if err := s.appendBatch(one); err != nil {
			r.err = fmt.Errorf("disk store: indexing entry: %w", err)
			continue
		}
		s.mirror(one)
	}
}

// appendBatch plans batch (planBatch) and writes its frames, deletes of
// the entries it drops and puts, in one append; each node then knows where
// its frame is. s.wmu is held.
func (s *Store) appendBatch(batch []*commitReq) error {
	s.planBatch(batch)
	buf := s.batchBuf[:0]
	offs := make([]int64, len(batch))
	for i, r := range batch {
		for _, v := range r.victims {
			buf = appendDelete(buf, v.ikey, v.id)
		}
		offs[i] = int64(len(buf))
		buf = append(buf, r.frame...)
	}
	if cap(buf) <= 1<<20 {
		s.batchBuf = buf
	}
	seg, off, err := s.appendLog(buf)
	if err != nil {
		return err
	}
	for i, r := range batch {
		r.n.seg, r.n.off = seg, off+offs[i]
	}
	return nil
}

// planBatch decides, for the commits of batch in order, what each one
// drops: the previous version of its Key and Variant, its key's least
// recently used variants past Options.MaxVariants, then least-recently used
// entries until it fits the budget, as if each were committed alone.
// The in-memory index is not changed yet (mirror does that once the batch
// is in the log), so what the batch has added and removed so far is tracked
// here. s.wmu is held.
func (s *Store) planBatch(batch []*commitReq) {
	count, total := s.idx.totals()
	// The bytes other writers have in flight count too: leave them room.
	total += s.reserved.Load()
	for _, r := range batch {
		total -= r.reserved
	}
	var added []*node            // entries of this batch, oldest first
	removed := map[string]bool{} // IDs this batch has dropped
	for _, r := range batch {
		r.oldID, r.oldInline, r.victims = "", false, nil
		if old := s.current(string(r.ik), added, removed); old != nil {
			r.oldID, r.oldInline = old.id, old.inline
			removed[old.id] = true
			total -= old.cost
			count--
		}
		// The key's least recently used variants past the bound go
		// first: what they free may spare other keys.
		for _, v := range s.variantVictims(r, added, removed) {
			r.victims = append(r.victims, v)
			removed[v.id] = true
			total -= v.cost
			count--
		}
		need := total + r.n.cost - s.budget
		extra := count + 1 - s.opts.MaxEntries // entries past Options.MaxEntries
		if need > 0 || extra > 0 {
			nv := len(r.victims) // the variants removed above
			for _, v := range s.idx.victims(need, extra, removed) {
				r.victims = append(r.victims, &v)
				need -= v.cost
				extra--
			}
			// Older entries of this batch are more recent than every
			// entry already in the LRU: they go last.
			for _, n := range added {
				if need <= 0 && extra <= 0 {
					break
				}
				if !removed[n.id] {
					r.victims = append(r.victims, n)
					need -= n.cost
					extra--
				}
			}
			for _, v := range r.victims[nv:] {
				removed[v.id] = true
				total -= v.cost
				count--
			}
		}
		total += r.n.cost
		count++
		added = append(added, r.n)
	}
}

// current returns the entry at index key ik as the batch has left it so
// far: the latest one the batch added there, else the indexed one, unless
// the batch removed it.
func (s *Store) current(ik string, added []*node, removed map[string]bool) *node {
	for i := len(added) - 1; i >= 0; i-- {
		if n := added[i]; n.ikey == ik {
			if removed[n.id] {
				return nil
			}
			return n
		}
	}
	if n, ok := s.idx.at(ik); ok && !removed[n.id] {
		return &n
	}
	return nil
}

// mirror applies a batch written to the log to the in-memory index, in
// commit order. s.wmu is held.
func (s *Store) mirror(batch []*commitReq) {
	var gone []string
	for _, r := range batch {
		gone = gone[:0]
		if r.oldID != "" {
			gone = append(gone, r.oldID)
		}
		for _, v := range r.victims {
			gone = append(gone, v.id)
		}
		s.idx.replace(gone, r.n)
		s.unreserve(r.reserved)
		r.reserved = 0
	}
	s.maybeCompact()
}
