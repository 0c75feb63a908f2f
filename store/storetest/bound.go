package storetest

import (
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/cellar-http/cellar/store"
)

// testVariantBound: a store keeps at most its bound of variants per key
// (issue 12: Vary on Cookie or User-Agent lets any client add variants), and
// a commit past it removes the least recently used ones. Opening a body and
// updating metadata count as use, Lookup does not (it returns them all); a
// replacement at the bound removes nothing but the version it replaces, and
// an evicted variant's ID no longer opens.
func testVariantBound(t *testing.T, f Factory) {
	bound := f.maxVariants(t)
	s := open(t, f, roomyBudget)
	const key = "https://example.com/flooded"
	extra := max(1, bound/4) // variants opened, and variants committed past the bound
	variant := func(name string) string { return "cookie=" + name }

	old := make([]store.Entry, bound)
	for i := range old {
		v := variant("old" + strconv.Itoa(i))
		old[i] = put(t, s, entry(key, v), variantBody(v))
	}
	if got := lookup(t, s, key); len(got) != bound {
		t.Fatalf("after committing %d variants, the bound, Lookup returned %d", bound, len(got))
	}

	// Use the oldest commits: open the first extra in order, update the
	// next. Least recent first, the variants are now
	// old[extra+1:] then old[:extra+1].
	for _, e := range old[:extra] {
		expectBody(t, s, e, variantBody(e.Variant))
	}
	updated := clone(old[extra])
	updated.Pair.Response.Header.Set("Etag", `"updated"`)
	if err := s.Update(t.Context(), key, []store.Entry{updated}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	// A replacement at the bound is no new variant: nothing else goes.
	last := bound - 1
	old[last] = put(t, s, entry(key, old[last].Variant), variantBody(old[last].Variant))
	if got := lookup(t, s, key); len(got) != bound {
		t.Fatalf("after replacing a variant at the bound, Lookup returned %d variants, want %d", len(got), bound)
	}

	fresh := make([]store.Entry, extra)
	for i := range fresh {
		v := variant("new" + strconv.Itoa(i))
		fresh[i] = put(t, s, entry(key, v), variantBody(v))
	}

	got := byVariant(t, lookup(t, s, key))
	evicted := old[extra+1 : 2*extra+1]
	survivors := append(append(append([]store.Entry{}, old[:extra+1]...), old[2*extra+1:]...), fresh...)
	var lost, kept []string
	for _, e := range survivors {
		if _, ok := got[e.Variant]; !ok {
			lost = append(lost, e.Variant)
		}
	}
	for _, e := range evicted {
		if _, ok := got[e.Variant]; ok {
			kept = append(kept, e.Variant)
		}
	}
	if len(got) != bound || len(lost) > 0 || len(kept) > 0 {
		t.Fatalf("after %d variants past the bound of %d: Lookup returned %d variants; lost recently used %q; kept least recently used %q",
			extra, bound, len(got), lost, kept)
	}
	if e := got[updated.Variant]; e.Pair.Response.Header.Get("Etag") != `"updated"` {
		t.Errorf("the updated variant lost its update: Etag %q", e.Pair.Response.Header.Get("Etag"))
	}
	for _, e := range evicted {
		expectNotFound(t, s, key, e.ID)
	}
	expectBody(t, s, got[old[0].Variant], variantBody(old[0].Variant))
	eventually(t, fmt.Sprintf("Stats().Entries is %d", bound), func() bool { return s.Stats().Entries == int64(bound) })
}

// testVariantBoundConcurrent: twice the bound of writers committing
// distinct variants of one key at once leave exactly the bound: the bound
// is kept by each commit atomically, not by a later clean-up.
func testVariantBoundConcurrent(t *testing.T, f Factory) {
	bound := f.maxVariants(t)
	s := open(t, f, roomyBudget)
	const key = "https://example.com/flooded-at-once"
	writers := 2 * bound
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	start := make(chan struct{})
	for i := range writers {
		wg.Go(func() {
			v := "user-agent=" + strconv.Itoa(i)
			w, err := s.Create(t.Context(), entry(key, v))
			if err != nil {
				errs <- err
				return
			}
			<-start
			if _, err := w.Write(variantBody(v)); err != nil {
				errs <- err
				_ = w.Abort()
				return
			}
			if _, err := w.Commit(); err != nil {
				errs <- fmt.Errorf("commit of %s: %w", v, err)
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := byVariant(t, lookup(t, s, key))
	if len(got) != bound {
		t.Fatalf("after %d concurrent commits of distinct variants, Lookup returned %d, want the bound %d", writers, len(got), bound)
	}
	for _, e := range got {
		expectBody(t, s, e, variantBody(e.Variant))
	}
	eventually(t, fmt.Sprintf("Stats().Entries is %d", bound), func() bool { return s.Stats().Entries == int64(bound) })
}
