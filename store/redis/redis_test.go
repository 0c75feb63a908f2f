package redis

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/redis/redistest"
)

func testEntry(key, variant string, tags ...string) store.Entry {
	return store.Entry{
		Key:     key,
		Variant: variant,
		Pair: spec.Pair{
			Request:  spec.Request{Method: http.MethodGet, Header: http.Header{"Accept": {"*/*"}}},
			Response: spec.Response{Status: http.StatusOK, Header: http.Header{"Etag": {`"x"`}}},
		},
		Tags:    tags,
		Expires: time.Now().Add(time.Hour),
	}
}

func put(t testing.TB, s *Store, e store.Entry, data []byte) store.Entry {
	t.Helper()
	w, err := s.Create(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	got, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func readAll(t testing.TB, s *Store, e store.Entry) ([]byte, error) {
	t.Helper()
	b, err := s.Open(context.Background(), e.Key, e.ID)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	return io.ReadAll(b)
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// keys lists the server's keys matching pattern.
func keys(t testing.TB, srv *redistest.Server, pattern string) []string {
	t.Helper()
	out, err := srv.Do("KEYS", pattern)
	if err != nil {
		t.Fatal(err)
	}
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

func pttl(t testing.TB, srv *redistest.Server, key string) time.Duration {
	t.Helper()
	out, err := srv.Do("PTTL", key)
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := strconv.ParseInt(out, 10, 64)
	return time.Duration(ms) * time.Millisecond
}

// TestLayout checks the keys an entry is made of, and their TTLs.
func TestLayout(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, []string{srv.Addr}, Options{Prefix: "lay:", ChunkSize: 1000})
	e := testEntry("https://example.com/a", "v", "t1")
	e.Expires = time.Now().Add(time.Hour)
	got := put(t, s, e, pattern(2500))

	h := hashTag(e.Key)
	meta := "lay:{" + h + "}:m"
	if d := pttl(t, srv, meta); d < 59*time.Minute || d > time.Hour {
		t.Errorf("PTTL(%s) = %v, want about an hour", meta, d)
	}
	for i := range 3 {
		k := "lay:{" + h + "}:b:" + got.ID + ":" + strconv.Itoa(i)
		if d := pttl(t, srv, k); d < 59*time.Minute || d > time.Hour {
			t.Errorf("PTTL(%s) = %v, want about an hour", k, d)
		}
	}
	if ks := keys(t, srv, "lay:{"+h+"}:b:*"); len(ks) != 3 {
		t.Errorf("chunk keys = %q, want 3", ks)
	}
	if m, _ := srv.Do("SMEMBERS", "lay:tag:t1"); m != e.Key {
		t.Errorf("tag set = %q, want %q", m, e.Key)
	}
	if d := pttl(t, srv, "lay:tag:t1"); d < 59*time.Minute {
		t.Errorf("tag set PTTL = %v", d)
	}
	// Standalone budget keys.
	if st, _ := srv.Do("HMGET", "lay:stat", "bytes", "entries"); st != "2500\n1" {
		t.Errorf("stat = %q", st)
	}
	if idx, _ := srv.Do("ZRANGE", "lay:idx", "0", "-1"); idx != e.Key {
		t.Errorf("idx = %q", idx)
	}

	// No Expires: DefaultTTL.
	e2 := testEntry("https://example.com/b", "")
	e2.Expires = time.Time{}
	put(t, s, e2, []byte("x"))
	if d := pttl(t, srv, s.metaKey(hashTag(e2.Key))); d < 23*time.Hour || d > DefaultTTL {
		t.Errorf("PTTL without Expires = %v, want DefaultTTL", d)
	}
}

// TestWriterStreams checks that chunks are stored as they fill, under the
// pending TTL, invisible until Commit, and that Abort removes them.
func TestWriterStreams(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, []string{srv.Addr}, Options{ChunkSize: 100, PendingTTL: time.Minute})
	e := testEntry("https://example.com/stream", "")
	w, err := s.Create(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	wr := w.(*writer)
	pat := s.opts.Prefix + "{" + hashTag(e.Key) + "}:b:*"
	if _, err := w.Write(pattern(250)); err != nil {
		t.Fatal(err)
	}
	ks := keys(t, srv, pat)
	if len(ks) != 2 {
		t.Fatalf("after 250 bytes in chunks of 100, chunk keys = %q, want 2", ks)
	}
	if len(wr.buf) != 50 || cap(wr.buf) > 100 {
		t.Errorf("writer buffers %d bytes (cap %d), want 50 (cap ≤ 100)", len(wr.buf), cap(wr.buf))
	}
	for _, k := range ks {
		if d := pttl(t, srv, k); d <= 0 || d > time.Minute {
			t.Errorf("pending chunk %s PTTL = %v, want ≤ 1m", k, d)
		}
	}
	if es, _ := s.Lookup(context.Background(), e.Key); len(es) != 0 {
		t.Fatal("entry visible before Commit")
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if ks := keys(t, srv, pat); len(ks) != 0 {
		t.Fatalf("after Abort, chunk keys = %q", ks)
	}
}

// TestCancelDeletesChunks checks that cancelling the Create context deletes
// the chunks without a further call on the writer.
func TestCancelDeletesChunks(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, []string{srv.Addr}, Options{ChunkSize: 10})
	e := testEntry("https://example.com/cancel", "")
	ctx, cancel := context.WithCancel(context.Background())
	w, err := s.Create(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(pattern(35)); err != nil {
		t.Fatal(err)
	}
	pat := s.opts.Prefix + "{" + hashTag(e.Key) + "}:b:*"
	if n := len(keys(t, srv, pat)); n != 3 {
		t.Fatalf("%d chunks written, want 3", n)
	}
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for len(keys(t, srv, pat)) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("chunks still there after the context was cancelled")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := w.Commit(); err == nil {
		t.Fatal("Commit after cancel succeeded")
	}
}

// TestPendingChunksExpire: a writer that stalls past PendingTTL cannot
// commit a body whose chunks expired.
func TestPendingChunksExpire(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, []string{srv.Addr}, Options{ChunkSize: 10, PendingTTL: 50 * time.Millisecond})
	w, err := s.Create(context.Background(), testEntry("https://example.com/stall", ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(pattern(20)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	if _, err := w.Commit(); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("Commit after the chunks expired = %v, want an error", err)
	}
	if es, _ := s.Lookup(context.Background(), "https://example.com/stall"); len(es) != 0 {
		t.Fatal("entry visible")
	}
}

// TestReplaceKeepsOldBodyReadable: a body opened before its entry was
// replaced stays readable for the grace period, then vanishes.
func TestReplaceKeepsOldBodyReadable(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, []string{srv.Addr}, Options{ChunkSize: 100, Grace: 300 * time.Millisecond})
	e := testEntry("https://example.com/replace", "")
	old := put(t, s, e, pattern(250))
	b, err := s.Open(context.Background(), e.Key, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	put(t, s, e, []byte("new"))
	if _, err := s.Open(context.Background(), e.Key, old.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Open of the replaced version = %v, want ErrNotFound", err)
	}
	got, err := io.ReadAll(b)
	if err != nil || !bytes.Equal(got, pattern(250)) {
		t.Fatalf("reading the replaced body within grace: %d bytes, %v", len(got), err)
	}
	time.Sleep(400 * time.Millisecond)
	if _, err := b.ReadAt(make([]byte, 10), 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ReadAt after grace = %v, want ErrNotFound", err)
	}
	if ks := keys(t, srv, s.opts.Prefix+"{*}:b:"+old.ID+":*"); len(ks) != 0 {
		t.Fatalf("old chunks still there after grace: %q", ks)
	}
}

// TestReadAt reads ranges across chunk boundaries.
func TestReadAt(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, []string{srv.Addr}, Options{ChunkSize: 64})
	data := pattern(1000)
	e := put(t, s, testEntry("https://example.com/range", ""), data)
	b, err := s.Open(context.Background(), e.Key, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Size() != 1000 {
		t.Fatalf("Size = %d", b.Size())
	}
	for _, c := range []struct{ off, n int }{{0, 1}, {0, 64}, {63, 2}, {100, 300}, {960, 40}, {999, 1}, {0, 1000}} {
		p := make([]byte, c.n)
		n, err := b.ReadAt(p, int64(c.off))
		if err != nil || n != c.n || !bytes.Equal(p, data[c.off:c.off+c.n]) {
			t.Errorf("ReadAt(%d, %d) = %d, %v", c.off, c.n, n, err)
		}
	}
	p := make([]byte, 50)
	if n, err := b.ReadAt(p, 980); n != 20 || err != io.EOF || !bytes.Equal(p[:20], data[980:]) {
		t.Errorf("ReadAt past the end = %d, %v", n, err)
	}
	if _, err := b.ReadAt(p, 1000); err != io.EOF {
		t.Errorf("ReadAt at the end = %v", err)
	}
}

// TestCorruptChunk: bytes changed behind the store's back fail the checksum
// at the end of a full read, and the entry is dropped.
func TestCorruptChunk(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, []string{srv.Addr}, Options{ChunkSize: 100})
	e := put(t, s, testEntry("https://example.com/corrupt", ""), pattern(250))
	k := s.chunkKey(hashTag(e.Key), e.ID, 1)
	if _, err := srv.Do("SETRANGE", k, "5", "X"); err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(t, s, e); !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("reading a corrupt body = %v, want ErrCorrupt", err)
	}
	if es, _ := s.Lookup(context.Background(), e.Key); len(es) != 0 {
		t.Fatal("the corrupt entry is still stored")
	}

	// A truncated chunk is caught when it is fetched.
	e = put(t, s, testEntry("https://example.com/short", ""), pattern(250))
	if _, err := srv.Do("SET", s.chunkKey(hashTag(e.Key), e.ID, 0), "short"); err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(t, s, e); !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("reading a truncated chunk = %v, want ErrCorrupt", err)
	}
}

// TestVanishedChunk: a chunk the server evicted makes reads fail with
// ErrNotFound.
func TestVanishedChunk(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, []string{srv.Addr}, Options{ChunkSize: 100})
	e := put(t, s, testEntry("https://example.com/vanish", ""), pattern(250))
	if _, err := srv.Do("DEL", s.chunkKey(hashTag(e.Key), e.ID, 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(t, s, e); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("reading with a chunk gone = %v, want ErrNotFound", err)
	}
	b, err := s.Open(context.Background(), e.Key, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.ReadAt(make([]byte, 10), 210); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ReadAt of a chunk gone = %v, want ErrNotFound", err)
	}
}

// TestLRUEviction: the commit that overflows the budget evicts the least
// recently looked-up keys first, and the counters follow.
func TestLRUEviction(t *testing.T) {
	srv := redistest.Start(t)
	clock := time.Now()
	s := newTestStore(t, []string{srv.Addr}, Options{
		MaxBytes: 1000,
		Now:      func() time.Time { clock = clock.Add(time.Millisecond); return clock },
	})
	key := func(i int) string { return "https://example.com/lru/" + strconv.Itoa(i) }
	for i := range 4 {
		put(t, s, testEntry(key(i), ""), pattern(250))
	}
	// Touch 0; 1 is now the least recently used.
	if es, _ := s.Lookup(context.Background(), key(0)); len(es) != 1 {
		t.Fatal("key 0 missing")
	}
	put(t, s, testEntry(key(4), ""), pattern(250))
	for i, want := range []bool{true, false, true, true, true} {
		es, err := s.Lookup(context.Background(), key(i))
		if err != nil {
			t.Fatal(err)
		}
		if (len(es) == 1) != want {
			t.Errorf("key %d stored = %v, want %v", i, len(es) == 1, want)
		}
	}
	st := s.Stats()
	if st.Bytes != 1000 || st.Entries != 4 || st.Evictions != 1 {
		t.Errorf("Stats = %+v, want 1000 bytes, 4 entries, 1 eviction", st)
	}
	if idx, _ := srv.Do("ZCARD", s.opts.Prefix+"idx"); idx != "4" {
		t.Errorf("idx has %s members, want 4", idx)
	}
}

// TestExpiredKeyReconciled: when Redis expires a whole meta hash, the
// budget forgets it at the next lookup.
func TestExpiredKeyReconciled(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, []string{srv.Addr}, Options{})
	e := testEntry("https://example.com/expire", "")
	put(t, s, e, pattern(100))
	if _, err := srv.Do("DEL", s.metaKey(hashTag(e.Key))); err != nil { // as an expiry would
		t.Fatal(err)
	}
	if es, _ := s.Lookup(context.Background(), e.Key); len(es) != 0 {
		t.Fatal("entry still found")
	}
	if st := s.Stats(); st.Bytes != 0 || st.Entries != 0 || st.Evictions != 1 {
		t.Errorf("Stats = %+v, want nothing counted and one eviction", st)
	}
	if n, _ := srv.Do("ZCARD", s.opts.Prefix+"lru"); n != "0" {
		t.Errorf("lru still has %s members", n)
	}
}

// TestPurgeTagRace: an entry committed under a tag while the tag is being
// purged is either purged or still findable by the next purge.
func TestPurgeTagRace(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, []string{srv.Addr}, Options{})
	ctx := context.Background()
	for i := range 50 {
		put(t, s, testEntry("https://example.com/tagged/"+strconv.Itoa(i), "", "T"), []byte("x"))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 50 {
			put(t, s, testEntry("https://example.com/late/"+strconv.Itoa(i), "", "T"), []byte("y"))
		}
	}()
	n1, err := s.PurgeTag(ctx, "T")
	if err != nil {
		t.Fatal(err)
	}
	<-done
	n2, err := s.PurgeTag(ctx, "T")
	if err != nil {
		t.Fatal(err)
	}
	if n1+n2 != 100 {
		t.Fatalf("two purges removed %d + %d entries, want 100", n1, n2)
	}
	if err := s.Iterate(ctx, func(e store.Entry) bool { t.Errorf("left: %s", e.Key); return true }); err != nil {
		t.Fatal(err)
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	e := testEntry("https://example.com/h", "v", "a", "b c", "d:e\n", "")
	e.ID, e.Size, e.Checksum = "0123456789abcdef", 12345, 99
	e.Pair.ID = e.ID
	hd := header{id: e.ID, chunkSize: 1000, chunks: 13, size: 12345, deadline: 1700000000000}
	v := encodeValue(hd, e)
	got, ge, err := decodeValue(v)
	if err != nil {
		t.Fatal(err)
	}
	if got != hd || ge.Key != e.Key || len(ge.Tags) != 4 || ge.Tags[2] != "d:e\n" || ge.Tags[3] != "" {
		t.Fatalf("round trip: %+v %+v", got, ge)
	}
	for _, bad := range []string{"", "C1 ", "C2 x 1 1 1 1 0 \n", "C1 x 1 1 1 1 2 3:ab\n", "C1 x 0 1 1 1 0 \n", v[:20]} {
		if _, _, err := decodeValue(bad); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("decodeValue(%q) = %v, want ErrCorrupt", bad, err)
		}
	}
}

