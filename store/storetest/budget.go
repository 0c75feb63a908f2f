package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cellar-http/cellar/store"
)

// testEvictionKeepsBudget: writing three times the budget in entries
// leaves the store within its budget, having evicted, and the entry looked
// up after every write (the most recently used) survives.
func testEvictionKeepsBudget(t *testing.T, f Factory) {
	const budget, size = 1 << 20, 16 << 10
	const n = 3 * budget / size
	s := open(t, f, budget)
	const hot = "https://example.com/hot"
	hotData := body(size, 99)
	put(t, s, entry(hot, ""), hotData)
	for i := range n {
		put(t, s, entry(fmt.Sprintf("https://example.com/cold/%d", i), ""), body(size, i))
		if es := lookup(t, s, hot); len(es) == 1 && i%8 == 0 {
			expectBody(t, s, es[0], hotData)
		}
	}
	eventually(t, fmt.Sprintf("Stats().Bytes is within the budget of %d", budget), func() bool {
		return s.Stats().Bytes <= budget
	})
	st := s.Stats()
	if st.Evictions == 0 {
		t.Errorf("Stats().Evictions = 0 after writing %d bytes into a budget of %d", (n+1)*size, budget)
	}
	stored := iterate(t, s)
	if len(stored) >= n+1 {
		t.Fatalf("all %d entries are still stored in a budget of %d bytes", len(stored), budget)
	}
	var sum int64
	for _, e := range stored {
		sum += e.Size
	}
	if sum > budget {
		t.Fatalf("the stored bodies add up to %d bytes, over the budget of %d", sum, budget)
	}
	if st.Entries != int64(len(stored)) {
		t.Errorf("Stats().Entries = %d, but Iterate found %d", st.Entries, len(stored))
	}
	expectBody(t, s, lookupOne(t, s, hot), hotData)
}

// testTooLarge: a body larger than the whole budget fails with ErrTooLarge
// (or is silently not stored), leaves nothing, and the store goes on.
func testTooLarge(t *testing.T, f Factory) {
	const budget = 64 << 10
	s := open(t, f, budget)
	e := entry("https://example.com/huge", "")
	w, err := s.Create(t.Context(), e)
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for i := range 16 {
		if _, werr = w.Write(body(8<<10, i)); werr != nil {
			break
		}
	}
	var cerr error
	if werr == nil {
		_, cerr = w.Commit()
	}
	_ = w.Abort()
	for _, err := range []error{werr, cerr} {
		if err != nil && !errors.Is(err, store.ErrTooLarge) {
			t.Fatalf("writing 128 KiB into a budget of 64 KiB failed with %v, want ErrTooLarge", err)
		}
	}
	expectNone(t, s, e.Key)
	eventually(t, "the store is empty and within budget", func() bool {
		st := s.Stats()
		return st.Entries == 0 && st.Bytes <= budget
	})
	small := put(t, s, entry("https://example.com/small", ""), []byte("fits"))
	expectBody(t, s, small, []byte("fits"))
}

// testStats: the counters follow lookups, commits and removals.
func testStats(t *testing.T, f Factory) {
	s := open(t, f, roomyBudget)
	if st := s.Stats(); st != (store.Stats{}) {
		t.Fatalf("a new store's Stats() = %+v, want zeros", st)
	}
	const key = "https://example.com/counted"
	expectNone(t, s, key)
	if st := s.Stats(); st.Misses != 1 || st.Hits != 0 {
		t.Fatalf("after one missed lookup, Stats() = %+v", st)
	}
	put(t, s, entry(key, "a"), body(10_000, 1))
	put(t, s, entry(key, "b"), body(20_000, 2))
	lookup(t, s, key)
	lookup(t, s, key)
	st := s.Stats()
	if st.Hits != 2 || st.Misses != 1 {
		t.Fatalf("after two hits and a miss, Stats() = %+v", st)
	}
	if st.Entries != 2 {
		t.Fatalf("with two variants stored, Stats().Entries = %d", st.Entries)
	}
	if st.Bytes < 30_000 || st.Bytes > roomyBudget {
		t.Fatalf("with 30000 bytes of bodies stored, Stats().Bytes = %d", st.Bytes)
	}
	if st.Evictions != 0 {
		t.Fatalf("nothing was evicted, Stats().Evictions = %d", st.Evictions)
	}
	if err := s.Delete(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Stats() has no entries and fewer bytes after Delete", func() bool {
		now := s.Stats()
		return now.Entries == 0 && now.Bytes <= st.Bytes-30_000
	})
	if st := s.Stats(); st.Evictions != 0 {
		t.Fatalf("Delete is not an eviction, Stats().Evictions = %d", st.Evictions)
	}
}
