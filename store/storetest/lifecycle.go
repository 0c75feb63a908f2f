package storetest

import (
	"errors"
	"io"
	"testing"

	"github.com/cellar-http/cellar/store"
)

// testClose: after Close every operation fails with ErrClosed, and a body
// opened before Close stays readable until it is closed.
func testClose(t *testing.T, f Factory) {
	s := open(t, f, roomyBudget)
	data := body(50_000, 1)
	e := put(t, s, entry("https://example.com/open-at-close", "", "t"), data)
	b, err := s.Open(t.Context(), e.Key, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	ctx := t.Context()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", op, err)
		}
	}
	_, err = s.Lookup(ctx, e.Key)
	check("Lookup", err)
	_, err = s.Open(ctx, e.Key, e.ID)
	check("Open", err)
	w, err := s.Create(ctx, entry("https://example.com/after-close", ""))
	if err == nil {
		// A store may hand out a writer and fail later, but not commit.
		_, werr := w.Write([]byte("x"))
		_, cerr := w.Commit()
		if werr == nil && cerr == nil {
			t.Error("Create, Write and Commit after Close all succeeded")
		}
		_ = w.Abort()
	} else {
		check("Create", err)
	}
	check("Update", s.Update(ctx, e.Key, []store.Entry{e}))
	check("Delete", s.Delete(ctx, e.Key))
	_, err = s.PurgeTag(ctx, "t")
	check("PurgeTag", err)
	_, err = s.PurgePrefix(ctx, "")
	check("PurgePrefix", err)
	check("Iterate", s.Iterate(ctx, func(store.Entry) bool { return true }))

	got, err := io.ReadAll(b)
	if err != nil || string(got) != string(data) {
		t.Fatalf("a body opened before Close read %d bytes, %v; want all %d", len(got), err, len(data))
	}
}

// testReopen: for durable backends, committed entries (metadata and
// bodies), updates and deletions survive a close and reopen; aborted and
// unfinished writes do not; new IDs do not collide with old ones.
func testReopen(t *testing.T, f Factory) {
	if f.Reopen == nil {
		t.Skip("the backend is not durable (Factory.Reopen is nil)")
	}
	s := open(t, f, roomyBudget)
	const key = "https://example.com/durable"
	aData, bData := body(70_000, 1), body(5, 2)
	a := put(t, s, entry(key, "a", "durable"), aData)
	b := put(t, s, entry(key, "b"), bData)
	gone := put(t, s, entry("https://example.com/deleted-before-reopen", ""), []byte("x"))
	if err := s.Delete(t.Context(), gone.Key); err != nil {
		t.Fatal(err)
	}
	ub := clone(b)
	ub.Pair.Response.Header.Set("Etag", `"updated"`)
	if err := s.Update(t.Context(), key, []store.Entry{ub}); err != nil {
		t.Fatal(err)
	}

	aborted, err := s.Create(t.Context(), entry(key, "aborted"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := aborted.Write([]byte("aborted")); err != nil {
		t.Fatal(err)
	}
	if err := aborted.Abort(); err != nil {
		t.Fatal(err)
	}
	// Unfinished at the close: as after a crash, it must leave nothing.
	unfinished, err := s.Create(t.Context(), entry(key, "unfinished"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unfinished.Write([]byte("half a body")); err != nil {
		t.Fatal(err)
	}

	s = f.Reopen(t, s)
	if s == nil {
		t.Fatal("Factory.Reopen returned nil")
	}
	t.Cleanup(func() { closeQuietly(t, s) })
	_ = unfinished.Abort()

	got := byVariant(t, lookup(t, s, key))
	if len(got) != 2 {
		t.Fatalf("after reopening, Lookup returned %s, want variants a and b", describe(lookup(t, s, key)))
	}
	if diff := diffEntries(got["a"], a); diff != "" {
		t.Fatalf("variant a after reopening: %s", diff)
	}
	if diff := diffEntries(got["b"], ub); diff != "" {
		t.Fatalf("variant b (updated) after reopening: %s", diff)
	}
	expectBody(t, s, got["a"], aData)
	expectBody(t, s, got["b"], bData)
	expectNone(t, s, gone.Key)
	if es := iterate(t, s); len(es) != 2 {
		t.Fatalf("after reopening, Iterate found %s, want 2 entries", describe(es))
	}
	eventually(t, "Stats().Entries is 2 after reopening", func() bool { return s.Stats().Entries == 2 })
	if n, err := s.PurgeTag(t.Context(), "durable"); err != nil || n != 1 {
		t.Fatalf("PurgeTag after reopening = %d, %v; want 1 (the tag index must survive)", n, err)
	}

	// Writing after the reopen: new IDs are new, and replacing works.
	c := put(t, s, entry(key, "b"), []byte("replaced after reopen"))
	for _, old := range []string{a.ID, b.ID, gone.ID} {
		if c.ID == old {
			t.Fatalf("a commit after reopening reused the ID %q", old)
		}
	}
	if found := lookupOne(t, s, key); found.ID != c.ID {
		t.Fatalf("after replacing, Lookup found ID %q, want %q", found.ID, c.ID)
	}
	expectNotFound(t, s, key, b.ID)
}
