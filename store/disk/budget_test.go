package disk

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cellar-http/cellar/store"
)

// withLength returns e declaring a body of n bytes in Content-Length.
func withLength(e store.Entry, n int) store.Entry {
	e.Pair.Response.Header = e.Pair.Response.Header.Clone()
	e.Pair.Response.Header["Content-Length"] = []string{strconv.Itoa(n)}
	return e
}

// dirBytes is the size of every file under dir/sub.
func dirBytes(t *testing.T, dir, sub string) int64 {
	t.Helper()
	var n int64
	for _, f := range files(t, dir, sub) {
		if info, err := os.Stat(filepath.Join(dir, f)); err == nil {
			n += info.Size()
		}
	}
	return n
}

// RFC 9110 §8.6: a body whose Content-Length exceeds the budget is refused in
// Create, before a byte of it reaches tmp/ (issue 13, item 4: a 1 GiB body
// under a 1 GiB budget was written in full, then refused at Commit).
func TestCreateRefusesDeclaredLengthOverBudget(t *testing.T) {
	s := openTest(t, Options{MaxBytes: 100_000})
	for _, tt := range []struct {
		name string
		e    store.Entry
		ok   bool
	}{
		{"declared over budget", withLength(testEntry("big", ""), 100_000), false},
		{"declared within budget", withLength(testEntry("fits", ""), 50_000), true},
		{"HEAD declares a body it does not carry (RFC 9110 §9.3.2)", func() store.Entry {
			e := withLength(testEntry("head", ""), 1<<30)
			e.Pair.Request.Method = "HEAD"
			return e
		}(), true},
		{"malformed Content-Length declares nothing", func() store.Entry {
			e := testEntry("bad", "")
			e.Pair.Response.Header = e.Pair.Response.Header.Clone()
			e.Pair.Response.Header["Content-Length"] = []string{"1e9"}
			return e
		}(), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w, err := s.Create(context.Background(), tt.e)
			if tt.ok {
				if err != nil {
					t.Fatalf("Create: %v", err)
				}
				w.Abort()
			} else if !errors.Is(err, store.ErrTooLarge) {
				t.Fatalf("Create = %v, want ErrTooLarge", err)
			}
			if f := files(t, s.dir, "tmp"); len(f) != 0 {
				t.Fatalf("tmp/ holds %v", f)
			}
			if r := s.reserved.Load(); r != 0 {
				t.Fatalf("%d bytes still reserved after the writer ended", r)
			}
		})
	}
}

// Issue 13, item 4: bytes in tmp/ count against the budget. Writing a body
// evicts least-recently-used entries as it grows, so that committed bodies
// plus in-flight ones never exceed the budget; Abort gives the room back.
func TestInflightBytesCountAgainstBudget(t *testing.T) {
	const budget = 100_000
	s := openTest(t, Options{MaxBytes: budget})
	chunk := make([]byte, 30_000)
	for _, k := range []string{"a", "b", "c"} {
		put(t, s, testEntry(k, ""), chunk)
	}
	w, err := s.Create(context.Background(), testEntry("inflight", ""))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := w.Write(chunk[:20_000]); err != nil {
			t.Fatal(err)
		}
	}
	w.(*writer).bw.Flush()
	if len(lookup(t, s, "a")) != 0 || len(lookup(t, s, "c")) != 1 {
		t.Fatal("writing 40 KB in flight did not evict the least recent entry")
	}
	if used, tmp := s.Stats().Bytes, dirBytes(t, s.dir, "tmp"); used+tmp > budget || tmp != 40_000 {
		t.Fatalf("committed %d + in flight %d bytes exceed the %d budget", used, tmp, budget)
	}
	if r := s.reserved.Load(); r != 40_000 {
		t.Fatalf("reserved %d bytes, want 40000", r)
	}
	w.Abort()
	if r := s.reserved.Load(); r != 0 {
		t.Fatalf("Abort left %d bytes reserved", r)
	}

	// A commit hands its reservation over to the committed bytes.
	e := put(t, s, testEntry("d", ""), chunk)
	if r := s.reserved.Load(); r != 0 {
		t.Fatalf("Commit left %d bytes reserved", r)
	}
	if used := s.Stats().Bytes; used > budget || used < 2*30_000 {
		t.Fatalf("after the commit of %s, %d bytes are counted", e.Key, used)
	}
}

