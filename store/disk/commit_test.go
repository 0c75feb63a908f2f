package disk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/cellar-http/cellar/store"
)

// staged writes e's body straight into bodies/, as Commit does before it
// queues, and returns the request Commit would queue.
func staged(t *testing.T, s *Store, e store.Entry, body []byte) *commitReq {
	t.Helper()
	e.ID = newID()
	e.Pair.ID = e.ID
	e.Size, e.Checksum = int64(len(body)), crc(body)
	if err := os.MkdirAll(s.fanoutDir(e.ID[:2]), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.bodyPath(e.ID), body, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := s.newCommitReq(e, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// commitBatch records reqs in one transaction, as a leader does, and
// returns each one's Commit result.
func commitBatch(s *Store, reqs ...*commitReq) []error {
	s.indexBatch(reqs)
	errs := make([]error, len(reqs))
	for i, r := range reqs {
		errs[i] = s.finishCommit(r)
	}
	return errs
}

// checkAtRest checks that memory, index and files agree and that the store
// fits its budget, and returns the IDs of the entries.
func checkAtRest(t *testing.T, s *Store) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	s.Iterate(context.Background(), func(e store.Entry) bool { ids[e.ID] = true; return true })
	st := s.Stats()
	var total int64
	s.idx.mu.Lock()
	for p := s.idx.root.next; p != &s.idx.root; p = p.next {
		total += p.cost
		if !ids[p.id] {
			t.Errorf("entry %s in memory but not in the index", p.id)
		}
	}
	s.idx.mu.Unlock()
	if st.Entries != int64(len(ids)) || st.Bytes != total || st.Bytes > s.budget {
		t.Errorf("stats %+v; %d indexed, sum of costs %d, budget %d", st, len(ids), total, s.budget)
	}
	fs := files(t, s.dir, "bodies")
	for _, f := range fs {
		if id := f[len(f)-idLen:]; !ids[id] {
			t.Errorf("body file %s of no entry", f)
		} else if n, _ := s.idx.peek(id); n.inline {
			t.Errorf("body file %s of an entry whose body is inline", f)
		}
	}
	if len(fs) != fileBodies(s) {
		t.Errorf("%d body files for %d entries with a body file (%d in all)", len(fs), fileBodies(s), len(ids))
	}
	return ids
}

func TestGroupCommitReplacesWithinBatch(t *testing.T) {
	s := openTest(t, Options{Fsync: FsyncNone})
	a1 := staged(t, s, testEntry("k", "v", "t"), []byte("first"))
	b := staged(t, s, testEntry("other", ""), []byte("other"))
	a2 := staged(t, s, testEntry("k", "v", "t"), []byte("second"))
	for i, err := range commitBatch(s, a1, b, a2) {
		if err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	es := lookup(t, s, "k")
	if len(es) != 1 || es[0].ID != a2.e.ID || string(readAll(t, s, "k", a2.e.ID)) != "second" {
		t.Fatalf("k after a batch that wrote it twice: %+v", es)
	}
	if _, err := os.Stat(s.bodyPath(a1.e.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("body of the replaced version: %v", err)
	}
	if n, _ := s.PurgeTag(context.Background(), "t"); n != 1 {
		t.Fatalf("PurgeTag removed %d entries, want 1 (the tag record of the replaced version must be gone)", n)
	}
	checkAtRest(t, s)
	s = reopen(t, s)
	if ids := checkAtRest(t, s); len(ids) != 1 || !ids[b.e.ID] {
		t.Fatalf("after reopen: %v", ids)
	}
}

// TestGroupCommitReplaceFrees checks that a version replaced within the
// batch frees its room for the next commits: nothing is evicted needlessly.
func TestGroupCommitReplaceFrees(t *testing.T) {
	s := openTest(t, Options{MaxBytes: 20_000, Fsync: FsyncNone})
	body := make([]byte, 9_000)
	keep := put(t, s, testEntry("keep", ""), body)
	k1 := staged(t, s, testEntry("k", ""), body)
	k2 := staged(t, s, testEntry("k", ""), body)
	for i, err := range commitBatch(s, k1, k2) {
		if err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	ids := checkAtRest(t, s)
	if len(ids) != 2 || !ids[keep.ID] || !ids[k2.e.ID] || s.Stats().Evictions != 0 {
		t.Fatalf("entries %v, %d evictions; want keep and the second k, none evicted", ids, s.Stats().Evictions)
	}
}

// TestGroupCommitEvictsWithinBatch commits, in one transaction, more than
// the budget holds: as with one transaction per commit, the oldest entries
// make room, those of earlier commits in the batch included.
func TestGroupCommitEvictsWithinBatch(t *testing.T) {
	s := openTest(t, Options{MaxBytes: 30_000, Fsync: FsyncNone})
	body := make([]byte, 9_000)
	old := put(t, s, testEntry("old", ""), body)
	var reqs []*commitReq
	for i := range 5 {
		reqs = append(reqs, staged(t, s, testEntry(fmt.Sprint("k", i), ""), body))
	}
	for i, err := range commitBatch(s, reqs...) {
		if err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	ids := checkAtRest(t, s)
	// Three 9,000-byte bodies and their records fit in 30,000 bytes: the
	// last three commits.
	if len(ids) != 3 || ids[old.ID] || !ids[reqs[2].e.ID] || !ids[reqs[3].e.ID] || !ids[reqs[4].e.ID] {
		t.Fatalf("entries after the batch: %v", ids)
	}
	if ev := s.Stats().Evictions; ev != 3 {
		t.Fatalf("%d evictions, want 3", ev)
	}
	s = reopen(t, s)
	if got := checkAtRest(t, s); len(got) != 3 {
		t.Fatalf("after reopen: %v", got)
	}
}

// TestGroupCommitFailsAlone checks that a commit the log refuses fails
// without failing the others of its batch.
func TestGroupCommitFailsAlone(t *testing.T) {
	s := openTest(t, Options{Fsync: FsyncNone})
	badKey := strings.Repeat("x", 40_000)
	s.appendFault = func(buf []byte) error {
		if bytes.Contains(buf, []byte(badKey)) {
			return errors.New("injected: the log refuses this commit")
		}
		return nil
	}
	good1 := staged(t, s, testEntry("a", ""), []byte("a"))
	bad := staged(t, s, testEntry(badKey, ""), []byte("bad"))
	good2 := staged(t, s, testEntry("b", ""), []byte("b"))
	errs := commitBatch(s, good1, bad, good2)
	if errs[0] != nil || errs[2] != nil || errs[1] == nil {
		t.Fatalf("errors %v, want only the second to fail", errs)
	}
	os.Remove(s.bodyPath(bad.e.ID)) // as Commit does when indexing fails
	if len(lookup(t, s, "a")) != 1 || len(lookup(t, s, "b")) != 1 {
		t.Fatal("good commits of the batch are missing")
	}
	checkAtRest(t, s)
}

// TestGroupCommitConcurrent commits from many goroutines at once under
// FsyncIndex: every Commit's entry is visible when it returns, and the
// commits shared transactions.
func TestGroupCommitConcurrent(t *testing.T) {
	const goroutines, each = 32, 20
	s := openTest(t, Options{Fsync: FsyncIndex, MaxBytes: 200 << 10})
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				key := fmt.Sprintf("k%d-%d", g, i%5) // only this goroutine writes key
				body := []byte(strings.Repeat(key, 100+i))
				w, err := s.Create(ctx, testEntry(key, ""))
				if err != nil {
					t.Error(err)
					return
				}
				w.Write(body)
				e, err := w.Commit()
				if err != nil {
					t.Error(err)
					return
				}
				es, err := s.Lookup(ctx, key)
				if err != nil {
					t.Error(err)
					return
				}
				// It is there unless a later commit evicted it already.
				if len(es) > 1 || len(es) == 1 && es[0].ID != e.ID {
					t.Errorf("%s: lookup after Commit gave %+v, want %s", key, es, e.ID)
				}
			}
		}()
	}
	wg.Wait()
	n := s.batches.Load()
	t.Logf("%d commits in %d transactions", goroutines*each, n)
	if n >= goroutines*each {
		t.Errorf("%d transactions for %d concurrent commits: none shared", n, goroutines*each)
	}
	ids := checkAtRest(t, s)
	s = reopen(t, s)
	if got := checkAtRest(t, s); len(got) != len(ids) {
		t.Fatalf("%d entries after reopen, %d before", len(got), len(ids))
	}
}