func TestSuccessorAndGlob(t *testing.T) {
	for in, want := range map[string]string{"a": "b", "ab": "ac", "a\xff": "b", "https://x/": "https://x0"} {
		if got, ok := successor(in); !ok || got != want {
			t.Errorf("successor(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if _, ok := successor("\xff\xff"); ok {
		t.Error("successor of all 0xff exists")
	}
	if got := globEscape(`a*b?[c]\`); got != `a\*b\?\[c\]\\` {
		t.Errorf("globEscape = %q", got)
	}
}

// TestObserveOrder: replies applied out of order keep the latest state; a
// census sent after a view was stored replaces it even with a lower
// sequence number (the server was reset), an older census does not.
func TestObserveOrder(t *testing.T) {
	s := &Store{views: make([]baseView, 1)}
	check := func(what string, bytes, entries int64) {
		t.Helper()
		if st := s.Stats(); st.Bytes != bytes || st.Entries != entries {
			t.Fatalf("%s: Stats = %+v, want %d bytes, %d entries", what, st, bytes, entries)
		}
	}
	s.observe(0, 2, 200, 2, false, 0)
	s.observe(0, 1, 100, 1, false, 0) // late reply
	check("after a late reply", 200, 2)
	s.mu.Lock()
	stale := s.gen // a census sent before the next reply
	s.mu.Unlock()
	s.observe(0, 3, 300, 3, false, 0)
	s.observe(0, 2, 200, 2, true, stale)
	check("after a stale census", 300, 3)
	s.mu.Lock()
	sent := s.gen + 1
	s.mu.Unlock()
	s.observe(0, 1, 10, 1, true, sent) // the server restarted empty
	check("after a reset", 10, 1)
	s.observe(0, 2, 20, 2, false, 0)
	check("counting anew", 20, 2)
}
