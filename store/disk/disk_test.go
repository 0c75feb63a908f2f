package disk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
)

// openTest opens a store in a fresh temporary directory.
func openTest(t testing.TB, opts Options) *Store {
	t.Helper()
	return openDir(t, t.TempDir(), opts)
}

func openDir(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func reopen(t testing.TB, s *Store) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return openDir(t, s.dir, s.opts)
}

func testEntry(key, variant string, tags ...string) store.Entry {
	return store.Entry{
		Key:     key,
		Variant: variant,
		Pair: spec.Pair{
			Request: spec.Request{Method: "GET", Header: http.Header{"Accept-Encoding": {variant}}},
			Response: spec.Response{
				Status:       200,
				Header:       http.Header{"Cache-Control": {"max-age=60"}, "Content-Type": {"text/plain"}},
				RequestTime:  time.Unix(1_700_000_000, 0).UTC(),
				ResponseTime: time.Unix(1_700_000_001, 0).UTC(),
			},
		},
		Tags: tags,
	}
}

func put(t testing.TB, s *Store, e store.Entry, body []byte) store.Entry {
	t.Helper()
	w, err := s.Create(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(body); err != nil {
		t.Fatal(err)
	}
	got, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func lookup(t testing.TB, s *Store, key string) []store.Entry {
	t.Helper()
	es, err := s.Lookup(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func readAll(t testing.TB, s *Store, key, id string) []byte {
	t.Helper()
	b, err := s.Open(context.Background(), key, id)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	data, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func crc(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// fileBodies is how many entries keep their body in a file (not inline).
func fileBodies(s *Store) int {
	s.idx.mu.Lock()
	defer s.idx.mu.Unlock()
	n := 0
	for _, p := range s.idx.byID {
		if !p.inline {
			n++
		}
	}
	return n
}

// files lists the regular files under dir/sub, relative to dir.
func files(t testing.TB, dir, sub string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(dir, sub), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	s := openTest(t, Options{})
	body := bytes.Repeat([]byte("cellar "), 10000)
	e := put(t, s, testEntry("https://example.com/a", "gzip", "t1"), body)
	if e.Size != int64(len(body)) || e.Checksum != crc(body) || !validID(e.ID) || e.Pair.ID != e.ID {
		t.Fatalf("committed entry: size %d crc %x id %q pair id %q", e.Size, e.Checksum, e.ID, e.Pair.ID)
	}
	es := lookup(t, s, "https://example.com/a")
	if len(es) != 1 || es[0].ID != e.ID || es[0].Pair.Response.Header.Get("Cache-Control") != "max-age=60" || es[0].Tags[0] != "t1" {
		t.Fatalf("lookup: %+v", es)
	}
	if got := readAll(t, s, e.Key, e.ID); !bytes.Equal(got, body) {
		t.Fatal("body differs")
	}
	// A range read.
	b, _ := s.Open(context.Background(), e.Key, e.ID)
	defer b.Close()
	p := make([]byte, 10)
	if n, err := b.ReadAt(p, int64(len(body))-5); n != 5 || err != io.EOF || string(p[:5]) != "llar " {
		t.Fatalf("ReadAt at end: %d %v %q", n, err, p[:n])
	}
	// Open with the wrong key or an unknown ID.
	for _, kid := range [][2]string{{"https://example.com/b", e.ID}, {e.Key, newID()}, {e.Key, "../../index.db"}} {
		if _, err := s.Open(context.Background(), kid[0], kid[1]); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Open(%q, %q) = %v, want ErrNotFound", kid[0], kid[1], err)
		}
	}
	if es := lookup(t, s, "https://example.com/"); len(es) != 0 {
		t.Fatal("prefix of a key must not match")
	}
	st := s.Stats()
	if st.Entries != 1 || st.Bytes <= int64(len(body)) || st.Hits != 1 || st.Misses != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReplaceKeepsOpenReader(t *testing.T) {
	s := openTest(t, Options{InlineMax: -1})
	old := put(t, s, testEntry("k", "v"), []byte("old body"))
	other := put(t, s, testEntry("k", "w"), []byte("other variant"))
	b, err := s.Open(context.Background(), "k", old.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	nw := put(t, s, testEntry("k", "v"), []byte("new body!"))
	if _, err := s.Open(context.Background(), "k", old.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old version: %v", err)
	}
	if got, err := io.ReadAll(b); err != nil || string(got) != "old body" {
		t.Fatalf("reader of replaced body: %q %v", got, err)
	}
	es := lookup(t, s, "k")
	ids := map[string]bool{}
	for _, e := range es {
		ids[e.ID] = true
	}
	if len(es) != 2 || !ids[nw.ID] || !ids[other.ID] {
		t.Fatalf("variants after replace: %+v", es)
	}
	if n := len(files(t, s.dir, "bodies")); n != 2 {
		t.Fatalf("%d body files, want 2", n)
	}
}

func TestAbortAndCancel(t *testing.T) {
	s := openTest(t, Options{})
	w, _ := s.Create(context.Background(), testEntry("a", ""))
	w.Write([]byte("x"))
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	if _, err := w.Commit(); err == nil {
		t.Fatal("Commit after Abort succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	w, _ = s.Create(ctx, testEntry("b", ""))
	w.Write([]byte("y"))
	cancel()
	if _, err := w.Commit(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Commit after cancel: %v", err)
	}
	if len(lookup(t, s, "a"))+len(lookup(t, s, "b")) != 0 {
		t.Fatal("aborted entries visible")
	}
	if f := files(t, s.dir, "tmp"); len(f) != 0 {
		t.Fatalf("tmp not empty: %v", f)
	}
}

func TestEvictionLRU(t *testing.T) {
	s := openTest(t, Options{MaxBytes: 40_000, InlineMax: -1})
	body := make([]byte, 9_000)
	var es []store.Entry
	for i := range 4 {
		es = append(es, put(t, s, testEntry(fmt.Sprint("k", i), ""), body))
	}
	// Use k0, so k1 is now the least recent.
	readAll(t, s, "k0", es[0].ID)
	put(t, s, testEntry("k4", ""), body)
	if len(lookup(t, s, "k1")) != 0 || len(lookup(t, s, "k0")) != 1 {
		t.Fatal("LRU did not evict k1")
	}
	st := s.Stats()
	if st.Bytes > 40_000 || st.Evictions != 1 || st.Entries != 4 {
		t.Fatalf("stats %+v", st)
	}
	if n := len(files(t, s.dir, "bodies")); n != 4 {
		t.Fatalf("%d body files, want 4", n)
	}
	// Too large for the whole budget.
	w, _ := s.Create(context.Background(), testEntry("big", ""))
	if _, err := w.Write(make([]byte, 50_000)); !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("oversized write: %v", err)
	}
	if _, err := w.Commit(); !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("oversized commit: %v", err)
	}
	if f := files(t, s.dir, "tmp"); len(f) != 0 {
		t.Fatalf("tmp not empty: %v", f)
	}
	// A smaller budget on reopen evicts down to it.
	s.opts.MaxBytes = 20_000
	s = reopen(t, s)
	if st := s.Stats(); st.Bytes > 20_000 || st.Entries != 2 {
		t.Fatalf("after shrinking: %+v", st)
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestExpiry(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	s := openTest(t, Options{Clock: clk.now, SweepInterval: 10 * time.Millisecond, InlineMax: -1})
	e := testEntry("k", "a")
	e.Expires = clk.now().Add(time.Minute)
	put(t, s, e, []byte("a"))
	e.Variant, e.Expires = "b", clk.now().Add(time.Hour)
	keep := put(t, s, e, []byte("b"))
	e.Variant, e.Expires = "c", time.Time{}
	put(t, s, e, []byte("c"))
	clk.add(2 * time.Minute)
	if es := lookup(t, s, "k"); len(es) != 2 {
		t.Fatalf("lookup after expiry: %d entries", len(es))
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Entries != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("expired entry not swept: %+v", s.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if s.Stats().Evictions != 1 || len(files(t, s.dir, "bodies")) != 2 {
		t.Fatalf("after sweep: %+v", s.Stats())
	}
	// Update extends the horizon without touching the body.
	keep.Expires = clk.now().Add(10 * time.Hour)
	keep.Pair.Response.Header = http.Header{"Etag": {`"2"`}}
	if err := s.Update(context.Background(), "k", []store.Entry{keep, {ID: newID()}}); err != nil {
		t.Fatal(err)
	}
	clk.add(2 * time.Hour)
	es := lookup(t, s, "k")
	if len(es) != 2 {
		t.Fatalf("after update: %d entries", len(es))
	}
	for _, got := range es {
		if got.ID == keep.ID && (got.Pair.Response.Header.Get("Etag") != `"2"` || !got.Expires.Equal(keep.Expires) || got.Checksum != crc([]byte("b"))) {
			t.Fatalf("updated entry: %+v", got)
		}
	}
	if string(readAll(t, s, "k", keep.ID)) != "b" {
		t.Fatal("body changed by Update")
	}
}

func TestPurgeAndDelete(t *testing.T) {
	s := openTest(t, Options{})
	put(t, s, testEntry("https://a.example/x", "1", "red", "blue"), []byte("1"))
	put(t, s, testEntry("https://a.example/x", "2", "red"), []byte("2"))
	put(t, s, testEntry("https://a.example/y", "", "blue"), []byte("3"))
	put(t, s, testEntry("https://b.example/z", "", "red\x00green"), []byte("4"))
	put(t, s, testEntry("nul\x00key", "v\x00", "red"), []byte("5"))
	put(t, s, testEntry("nul", "v"), []byte("6"))
	if es := lookup(t, s, "nul\x00key"); len(es) != 1 || es[0].Variant != "v\x00" || es[0].Key != "nul\x00key" {
		t.Fatalf("NUL key: %+v", es)
	}
	if es := lookup(t, s, "nul"); len(es) != 1 {
		t.Fatalf("key that prefixes a NUL key: %d entries", len(es))
	}
	// Replacing drops the old version's tags.
	put(t, s, testEntry("https://a.example/y", "", "green"), []byte("3'"))
	if n, err := s.PurgeTag(context.Background(), "blue"); err != nil || n != 1 {
		t.Fatalf("PurgeTag(blue) = %d, %v", n, err)
	}
	if n, err := s.PurgeTag(context.Background(), "red"); err != nil || n != 2 {
		t.Fatalf("PurgeTag(red) = %d, %v", n, err)
	}
	if len(lookup(t, s, "https://a.example/x")) != 0 || len(lookup(t, s, "https://a.example/y")) != 1 {
		t.Fatal("wrong entries purged by tag")
	}
	if n, err := s.PurgePrefix(context.Background(), "https://"); err != nil || n != 2 {
		t.Fatalf("PurgePrefix = %d, %v", n, err)
	}
	if err := s.Delete(context.Background(), "nul"); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Entries != 0 || st.Bytes != 0 {
		t.Fatalf("stats after purging all: %+v", st)
	}
	if f := files(t, s.dir, "bodies"); len(f) != 0 {
		t.Fatalf("bodies left: %v", f)
	}
}

func TestIterate(t *testing.T) {
	s := openTest(t, Options{Fsync: FsyncNone})
	const n = iterateBatch*2 + 7
	for i := range n {
		put(t, s, testEntry(fmt.Sprintf("k%04d", i), ""), []byte{byte(i)})
	}
	seen := map[string]bool{}
	err := s.Iterate(context.Background(), func(e store.Entry) bool {
		if seen[e.Key] {
			t.Errorf("%s seen twice", e.Key)
		}
		seen[e.Key] = true
		// fn may call the store.
		if e.Key == "k0003" {
			if err := s.Delete(context.Background(), "k0400"); err != nil {
				t.Error(err)
			}
		}
		return true
	})
	if err != nil || len(seen) != n-1 {
		t.Fatalf("Iterate saw %d of %d: %v", len(seen), n-1, err)
	}
	count := 0
	s.Iterate(context.Background(), func(store.Entry) bool { count++; return count < 3 })
	if count != 3 {
		t.Fatalf("Iterate did not stop: %d", count)
	}
}

func TestCorruptBody(t *testing.T) {
	s := openTest(t, Options{InlineMax: -1})
	body := bytes.Repeat([]byte("0123456789"), 1000)
	e := put(t, s, testEntry("k", ""), body)
	path := s.bodyPath(e.ID)
	bad := bytes.Clone(body)
	bad[5000] ^= 1
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := s.Open(context.Background(), "k", e.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(b)
	b.Close()
	if !errors.Is(err, store.ErrCorrupt) || len(got) != len(body) {
		t.Fatalf("read of corrupt body: %d bytes, %v", len(got), err)
	}
	if len(lookup(t, s, "k")) != 0 {
		t.Fatal("corrupt entry still listed")
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("corrupt body file left: %v", err)
	}

	// A file truncated under an open store.
	e = put(t, s, testEntry("k2", ""), body)
	if err := os.Truncate(s.bodyPath(e.ID), 100); err != nil {
		t.Fatal(err)
	}
	b, _ = s.Open(context.Background(), "k2", e.ID)
	got, err = io.ReadAll(b)
	b.Close()
	if !errors.Is(err, store.ErrCorrupt) || len(got) != 100 {
		t.Fatalf("read of truncated body: %d bytes, %v", len(got), err)
	}
}

func TestRecoveryAtOpen(t *testing.T) {
	s := openTest(t, Options{InlineMax: -1})
	keep := put(t, s, testEntry("keep", "", "t"), []byte("kept body"))
	short := put(t, s, testEntry("short", "", "t"), []byte("will be truncated"))
	missing := put(t, s, testEntry("missing", "", "t"), []byte("will be removed"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// What a crash leaves: a half-written temp body, an orphan that was
	// renamed but never indexed, a body that lost its tail, one that vanished.
	orphan := newID()
	os.WriteFile(filepath.Join(s.dir, "tmp", newID()), []byte("partial"), 0o600)
	os.WriteFile(s.bodyPath(orphan), []byte("orphan"), 0o600)
	os.Truncate(s.bodyPath(short.ID), 3)
	os.Remove(s.bodyPath(missing.ID))

	s = openDir(t, s.dir, s.opts)
	if f := files(t, s.dir, "tmp"); len(f) != 0 {
		t.Fatalf("tmp not swept: %v", f)
	}
	if f := files(t, s.dir, "bodies"); len(f) != 1 || !strings.HasSuffix(f[0], keep.ID) {
		t.Fatalf("bodies after recovery: %v", f)
	}
	if len(lookup(t, s, "short"))+len(lookup(t, s, "missing")) != 0 || len(lookup(t, s, "keep")) != 1 {
		t.Fatal("wrong entries after recovery")
	}
	if n, err := s.PurgeTag(context.Background(), "t"); n != 1 || err != nil {
		t.Fatalf("PurgeTag after recovery = %d, %v", n, err)
	}
	if st := s.Stats(); st.Entries != 0 || st.Bytes != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDamagedIndexStartsEmpty(t *testing.T) {
	s := openTest(t, Options{})
	put(t, s, testEntry("k", ""), bytes.Repeat([]byte("body"), 10_000))
	s.Close()
	for _, seg := range segmentFiles(t, s.dir) {
		if err := os.WriteFile(seg, bytes.Repeat([]byte("garbage!"), 4096), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s = openDir(t, s.dir, s.opts)
	if len(lookup(t, s, "k")) != 0 || len(files(t, s.dir, "bodies")) != 0 {
		t.Fatal("damaged store not discarded")
	}
	put(t, s, testEntry("k", ""), []byte("body"))
}

func TestReopenKeepsEntries(t *testing.T) {
	for _, f := range []Fsync{FsyncNone, FsyncIndex, FsyncAlways} {
		t.Run(f.String(), func(t *testing.T) {
			s := openTest(t, Options{Fsync: f})
			e := testEntry("k", "v", "tag")
			e.Expires = time.Now().Add(time.Hour).Round(0)
			want := put(t, s, e, []byte("durable"))
			s = reopen(t, s)
			es := lookup(t, s, "k")
			if len(es) != 1 || es[0].ID != want.ID || !es[0].Expires.Equal(e.Expires) || es[0].Tags[0] != "tag" {
				t.Fatalf("after reopen: %+v", es)
			}
			if string(readAll(t, s, "k", want.ID)) != "durable" {
				t.Fatal("body differs after reopen")
			}
			if st := s.Stats(); st.Entries != 1 || st.Bytes == 0 {
				t.Fatalf("stats after reopen: %+v", st)
			}
		})
	}
}

func TestSecondOpenFails(t *testing.T) {
	s := openTest(t, Options{})
	_, err := Open(s.dir, Options{LockTimeout: 20 * time.Millisecond})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), s.dir+" is in use by another process") {
		t.Fatalf("second Open: %v", err)
	}
	s.Close()
	s2 := openDir(t, s.dir, Options{})
	s2.Close()
}

func TestClosed(t *testing.T) {
	s := openTest(t, Options{})
	e := put(t, s, testEntry("k", ""), []byte("still readable"))
	b, _ := s.Open(context.Background(), "k", e.ID)
	w, _ := s.Create(context.Background(), testEntry("late", ""))
	w.Write([]byte("late"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if got, err := io.ReadAll(b); err != nil || string(got) != "still readable" {
		t.Fatalf("body after Close: %q %v", got, err)
	}
	b.Close()
	if _, err := w.Commit(); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Commit after Close: %v", err)
	}
	ctx := context.Background()
	checks := map[string]error{}
	_, checks["Lookup"] = s.Lookup(ctx, "k")
	_, checks["Open"] = s.Open(ctx, "k", e.ID)
	_, checks["Create"] = s.Create(ctx, testEntry("x", ""))
	checks["Update"] = s.Update(ctx, "k", []store.Entry{e})
	checks["Delete"] = s.Delete(ctx, "k")
	_, checks["PurgeTag"] = s.PurgeTag(ctx, "t")
	_, checks["PurgePrefix"] = s.PurgePrefix(ctx, "")
	checks["Iterate"] = s.Iterate(ctx, func(store.Entry) bool { return true })
	for op, err := range checks {
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: %v", op, err)
		}
	}
}

// failingFile fails every write once limit bytes have been written, as a
// full disk does.
type failingFile struct {
	*os.File
	limit int
	err   error
}

func (f *failingFile) Write(p []byte) (int, error) {
	if len(p) > f.limit {
		n, _ := f.File.Write(p[:f.limit])
		f.limit = 0
		return n, f.err
	}
	f.limit -= len(p)
	return f.File.Write(p)
}

func TestWriteErrorAbortsWrite(t *testing.T) {
	s := openTest(t, Options{})
	create := s.createFile
	s.createFile = func(path string) (bodyFile, error) {
		f, err := create(path)
		if err != nil {
			return nil, err
		}
		return &failingFile{File: f.(*os.File), limit: 100_000, err: fmt.Errorf("write %s: %w", path, errNoSpace)}, nil
	}
	w, err := s.Create(context.Background(), testEntry("k", ""))
	if err != nil {
		t.Fatal(err)
	}
	// Writes are buffered: the error surfaces on a later Write.
	var werr error
	for i := 0; i < 500 && werr == nil; i++ {
		_, werr = w.Write(make([]byte, 600))
	}
	if !errors.Is(werr, errNoSpace) {
		t.Fatalf("write past the limit: %v", werr)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, errNoSpace) {
		t.Fatalf("write after failure: %v", err)
	}
	if _, err := w.Commit(); !errors.Is(err, errNoSpace) {
		t.Fatalf("Commit after failure: %v", err)
	}
	w.Abort()
	if f := files(t, s.dir, "tmp"); len(f) != 0 {
		t.Fatalf("tmp not cleaned: %v", f)
	}
	s.createFile = create
	e := put(t, s, testEntry("k", ""), []byte("fine"))
	if string(readAll(t, s, "k", e.ID)) != "fine" {
		t.Fatal("store did not carry on")
	}
}

func TestFsyncText(t *testing.T) {
	for _, f := range []Fsync{FsyncInterval, FsyncIndex, FsyncNone, FsyncAlways} {
		b, err := f.MarshalText()
		var g Fsync
		if err != nil || g.UnmarshalText(b) != nil || g != f {
			t.Errorf("%v: round trip gave %v (%v)", f, g, err)
		}
	}
	var g Fsync
	if g.UnmarshalText([]byte("sometimes")) == nil {
		t.Error("unknown policy accepted")
	}
	if _, err := Open(t.TempDir(), Options{Fsync: 7}); err == nil {
		t.Error("Open accepted an unknown policy")
	}
}

// TestConcurrentChurn runs writers, readers and purgers against a small
// budget, then checks that memory, index and files still agree.
func TestConcurrentChurn(t *testing.T) {
	const budget = 256 << 10
	s := openTest(t, Options{MaxBytes: budget, Fsync: FsyncNone, SweepInterval: time.Millisecond})
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 150 {
				key := fmt.Sprint("k", (i*7+g)%40)
				switch i % 10 {
				case 0:
					s.Delete(ctx, key)
				case 1:
					s.PurgeTag(ctx, fmt.Sprint("t", g))
				case 2:
					s.PurgePrefix(ctx, "k3")
				default:
					e := testEntry(key, fmt.Sprint(i%3), fmt.Sprint("t", g))
					if i%4 == 0 {
						e.Expires = time.Now().Add(time.Millisecond)
					}
					body := bytes.Repeat([]byte{byte(i)}, 1000*(i%20))
					w, err := s.Create(ctx, e)
					if err != nil {
						t.Error(err)
						return
					}
					w.Write(body)
					if _, err := w.Commit(); err != nil {
						t.Error(err)
						return
					}
				}
				es, err := s.Lookup(ctx, key)
				if err != nil {
					t.Error(err)
					return
				}
				for _, e := range es {
					b, err := s.Open(ctx, key, e.ID)
					if errors.Is(err, store.ErrNotFound) {
						continue // removed since the lookup
					}
					if err != nil {
						t.Error(err)
						return
					}
					data, err := io.ReadAll(b)
					b.Close()
					if err != nil || int64(len(data)) != e.Size || crc(data) != e.Checksum {
						t.Errorf("%s/%s: %d bytes, %v", key, e.Variant, len(data), err)
					}
				}
			}
		}()
	}
	wg.Wait()
	// Let the sweeper remove what has expired (everything that expires does
	// so within a millisecond), then check at rest.
	deadline := time.Now().Add(10 * time.Second)
	for len(s.idx.expiredBefore(time.Now().UnixNano())) > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // for a sweep in progress and its unlinks
	st := s.Stats()
	var n, total int64
	s.Iterate(ctx, func(e store.Entry) bool { n++; return true })
	s.idx.mu.Lock()
	for p := s.idx.root.next; p != &s.idx.root; p = p.next {
		total += p.cost
	}
	s.idx.mu.Unlock()
	if st.Bytes > budget || st.Bytes != total {
		t.Errorf("bytes %d, budget %d, sum of costs %d", st.Bytes, budget, total)
	}
	if files := len(files(t, s.dir, "bodies")); files != fileBodies(s) || n != st.Entries {
		t.Errorf("%d files, %d entries, %d iterated", files, st.Entries, n)
	}
	if st.Evictions == 0 {
		t.Error("no evictions under a small budget")
	}
}

// segmentFiles returns the paths of the log's segments, oldest first.
func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "log", "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

// A frame damaged in the middle of the log (its CRC no longer matches, a
// good frame follows) is never served, and neither is any entry recorded
// before it: the frame lost may have removed it. The entries after it are.
func TestDamagedLogDropsEntriesBefore(t *testing.T) {
	s := openTest(t, Options{Fsync: FsyncNone})
	for i := range 20 {
		put(t, s, testEntry(fmt.Sprint("https://example.com/", i), "", "t"), []byte("body"))
	}
	n, _ := s.idx.peek(lookup(t, s, "https://example.com/10")[0].ID)
	s.Close()
	seg := segmentFiles(t, s.dir)[0]
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	data[n.off+n.rlen-3] ^= 0x10 // in the payload: the length stays right
	if err := os.WriteFile(seg, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	s = openDir(t, s.dir, Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if n := s.Stats().Entries; n != 9 {
		t.Fatalf("%d entries after a damaged log, want the 9 after the damage", n)
	}
	for i := range 20 {
		if got := len(lookup(t, s, fmt.Sprint("https://example.com/", i))); i <= 10 && got != 0 || i > 10 && got != 1 {
			t.Fatalf("entry %d: %d variants after the damage at entry 10", i, got)
		}
	}
	if !strings.Contains(log.String(), "damaged") {
		t.Fatalf("no warning logged: %s", log.String())
	}
	put(t, s, testEntry("k", ""), []byte("body"))
	s = reopen(t, s)
	if len(lookup(t, s, "k")) != 1 {
		t.Fatal("entry committed after the damage was lost")
	}
}

var errNoSpace = syscall.ENOSPC

// Issue 13, item 5: recency survives a restart. A, B and C are committed in
// that order and A is used last; after a reopen the first eviction must take
// B (least recently used), not A (least recently committed).
func TestRecencySurvivesReopen(t *testing.T) {
	for _, use := range []struct {
		name string
		fn   func(t *testing.T, s *Store, e store.Entry)
	}{
		{"Lookup", func(t *testing.T, s *Store, e store.Entry) { lookup(t, s, e.Key) }},
		{"Open", func(t *testing.T, s *Store, e store.Entry) { readAll(t, s, e.Key, e.ID) }},
	} {
		t.Run(use.name, func(t *testing.T) {
			s := openTest(t, Options{MaxBytes: 40_000})
			body := make([]byte, 12_000)
			a := put(t, s, testEntry("A", ""), body)
			put(t, s, testEntry("B", ""), body)
			put(t, s, testEntry("C", ""), body)
			use.fn(t, s, a)
			s = reopen(t, s)
			put(t, s, testEntry("D", ""), body)
			if len(lookup(t, s, "B")) != 0 {
				t.Fatal("B, the least recently used, survived the eviction")
			}
			for _, k := range []string{"A", "C", "D"} {
				if len(lookup(t, s, k)) != 1 {
					t.Fatalf("%s was evicted; B should have gone", k)
				}
			}
		})
	}
}

// Recency is also recorded while the store runs, every RecencyInterval, so
// that a crash loses at most one interval of it.
func TestRecencyFlushedPeriodically(t *testing.T) {
	s := openTest(t, Options{RecencyInterval: 10 * time.Millisecond})
	a := put(t, s, testEntry("A", ""), []byte("a"))
	lookup(t, s, "A")
	deadline := time.Now().Add(10 * time.Second)
	for {
		found := false
		for _, seg := range segmentFiles(t, s.dir) {
			data, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			scanSegment(bytes.NewReader(data), 0, int64(len(data)), func(_, _ int64, p []byte) error {
				if p[0] == recUsed {
					parseUsed(p, func(id string, _ int64) { found = found || id == a.ID })
				}
				return nil
			})
		}
		if found {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the use of A was not recorded in the index")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The index is in memory: Options.MaxEntries bounds it as MaxBytes bounds
// the disk, dropping the least recently used entries, so that a flood of
// tiny cacheable responses cannot grow the process's memory past what the
// budget implies. Zero derives the bound from MaxBytes (EntryBytes per
// entry); a reopening with a lower bound evicts down to it.
func TestMaxEntriesBoundsTheIndex(t *testing.T) {
	s := openTest(t, Options{MaxEntries: 3})
	var es []store.Entry
	for i := range 3 {
		es = append(es, put(t, s, testEntry(fmt.Sprint("k", i), ""), []byte("x")))
	}
	readAll(t, s, "k0", es[0].ID) // k1 is now the least recent
	put(t, s, testEntry("k3", ""), []byte("x"))
	if len(lookup(t, s, "k1")) != 0 || len(lookup(t, s, "k0")) != 1 || len(lookup(t, s, "k3")) != 1 {
		t.Fatal("the bound did not evict the least recent entry, k1")
	}
	if st := s.Stats(); st.Entries != 3 || st.Evictions != 1 {
		t.Fatalf("stats %+v, want 3 entries and 1 eviction", st)
	}
	s.opts.MaxEntries = 1
	s = reopen(t, s)
	if st := s.Stats(); st.Entries != 1 {
		t.Fatalf("after reopening with MaxEntries 1: %+v", st)
	}

	d := openTest(t, Options{MaxBytes: 5 * EntryBytes})
	for i := range 8 {
		put(t, d, testEntry(fmt.Sprint("tiny", i), ""), []byte("x"))
	}
	if st := d.Stats(); st.Entries != 5 {
		t.Fatalf("MaxBytes of 5 × EntryBytes kept %d tiny entries, want 5", st.Entries)
	}
	if _, err := Open(t.TempDir(), Options{MaxEntries: -1}); err == nil {
		t.Fatal("Open accepted a negative MaxEntries")
	}
}
