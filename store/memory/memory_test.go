package memory_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/memory"
	"github.com/cellar-http/cellar/store/storetest"
)

func newStore(tb testing.TB, maxBytes int64) *memory.Store {
	tb.Helper()
	s, err := memory.New(memory.Options{MaxBytes: maxBytes})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, storetest.Factory{
		New: func(t *testing.T, maxBytes int64) store.Store { return newStore(t, maxBytes) },
	})
}

func TestNewRejectsNoBudget(t *testing.T) {
	for _, n := range []int64{0, -1} {
		if _, err := memory.New(memory.Options{MaxBytes: n}); err == nil {
			t.Errorf("New(MaxBytes: %d) succeeded", n)
		}
	}
}

// TestBodyWriteToAndSeek covers what the memory Body offers beyond
// store.Body: io.WriterTo (zero-copy io.Copy) and io.Seeker.
func TestBodyWriteToAndSeek(t *testing.T) {
	s := newStore(t, 64<<20)
	defer s.Close()
	data := bytes.Repeat([]byte("0123456789abcdef"), 20_000) // 320000 bytes: several chunks
	e := commit(t, s, typical("https://example.com/seek"), data)
	b, err := s.Open(context.Background(), e.Key, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rs := b.(io.ReadSeeker)
	if _, err := rs.Seek(100_001, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if n, err := io.Copy(&out, rs); err != nil || n != int64(len(data)-100_001) || !bytes.Equal(out.Bytes(), data[100_001:]) {
		t.Fatalf("Seek then io.Copy (WriteTo) = %d, %v", n, err)
	}
	if pos, err := rs.Seek(-10, io.SeekEnd); err != nil || pos != int64(len(data)-10) {
		t.Fatalf("Seek(-10, End) = %d, %v", pos, err)
	}
	rest, _ := io.ReadAll(rs)
	if !bytes.Equal(rest, data[len(data)-10:]) {
		t.Fatalf("read after Seek from the end: %q", rest)
	}
}

func typical(rawURL string) store.Entry {
	u, _ := url.Parse(rawURL)
	t := time.Now()
	return store.Entry{
		Key:     rawURL,
		Variant: "accept-encoding=gzip",
		Pair: spec.Pair{
			Request: spec.Request{Method: http.MethodGet, URL: u, Header: http.Header{"Accept-Encoding": {"gzip"}}},
			Response: spec.Response{
				Status: http.StatusOK,
				Header: http.Header{
					"Cache-Control":  {"public, max-age=3600"},
					"Content-Type":   {"application/javascript"},
					"Content-Length": {"1048576"},
					"Date":           {"Wed, 25 Nov 2026 22:08:26 GMT"},
					"Etag":           {`"5f3a-1b2c3d4e"`},
					"Last-Modified":  {"Tue, 24 Nov 2026 10:00:00 GMT"},
					"Vary":           {"Accept-Encoding"},
					"Server":         {"origin/1.0"},
					"Age":            {"0"},
					"X-Request-Id":   {"abc"},
				},
				RequestTime:  t,
				ResponseTime: t,
			},
		},
		Tags:    []string{"assets"},
		Expires: t.Add(time.Hour),
	}
}

func commit(tb testing.TB, s *memory.Store, e store.Entry, data []byte) store.Entry {
	tb.Helper()
	w, err := s.Create(context.Background(), e)
	if err != nil {
		tb.Fatal(err)
	}
	for len(data) > 0 {
		n := min(len(data), 32<<10)
		if _, err := w.Write(data[:n]); err != nil {
			tb.Fatal(err)
		}
		data = data[n:]
	}
	got, err := w.Commit()
	if err != nil {
		tb.Fatal(err)
	}
	return got
}

func BenchmarkLookupHit(b *testing.B) {
	s := newStore(b, 256<<20)
	defer s.Close()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "https://example.com/assets/" + strconv.Itoa(i) + ".js"
		commit(b, s, typical(keys[i]), []byte("body"))
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		es, err := s.Lookup(ctx, keys[i&1023])
		if err != nil || len(es) != 1 {
			b.Fatalf("Lookup = %d entries, %v", len(es), err)
		}
		i++
	}
}

func BenchmarkLookupHitParallel(b *testing.B) {
	s := newStore(b, 256<<20)
	defer s.Close()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "https://example.com/assets/" + strconv.Itoa(i) + ".js"
		commit(b, s, typical(keys[i]), []byte("body"))
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if es, _ := s.Lookup(ctx, keys[i&1023]); len(es) != 1 {
				b.Error("miss")
				return
			}
			i++
		}
	})
}

func BenchmarkRead1MiB(b *testing.B) {
	s := newStore(b, 256<<20)
	defer s.Close()
	data := bytes.Repeat([]byte{0xa5}, 1<<20)
	e := commit(b, s, typical("https://example.com/1MiB"), data)
	ctx := context.Background()
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r, err := s.Open(ctx, e.Key, e.ID)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf)
		if err != nil || n != int64(len(data)) {
			b.Fatalf("read %d, %v", n, err)
		}
		r.Close()
	}
}

func BenchmarkWrite1MiB(b *testing.B) {
	s := newStore(b, 256<<20)
	defer s.Close()
	data := bytes.Repeat([]byte{0xa5}, 1<<20)
	e := typical("https://example.com/1MiB")
	ctx := context.Background()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w, err := s.Create(ctx, e)
		if err != nil {
			b.Fatal(err)
		}
		for off := 0; off < len(data); off += 32 << 10 {
			if _, err := w.Write(data[off : off+32<<10]); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := w.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAppendLookup: AppendLookup finds what Lookup finds, in the caller's
// array when it has room (no allocation), in a new one when it has not,
// and nil when nothing is stored.
func TestAppendLookup(t *testing.T) {
	s := newStore(t, 64<<20)
	defer s.Close()
	ctx := context.Background()
	one := commit(t, s, typical("https://example.com/one"), []byte("1"))
	two := typical("https://example.com/two")
	commit(t, s, two, []byte("a"))
	two.Variant = "accept-encoding=br"
	commit(t, s, two, []byte("b"))

	var buf [1]store.Entry
	es, err := s.AppendLookup(ctx, buf[:0], one.Key)
	if err != nil || len(es) != 1 || es[0].ID != one.ID || &es[0] != &buf[0] {
		t.Fatalf("AppendLookup(%s) = %d entries, %v; in the caller's array: %v", one.Key, len(es), err, len(es) > 0 && &es[0] == &buf[0])
	}
	if n := testing.AllocsPerRun(100, func() { s.AppendLookup(ctx, buf[:0], one.Key) }); n != 0 {
		t.Errorf("AppendLookup into room for the entry: %v allocations", n)
	}
	want, _ := s.Lookup(ctx, two.Key)
	es, err = s.AppendLookup(ctx, buf[:0], two.Key)
	if err != nil || len(es) != 2 || len(want) != 2 || es[0].ID != want[0].ID || es[1].ID != want[1].ID {
		t.Fatalf("AppendLookup of two variants into room for one = %d entries, %v (Lookup: %d)", len(es), err, len(want))
	}
	if es, err := s.AppendLookup(ctx, buf[:0], "https://example.com/none"); es != nil || err != nil {
		t.Errorf("AppendLookup of nothing = %v, %v", es, err)
	}
}