// Two writers whose bodies together exceed the budget: the second is refused
// while the first is in flight, not both written to tmp/.
func TestConcurrentWritersShareTheBudget(t *testing.T) {
	const budget = 100_000
	s := openTest(t, Options{MaxBytes: budget})
	first, err := s.Create(context.Background(), withLength(testEntry("first", ""), 70_000))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Create(context.Background(), withLength(testEntry("second", ""), 70_000))
	if !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("second declared writer: %v, want ErrTooLarge", err)
	}
	second, err := s.Create(context.Background(), testEntry("undeclared", ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := second.Write(make([]byte, 40_000)); !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("second writer's Write: %v, want ErrTooLarge", err)
	}
	if _, err := first.Write(make([]byte, 70_000)); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Commit(); err != nil {
		t.Fatal(err)
	}
	if r := s.reserved.Load(); r != 0 {
		t.Fatalf("%d bytes reserved with nothing in flight", r)
	}
	if f := files(t, s.dir, "tmp"); len(f) != 0 {
		t.Fatalf("tmp/ holds %v", f)
	}
}

// Many writers in flight at once never take committed plus reserved bytes
// past the budget, and every reservation is returned.
func TestReservationsBalanceUnderConcurrency(t *testing.T) {
	const budget = 200_000
	s := openTest(t, Options{MaxBytes: budget})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				w, err := s.Create(context.Background(), testEntry("k"+strconv.Itoa(g)+"-"+strconv.Itoa(i), ""))
				if err != nil {
					t.Error(err)
					return
				}
				_, err = w.Write(make([]byte, 5_000+i*100))
				if err == nil && i%3 == 0 {
					w.Abort()
					continue
				}
				if err == nil {
					_, err = w.Commit()
				}
				if err != nil && !errors.Is(err, store.ErrTooLarge) {
					t.Error(err)
				}
				if used := s.Stats().Bytes; used > budget {
					t.Errorf("%d bytes committed over a %d budget", used, budget)
				}
			}
		})
	}
	wg.Wait()
	if r := s.reserved.Load(); r != 0 {
		t.Fatalf("%d bytes reserved with nothing in flight", r)
	}
	checkAtRest(t, s)
}

// Create weighs the record only of a body that takes half the budget (an
// encoding of the metadata per miss otherwise); an entry whose metadata
// alone is over the budget is refused at Commit, and nothing stays behind.
func TestMetadataOverBudgetRefusedAtCommit(t *testing.T) {
	s := openTest(t, Options{MaxBytes: 100_000})
	e := withLength(testEntry("fat", ""), 10)
	e.Pair.Response.Header = e.Pair.Response.Header.Clone()
	e.Pair.Response.Header["X-Padding"] = []string{strings.Repeat("p", 120_000)}
	w, err := s.Create(context.Background(), e)
	if err != nil {
		t.Fatalf("Create of a 10-byte body: %v", err)
	}
	if _, err := w.Write(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(); !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("Commit of an entry whose metadata is over the budget = %v, want ErrTooLarge", err)
	}
	if es, _ := s.Lookup(context.Background(), "fat"); len(es) != 0 {
		t.Fatal("the refused entry was stored")
	}
	if f := files(t, s.dir, "tmp"); len(f) != 0 {
		t.Fatalf("tmp/ holds %v", f)
	}
	if r := s.reserved.Load(); r != 0 {
		t.Fatalf("%d bytes still reserved", r)
	}
}
