package storetest

import (
	"testing"
	"time"

	"github.com/cellar-http/cellar/store"
)

// testUpdate: Update replaces Pair and Expires of the entries it names by
// ID, after a 304 (RFC 9111 §4.3.4), without touching their bodies or the
// other variants; unknown IDs and keys are skipped without error.
func testUpdate(t *testing.T, f Factory) {
	s := open(t, f, roomyBudget)
	const key = "https://example.com/validated"
	a := put(t, s, entry(key, "a", "t1"), []byte("body of a"))
	b := put(t, s, entry(key, "b"), []byte("body of b"))

	u := clone(a)
	u.Pair.Response.Header.Set("Etag", `"v2"`)
	u.Pair.Response.Header.Add("X-Updated", "1")
	u.Pair.Response.Header.Add("X-Updated", "2")
	u.Pair.Response.RequestTime = baseTime.Add(time.Hour)
	u.Pair.Response.ResponseTime = baseTime.Add(time.Hour + time.Second)
	u.Expires = time.Now().Add(2 * time.Hour).Round(time.Millisecond)
	gone := entry(key, "gone")
	gone.ID, gone.Pair.ID = "no-such-id", "no-such-id"
	if err := s.Update(t.Context(), key, []store.Entry{u, gone}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if err := s.Update(t.Context(), "https://example.com/never-stored", []store.Entry{u}); err != nil {
		t.Fatalf("Update of a key never stored: %v", err)
	}

	got := byVariant(t, lookup(t, s, key))
	if len(got) != 2 {
		t.Fatalf("after Update, Lookup returned %d entries, want 2 (the unknown ID must not be added)", len(got))
	}
	if diff := diffEntries(got["a"], u); diff != "" {
		t.Fatalf("updated entry: %s", diff)
	}
	if diff := diffEntries(got["b"], b); diff != "" {
		t.Fatalf("the entry not named in Update changed: %s", diff)
	}
	expectBody(t, s, got["a"], []byte("body of a"))
	expectBody(t, s, got["b"], []byte("body of b"))
}

// testDelete: Delete removes every variant of a key (RFC 9111 §4.4) and no
// other key; deleting a missing key is not an error.
func testDelete(t *testing.T, f Factory) {
	s := open(t, f, roomyBudget)
	const key, other = "https://example.com/deleted", "https://example.com/kept"
	a := put(t, s, entry(key, "a"), []byte("a"))
	b := put(t, s, entry(key, "b"), []byte("b"))
	put(t, s, entry(other, "a"), []byte("kept"))
	if err := s.Delete(t.Context(), key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	expectNone(t, s, key)
	expectNotFound(t, s, key, a.ID)
	expectNotFound(t, s, key, b.ID)
	expectBody(t, s, lookupOne(t, s, other), []byte("kept"))
	if err := s.Delete(t.Context(), key); err != nil {
		t.Fatalf("Delete of a key already deleted: %v", err)
	}
	if err := s.Delete(t.Context(), "https://example.com/never-stored"); err != nil {
		t.Fatalf("Delete of a key never stored: %v", err)
	}
	eventually(t, "Stats().Entries is 1 after Delete", func() bool { return s.Stats().Entries == 1 })
}

// testPurgeTag: PurgeTag removes exactly the entries (variants, not whole
// keys) that carry the tag, and counts them.
func testPurgeTag(t *testing.T, f Factory) {
	s := open(t, f, roomyBudget)
	const k1, k2, k3 = "https://example.com/1", "https://example.com/2", "https://example.com/3"
	put(t, s, entry(k1, "gzip", "product:1", "catalog"), []byte("1g"))
	put(t, s, entry(k1, "br", "product:1"), []byte("1b"))
	put(t, s, entry(k2, "", "catalog"), []byte("2"))
	put(t, s, entry(k3, "", "product:3"), []byte("3"))
	put(t, s, entry(k3, "untagged"), []byte("3u"))

	n, err := s.PurgeTag(t.Context(), "catalog")
	if err != nil || n != 2 {
		t.Fatalf(`PurgeTag("catalog") = %d, %v; want 2`, n, err)
	}
	if got := byVariant(t, lookup(t, s, k1)); len(got) != 1 || got["br"].Variant != "br" {
		t.Fatalf("after purging catalog, %s has %s, want only variant br", k1, describe(lookup(t, s, k1)))
	}
	expectNone(t, s, k2)
	if got := lookup(t, s, k3); len(got) != 2 {
		t.Fatalf("%s lost entries it did not tag: %s", k3, describe(got))
	}

	if n, err := s.PurgeTag(t.Context(), "catalog"); err != nil || n != 0 {
		t.Fatalf(`second PurgeTag("catalog") = %d, %v; want 0`, n, err)
	}
	if n, err := s.PurgeTag(t.Context(), "no-such-tag"); err != nil || n != 0 {
		t.Fatalf(`PurgeTag("no-such-tag") = %d, %v; want 0`, n, err)
	}
	if n, err := s.PurgeTag(t.Context(), "product:1"); err != nil || n != 1 {
		t.Fatalf(`PurgeTag("product:1") = %d, %v; want 1`, n, err)
	}
	expectNone(t, s, k1)

	// A tag purged and then committed again is purgeable again.
	put(t, s, entry(k2, "", "catalog"), []byte("2 again"))
	if n, err := s.PurgeTag(t.Context(), "catalog"); err != nil || n != 1 {
		t.Fatalf(`PurgeTag("catalog") after re-adding = %d, %v; want 1`, n, err)
	}
	eventually(t, "Stats().Entries is 2 after the purges", func() bool { return s.Stats().Entries == 2 })
}

// testPurgePrefix: PurgePrefix removes every entry whose key starts with
// the prefix, counting variants one by one, and nothing else.
func testPurgePrefix(t *testing.T, f Factory) {
	s := open(t, f, roomyBudget)
	put(t, s, entry("https://a.example/1", "x"), []byte("a1x"))
	put(t, s, entry("https://a.example/1", "y"), []byte("a1y"))
	put(t, s, entry("https://a.example/2", ""), []byte("a2"))
	put(t, s, entry("https://a.example.org/1", ""), []byte("other host"))
	put(t, s, entry("https://b.example/1", ""), []byte("b1"))

	n, err := s.PurgePrefix(t.Context(), "https://a.example/")
	if err != nil || n != 3 {
		t.Fatalf("PurgePrefix = %d, %v; want 3", n, err)
	}
	expectNone(t, s, "https://a.example/1")
	expectNone(t, s, "https://a.example/2")
	lookupOne(t, s, "https://a.example.org/1")
	lookupOne(t, s, "https://b.example/1")
	if n, err := s.PurgePrefix(t.Context(), "https://a.example/"); err != nil || n != 0 {
		t.Fatalf("second PurgePrefix = %d, %v; want 0", n, err)
	}
	if n, err := s.PurgePrefix(t.Context(), ""); err != nil || n != 2 {
		t.Fatalf(`PurgePrefix("") = %d, %v; want 2 (every entry)`, n, err)
	}
	if es := iterate(t, s); len(es) != 0 {
		t.Fatalf(`after PurgePrefix(""), Iterate found %s`, describe(es))
	}
}

// testIterate: Iterate yields every committed entry once, with its
// metadata, and stops when fn returns false.
func testIterate(t *testing.T, f Factory) {
	s := open(t, f, roomyBudget)
	want := map[string]store.Entry{}
	for _, k := range []string{"https://example.com/a", "https://example.com/b", "https://example.com/c"} {
		for _, v := range []string{"gzip", "br"} {
			e := put(t, s, entry(k, v, "walk"), []byte(k+v))
			want[e.ID] = e
		}
	}
	got := iterate(t, s)
	if len(got) != len(want) {
		t.Fatalf("Iterate yielded %d entries, want %d: %s", len(got), len(want), describe(got))
	}
	for _, e := range got {
		w, ok := want[e.ID]
		if !ok {
			t.Fatalf("Iterate yielded an unknown or repeated entry: %s", describe([]store.Entry{e}))
		}
		if diff := diffEntries(e, w); diff != "" {
			t.Fatalf("Iterate yielded %q/%q with other metadata: %s", e.Key, e.Variant, diff)
		}
		delete(want, e.ID)
	}

	calls := 0
	if err := s.Iterate(t.Context(), func(store.Entry) bool { calls++; return false }); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Fatalf("Iterate called fn %d times after it returned false, want 1", calls)
	}
}

// testExpired: an entry past its Expires horizon is of no use (RFC 9111
// §4.2.4 allows no serving past the stale budget) and Lookup does not
// return it, whether it was stored expired or expired while stored.
func testExpired(t *testing.T, f Factory) {
	s := open(t, f, roomyBudget)
	past := entry("https://example.com/expired", "")
	past.Expires = time.Now().Add(-time.Minute)
	if w, err := s.Create(t.Context(), past); err == nil {
		if _, err := w.Write([]byte("old")); err == nil {
			_, _ = w.Commit() // a store may refuse it or drop it later
		}
		_ = w.Abort()
	}
	expectNone(t, s, past.Key)

	const ttl = 300 * time.Millisecond
	never := entry("https://example.com/expiring", "b")
	never.Expires = time.Time{}
	put(t, s, never, []byte("never"))
	soon := entry(never.Key, "a")
	soon.Expires = time.Now().Add(ttl)
	put(t, s, soon, []byte("soon"))
	// On a slow machine the horizon may pass before the lookup returns.
	if got := lookup(t, s, soon.Key); len(got) != 2 && time.Now().Before(soon.Expires) {
		t.Fatalf("before its horizon, Lookup returned %s, want both variants", describe(got))
	}
	time.Sleep(time.Until(soon.Expires) + 50*time.Millisecond)
	got := lookupOne(t, s, soon.Key)
	if got.Variant != "b" || !got.Expires.IsZero() {
		t.Fatalf("after the horizon of variant a, Lookup returned %s (Expires %v), want variant b with no horizon", describe([]store.Entry{got}), got.Expires)
	}
}
