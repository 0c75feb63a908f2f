package tiered

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/disk"
)

// counting wraps the durable store and counts what reaches it. block, when
// set, makes Lookup wait on it after reading the durable store.
type counting struct {
	store.Store
	lookups, opens atomic.Int64
	block          chan struct{}
}

func (c *counting) Lookup(ctx context.Context, key string) ([]store.Entry, error) {
	c.lookups.Add(1)
	es, err := c.Store.Lookup(ctx, key)
	if c.block != nil {
		<-c.block
	}
	return es, err
}

func (c *counting) Open(ctx context.Context, key, id string) (store.Body, error) {
	c.opens.Add(1)
	return c.Store.Open(ctx, key, id)
}

func (c *counting) Live(key, id string) bool { return c.Store.(Liveness).Live(key, id) }

func newTest(t *testing.T, diskBudget, memBytes int64) (*Store, *counting, *disk.Store) {
	t.Helper()
	return newTestWith(t, diskBudget, Options{MaxBytes: memBytes})
}

// newTestWith is newTest with the memory tier's options given whole.
func newTestWith(t *testing.T, diskBudget int64, o Options) (*Store, *counting, *disk.Store) {
	t.Helper()
	d, err := disk.Open(t.TempDir(), disk.Options{MaxBytes: diskBudget, Fsync: disk.FsyncNone})
	if err != nil {
		t.Fatal(err)
	}
	c := &counting{Store: d}
	s, err := New(c, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, c, d
}

func entry(key, variant string, tags ...string) store.Entry {
	return store.Entry{
		Key: key, Variant: variant, Tags: tags,
		Pair: spec.Pair{
			Request:  spec.Request{Method: "GET", Header: http.Header{}},
			Response: spec.Response{Status: 200, Header: http.Header{"Cache-Control": {"max-age=60"}}, RequestTime: time.Now(), ResponseTime: time.Now()},
		},
	}
}

func put(t *testing.T, s store.Store, e store.Entry, body string) store.Entry {
	t.Helper()
	w, err := s.Create(t.Context(), e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, body); err != nil {
		t.Fatal(err)
	}
	got, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func get(t *testing.T, s store.Store, key string) (store.Entry, string, bool) {
	t.Helper()
	es, err := s.Lookup(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) == 0 {
		return store.Entry{}, "", false
	}
	b, err := s.Open(t.Context(), key, es[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	data, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	return es[0], string(data), true
}

// Issue 14: a hot hit is answered from memory, metadata and body: the
// durable store (its index, its files) is not asked.
func TestHotHitStaysInMemory(t *testing.T) {
	s, c, _ := newTest(t, 1<<20, 1<<20)
	put(t, s, entry("k", ""), "hot body")
	get(t, s, "k") // the first lookup after a commit reads the durable index
	l, o := c.lookups.Load(), c.opens.Load()
	for range 10 {
		if _, body, ok := get(t, s, "k"); !ok || body != "hot body" {
			t.Fatalf("hot hit: %q, %v", body, ok)
		}
	}
	if dl, do := c.lookups.Load()-l, c.opens.Load()-o; dl != 0 || do != 0 {
		t.Fatalf("10 hot hits asked the durable store %d lookups and %d opens, want none", dl, do)
	}
	if st := s.Stats(); st.Hits != 11 || st.Misses != 0 {
		t.Fatalf("Stats() = %+v, want 11 hits", st)
	}
}

// A body larger than MaxBodyBytes is never kept in memory.
func TestLargeBodiesStayOnDisk(t *testing.T) {
	d, err := disk.Open(t.TempDir(), disk.Options{Fsync: disk.FsyncNone})
	if err != nil {
		t.Fatal(err)
	}
	c := &counting{Store: d}
	s, err := New(c, Options{MaxBytes: 1 << 20, MaxBodyBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	big := string(make([]byte, 101))
	put(t, s, entry("big", ""), big)
	for range 3 {
		if _, body, _ := get(t, s, "big"); body != big {
			t.Fatal("wrong body")
		}
	}
	if o := c.opens.Load(); o != 3 {
		t.Fatalf("%d opens of the durable store for 3 reads of a large body, want 3", o)
	}
}

// RFC 9111 §4.4 and the purges: whatever changes the durable store is seen by
// the next lookup, though the memory tier held the old answer.
func TestChangesReachTheMemoryTier(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		change func(t *testing.T, s *Store, old store.Entry)
		check  func(t *testing.T, s *Store, old store.Entry)
	}{
		{"Delete", func(t *testing.T, s *Store, old store.Entry) {
			if err := s.Delete(ctx, old.Key); err != nil {
				t.Fatal(err)
			}
		}, gone},
		{"PurgeTag", func(t *testing.T, s *Store, old store.Entry) {
			if n, err := s.PurgeTag(ctx, "tag"); n != 1 || err != nil {
				t.Fatalf("PurgeTag = %d, %v", n, err)
			}
		}, gone},
		{"PurgePrefix", func(t *testing.T, s *Store, old store.Entry) {
			if n, err := s.PurgePrefix(ctx, "https://example.com/"); n != 1 || err != nil {
				t.Fatalf("PurgePrefix = %d, %v", n, err)
			}
		}, gone},
		{"Update (RFC 9111 §4.3.4)", func(t *testing.T, s *Store, old store.Entry) {
			u := old
			u.Pair.Response.Header = http.Header{"Etag": {`"new"`}}
			if err := s.Update(ctx, old.Key, []store.Entry{u}); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, s *Store, old store.Entry) {
			e, body, ok := get(t, s, old.Key)
			if !ok || e.Pair.Response.Header.Get("Etag") != `"new"` || body != "old" {
				t.Fatalf("after Update: %v %q %v", e.Pair.Response.Header, body, ok)
			}
		}},
		{"replacing commit", func(t *testing.T, s *Store, old store.Entry) {
			put(t, s, entry(old.Key, ""), "new")
		}, func(t *testing.T, s *Store, old store.Entry) {
			e, body, ok := get(t, s, old.Key)
			if !ok || e.ID == old.ID || body != "new" {
				t.Fatalf("after replacing: ID %s (old %s), %q", e.ID, old.ID, body)
			}
			if _, err := s.Open(ctx, old.Key, old.ID); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Open of the replaced version: %v, want ErrNotFound", err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, _, _ := newTest(t, 1<<20, 1<<20)
			old := put(t, s, entry("https://example.com/k", "", "tag"), "old")
			get(t, s, old.Key) // now in memory
			tt.change(t, s, old)
			tt.check(t, s, old)
		})
	}
}

func gone(t *testing.T, s *Store, old store.Entry) {
	t.Helper()
	if _, _, ok := get(t, s, old.Key); ok {
		t.Fatal("the memory tier still answers for a removed entry")
	}
	if _, err := s.Open(context.Background(), old.Key, old.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Open of a removed entry: %v, want ErrNotFound", err)
	}
}

// The durable store evicts on its own (for its budget): an entry it evicted
// is not served from memory.
func TestDurableEvictionReachesTheMemoryTier(t *testing.T) {
	s, _, d := newTest(t, 40_000, 1<<20)
	body := string(make([]byte, 12_000))
	a := put(t, s, entry("A", ""), body)
	get(t, s, "A")
	put(t, s, entry("B", ""), body)
	put(t, s, entry("C", ""), body)
	// Use B and C in the durable store only, so that A is its least recent.
	for _, k := range []string{"B", "C"} {
		if es, _ := d.Lookup(t.Context(), k); len(es) != 1 {
			t.Fatal(k, "missing")
		}
	}
	put(t, s, entry("D", ""), body)
	if es, _ := d.Lookup(t.Context(), "A"); len(es) != 0 {
		t.Fatal("the durable store did not evict A; the test needs it to")
	}
	if _, _, ok := get(t, s, "A"); ok {
		t.Fatal("the memory tier served A, which the durable store evicted")
	}
	if _, err := s.Open(t.Context(), "A", a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Open of an evicted entry: %v, want ErrNotFound", err)
	}
}

// A lookup that read the durable store before a Delete, and returns after
// it, must not leave its stale answer in memory.
func TestLookupRacingDeleteDoesNotFill(t *testing.T) {
	s, c, _ := newTest(t, 1<<20, 1<<20)
	put(t, s, entry("k", ""), "body")
	c.block = make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		if es, err := s.Lookup(context.Background(), "k"); err != nil || len(es) != 1 {
			t.Errorf("racing lookup: %v, %v", es, err)
		}
	})
	for c.lookups.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := s.Delete(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	close(c.block)
	wg.Wait()
	c.block = nil
	if es, err := s.Lookup(context.Background(), "k"); err != nil || len(es) != 0 {
		t.Fatalf("after Delete, Lookup = %v, %v: a stale answer entered the memory tier", es, err)
	}
}

// A corrupt body in the durable store is refused, not copied into memory.
func TestCorruptBodyNotKept(t *testing.T) {
	s, _, d := newTest(t, 1<<20, 1<<20)
	e := put(t, s, entry("k", ""), string(make([]byte, 20_000)))
	s.mem.clear() // as after a restart
	var path string
	filepath.WalkDir(filepath.Join(d.Dir(), "bodies"), func(p string, de os.DirEntry, err error) error {
		if err == nil && de.Name() == e.ID {
			path = p
		}
		return nil
	})
	if path == "" {
		t.Skip("the body is not in a file of its own")
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{1}, 100)
	f.Close()
	if _, err := s.Open(t.Context(), "k", e.ID); !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("Open of a corrupt body: %v, want ErrCorrupt", err)
	}
	if _, ok := s.mem.body(e.ID); ok {
		t.Fatal("a corrupt body entered the memory tier")
	}
}

// The memory tier keeps to its budget.
func TestMemoryTierBudget(t *testing.T) {
	const budget = 64 << 10
	s, _, _ := newTest(t, 16<<20, budget)
	for i := range 100 {
		key := "k" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		put(t, s, entry(key, ""), string(make([]byte, 3000)))
		get(t, s, key)
		if _, b := s.MemStats(); b > budget {
			t.Fatalf("memory tier holds %d bytes over a %d budget", b, budget)
		}
	}
}

// Issue 14: a hot hit looked up into the caller's buffer allocates nothing
// and gives the same entries as Lookup.
func TestAppendLookupFromMemory(t *testing.T) {
	s, _, _ := newTest(t, 1<<20, 1<<20)
	want := put(t, s, entry("k", ""), "hot body")
	get(t, s, "k") // the first lookup after a commit reads the durable index
	var buf [1]store.Entry
	es, err := s.AppendLookup(t.Context(), buf[:0], "k")
	if err != nil || len(es) != 1 || es[0].ID != want.ID || &es[0] != &buf[0] {
		t.Fatalf("AppendLookup = %d entries, %v; want %s in the caller's array", len(es), err, want.ID)
	}
	ctx := t.Context()
	if n := testing.AllocsPerRun(100, func() { s.AppendLookup(ctx, buf[:0], "k") }); n != 0 {
		t.Errorf("a hot AppendLookup with room: %v allocations, want 0", n)
	}
	if es, err := s.AppendLookup(ctx, buf[:0], "none"); es != nil || err != nil {
		t.Errorf("AppendLookup of nothing = %v, %v", es, err)
	}
}

// Issue 14: an object refetched once it went stale (a commit replacing the
// variant memory lists) is answered from memory at the next lookup, list
// and body: the commit put its entry in the list instead of dropping it.
// A commit of another variant adds to the list (RFC 9111 §4.1).
func TestRefetchStaysInMemory(t *testing.T) {
	s, c, _ := newTest(t, 1<<20, 1<<20)
	put(t, s, entry("k", "gzip"), "v1")
	get(t, s, "k") // fills memory from the durable index
	newer := put(t, s, entry("k", "gzip"), "v2")
	other := put(t, s, entry("k", "br"), "other")
	l, o := c.lookups.Load(), c.opens.Load()
	es, err := s.Lookup(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, e := range es {
		ids[e.ID] = true
	}
	if len(es) != 2 || !ids[newer.ID] || !ids[other.ID] {
		t.Fatalf("Lookup after the commits = %d entries %v, want %s and %s", len(es), ids, newer.ID, other.ID)
	}
	for _, e := range []store.Entry{newer, other} {
		b, err := s.Open(t.Context(), "k", e.ID)
		if err != nil {
			t.Fatal(err)
		}
		b.Close()
	}
	if dl, do := c.lookups.Load()-l, c.opens.Load()-o; dl != 0 || do != 0 {
		t.Fatalf("hits after a refetch asked the durable store %d lookups and %d opens, want none", dl, do)
	}
}

// A commit that makes the durable store drop another variant (its variant
// bound) leaves that variant in memory's list; Liveness finds it gone and
// the lookup asks the durable store instead of listing it.
func TestCommitOverVariantBoundReachesTheMemoryTier(t *testing.T) {
	d, err := disk.Open(t.TempDir(), disk.Options{MaxVariants: 1, Fsync: disk.FsyncNone})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(d, Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	first := put(t, s, entry("k", "a"), "a")
	get(t, s, "k")
	second := put(t, s, entry("k", "b"), "b")
	es, err := s.Lookup(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].ID != second.ID {
		t.Fatalf("Lookup = %v, want only %s (the durable store dropped %s)", es, second.ID, first.ID)
	}
}

// Issue 14: by default a body past 256 KiB is left to the durable store,
// which sends it from its file with sendfile(2): for a hot 1 MiB body that
// took half the CPU of writing it from memory, and served 1.24 times the
// requests (bench/RESULTS.md). Every hit opens it there.
func TestLargeBodyLeftToTheDurableStore(t *testing.T) {
	s, c, _ := newTest(t, 64<<20, 0) // the default tier: 64 MiB, bodies up to 256 KiB
	body := strings.Repeat("0123456789abcdef", 1<<16)
	e := put(t, s, entry("big", ""), body)
	if d := coldOpensOf3Hits(t, s, c, "big", body); d != 3 {
		t.Fatalf("3 hits of a 1 MiB body opened it %d times in the durable store, want 3", d)
	}
	if _, ok := s.mem.body(e.ID); ok {
		t.Fatal("a 1 MiB body entered memory past the default MaxBodyBytes")
	}
}

// A tier told to keep larger bodies (Options.MaxBodyBytes) serves a hot
// 1 MiB body from memory like a small one: the writer does not copy it
// (writeKeepMax), its first Open reads it into memory, and later Opens do
// not reach the durable store.
func TestMegabyteBodyEntersMemoryAtFirstOpen(t *testing.T) {
	s, c, _ := newTestWith(t, 64<<20, Options{MaxBodyBytes: 4 << 20})
	body := strings.Repeat("0123456789abcdef", 1<<16)
	put(t, s, entry("big", ""), body)
	if _, ok := s.mem.body(entryIDOf(t, s, "big")); ok {
		t.Fatal("the writer kept a 1 MiB copy for memory; it keeps only up to writeKeepMax")
	}
	if _, got, ok := get(t, s, "big"); !ok || got != body {
		t.Fatalf("first hit: %d bytes, %v", len(got), ok)
	}
	if d := coldOpensOf3Hits(t, s, c, "big", body); d != 0 {
		t.Fatalf("3 hot hits of a 1 MiB body opened it %d times in the durable store, want 0", d)
	}
}

// coldOpensOf3Hits serves key three times, checking its body, and returns
// how many Opens reached the durable store meanwhile.
func coldOpensOf3Hits(t *testing.T, s *Store, c *counting, key, body string) int64 {
	t.Helper()
	o := c.opens.Load()
	for range 3 {
		if _, got, ok := get(t, s, key); !ok || got != body {
			t.Fatalf("hit: %d bytes, %v", len(got), ok)
		}
	}
	return c.opens.Load() - o
}

// While one Open reads a body into memory, another for the same body
// streams it from the durable store: concurrent first hits of a new large
// object hold one copy in memory, not one each.
func TestConcurrentFirstOpensHoldOneCopy(t *testing.T) {
	s, _, _ := newTestWith(t, 64<<20, Options{MaxBodyBytes: 4 << 20})
	body := strings.Repeat("x", 1<<20)
	e := put(t, s, entry("big", ""), body)
	if !s.startFill(e.ID) {
		t.Fatal("startFill: busy")
	}
	b, err := s.Open(t.Context(), "big", e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, fromMemory := b.(*reader); fromMemory {
		t.Fatal("an Open during another's fill read its own copy into memory")
	}
	got, err := io.ReadAll(b)
	b.Close()
	if err != nil || string(got) != body {
		t.Fatalf("streamed body: %d bytes, %v", len(got), err)
	}
	s.endFill(e.ID)
	if _, ok := s.mem.body(e.ID); ok {
		t.Fatal("the streamed Open filled memory")
	}
}

func entryIDOf(t *testing.T, s *Store, key string) string {
	t.Helper()
	es, err := s.Lookup(t.Context(), key)
	if err != nil || len(es) != 1 {
		t.Fatalf("Lookup(%q) = %d entries, %v", key, len(es), err)
	}
	return es[0].ID
}

// The memory tier passes a role claim to its durable store (RFC 9111
// §3.5): what records the role is the directory, which outlives it.
func TestClaimRoleReachesTheDurableStore(t *testing.T) {
	d, err := disk.Open(t.TempDir(), disk.Options{Fsync: disk.FsyncNone})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.ClaimRole(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	if err := d.ClaimRole(t.Context(), true); !errors.Is(err, store.ErrRole) {
		t.Fatalf("the durable store after the tier's private claim: %v, want ErrRole", err)
	}
}

// A refetch replaces its variant in the durable store; the body of the
// entry it replaced leaves memory with it, instead of staying until the
// budget pushes it out past bodies in use (under miss-10k, a key refetched
// every second or two kept five dead bodies in memory for each live one).
// A body whose entry the durable store dropped some other way leaves
// memory at its first Open.
func TestReplacedBodyLeavesMemory(t *testing.T) {
	s, _, d := newTest(t, 1<<20, 1<<20)
	first := put(t, s, entry("k", "gzip"), "v1")
	get(t, s, "k") // memory holds k's variants and v1's body
	other := put(t, s, entry("k", "br"), "other")
	newer := put(t, s, entry("k", "gzip"), "v2")
	inMemory := func(id string) bool {
		_, ok := s.mem.bodies[id]
		return ok
	}
	if inMemory(first.ID) {
		t.Error("the replaced entry's body is still in memory")
	}
	if !inMemory(newer.ID) || !inMemory(other.ID) {
		t.Error("the refetched body or the other variant's left memory with the replaced one")
	}
	if _, body, _ := get(t, s, "k"); body != "v2" && body != "other" {
		t.Errorf("a hit after the refetch read %q", body)
	}
	if err := d.Delete(t.Context(), "k"); err != nil { // behind the memory tier's back
		t.Fatal(err)
	}
	if b, err := s.Open(t.Context(), "k", other.ID); err == nil {
		b.Close()
		t.Fatal("a body the durable store dropped was served from memory")
	}
	if inMemory(other.ID) {
		t.Error("a body the durable store dropped stayed in memory after an Open")
	}
}
