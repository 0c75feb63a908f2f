package memory_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cellar-http/cellar/store"
)

// unsized is typical's entry without a Content-Length (a chunked body),
// so that only the bytes written count.
func unsized(rawURL string) store.Entry {
	e := typical(rawURL)
	e.Pair.Response.Header = e.Pair.Response.Header.Clone()
	delete(e.Pair.Response.Header, "Content-Length")
	return e
}

// TestInFlightWritersShareTheBudget: issue 13, item 1. Writers that have
// not committed hold what they buffered against one budget: N writers of a
// body each as large as the budget never accept more than the budget
// together (before, each could buffer a whole budget: N times it), the
// ones that cannot reserve fail with store.ErrTooLarge, and aborting
// returns the reservations, so that one writer can then take the whole
// budget.
func TestInFlightWritersShareTheBudget(t *testing.T) {
	const budget = 1 << 20
	for _, n := range []int{2, 4, 8} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			s := newStore(t, budget)
			defer s.Close()
			// held is what the writers still buffering accepted: a writer
			// that was refused has dropped its body.
			var held atomic.Int64
			var refused atomic.Int32
			var wg sync.WaitGroup
			writers := make([]store.Writer, n)
			for i := range writers {
				w, err := s.Create(context.Background(), unsized("https://example.com/big/"+strconv.Itoa(i)))
				if err != nil {
					t.Fatal(err)
				}
				writers[i] = w
				wg.Add(1)
				go func() {
					defer wg.Done()
					chunk := make([]byte, 16<<10)
					mine := int64(0)
					// Each body alone fits the budget, metadata included.
					for mine < budget-int64(len(chunk)) {
						if _, err := w.Write(chunk); err != nil {
							if !errors.Is(err, store.ErrTooLarge) {
								t.Errorf("Write: %v, want ErrTooLarge", err)
							}
							held.Add(-mine)
							refused.Add(1)
							return
						}
						mine += int64(len(chunk))
						held.Add(int64(len(chunk)))
					}
				}()
			}
			wg.Wait()
			if got := held.Load(); got > budget {
				t.Errorf("%d writers in flight hold %d bytes together, more than the budget of %d", n, got, budget)
			}
			if refused.Load() == 0 {
				t.Errorf("no writer was refused although %d bodies of about the budget's size were written at once", n)
			}
			for _, w := range writers {
				w.Abort()
			}
			// Every reservation is back: one body of almost the whole
			// budget fits, and is stored.
			e := commit(t, s, unsized("https://example.com/after"), make([]byte, budget-4<<10))
			if e.Size != budget-4<<10 {
				t.Fatalf("committed %d bytes", e.Size)
			}
			// Committing returned the reservation too.
			commit(t, s, unsized("https://example.com/after2"), make([]byte, budget-4<<10))
		})
	}
}

// TestDeclaredLengthRefusedAtCreate: a body whose Content-Length (RFC 9110
// §8.6) exceeds the budget is refused before its first byte, and one that
// fits reserves its whole length at once, so that a second cannot start
// while the first holds the budget.
func TestDeclaredLengthRefusedAtCreate(t *testing.T) {
	const budget = 1 << 20
	s := newStore(t, budget)
	defer s.Close()
	sized := func(u string, n int64) store.Entry {
		e := unsized(u)
		e.Pair.Response.Header["Content-Length"] = []string{strconv.FormatInt(n, 10)}
		return e
	}
	if _, err := s.Create(context.Background(), sized("https://example.com/huge", 1<<30)); !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("Create of a 1 GiB body under a 1 MiB budget: %v, want ErrTooLarge", err)
	}
	w, err := s.Create(context.Background(), sized("https://example.com/a", 700<<10))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(context.Background(), sized("https://example.com/b", 700<<10)); !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("Create while another writer holds 700 KiB of 1 MiB: %v, want ErrTooLarge", err)
	}
	// A HEAD response announces the length of a body it does not carry.
	head := sized("https://example.com/head", 1<<30)
	head.Pair.Request.Method = "HEAD"
	hw, err := s.Create(context.Background(), head)
	if err != nil {
		t.Fatalf("Create of a HEAD response announcing 1 GiB: %v", err)
	}
	hw.Abort()
	w.Abort()
	if _, err := s.Create(context.Background(), sized("https://example.com/b", 700<<10)); err != nil {
		t.Fatalf("Create after the first writer aborted: %v", err)
	}
}
