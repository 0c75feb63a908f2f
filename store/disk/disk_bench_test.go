package disk

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"testing"

	"github.com/cellar-http/cellar/store"
)

// BenchmarkLookupHit is the hot path of a cache hit: Lookup of a key with
// three variants (one read transaction, three records decoded), then Open
// and Close of one body.
func BenchmarkLookupHit(b *testing.B) {
	s := openTest(b, Options{Fsync: FsyncNone})
	const keys = 1000
	body := make([]byte, 4<<10)
	for i := range keys {
		for v := range 3 {
			e := testEntry(fmt.Sprintf("https://example.com/assets/%d/app.js?v=%d", i, i), fmt.Sprint("gzip", v), "static")
			e.Pair.Response.Header.Set("Etag", `"0123456789abcdef"`)
			e.Pair.Response.Header.Set("Last-Modified", "Tue, 15 Nov 1994 12:45:26 GMT")
			put(b, s, e, body)
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		key := fmt.Sprintf("https://example.com/assets/%d/app.js?v=%d", i%keys, i%keys)
		i++
		es, err := s.Lookup(ctx, key)
		if err != nil || len(es) != 3 {
			b.Fatal(len(es), err)
		}
		r, err := s.Open(ctx, key, es[1].ID)
		if err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}

// BenchmarkRead1MiB opens a 1 MiB body and reads it through, checksum
// included.
func BenchmarkRead1MiB(b *testing.B) {
	s := openTest(b, Options{Fsync: FsyncNone})
	body := make([]byte, 1<<20)
	e := put(b, s, testEntry("https://example.com/big", ""), body)
	ctx := context.Background()
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := s.Open(ctx, e.Key, e.ID)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.CopyBuffer(io.Discard, onlyReader{r}, buf); err != nil || n != int64(len(body)) {
			b.Fatal(n, err)
		}
		r.Close()
	}
}

// onlyReader hides WriterTo-less Body's other methods from io.CopyBuffer.
type onlyReader struct{ io.Reader }

// BenchmarkWrite1MiB writes and commits a 1 MiB body in 32 KiB writes,
// replacing the previous version each time, with FsyncNone.
func BenchmarkWrite1MiB(b *testing.B) {
	s := openTest(b, Options{Fsync: FsyncNone})
	chunk := make([]byte, 32<<10)
	ctx := context.Background()
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		w, err := s.Create(ctx, testEntry(fmt.Sprint("https://example.com/w", i%64), ""))
		i++
		if err != nil {
			b.Fatal(err)
		}
		for range 32 {
			if _, err := w.Write(chunk); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := w.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommitParallel is the store's side of a proxy miss: many
// goroutines each create, write and commit a 1 KiB body, over 10,000 keys
// (so that after the first 10,000 commits each one replaces a version), as
// concurrent fills do. Sixteen goroutines per core stand for the requests in
// flight while commits wait on the disk.
//
// The sizes and inline settings compare a body in its index record with one
// in a file of its own, to choose DefaultInlineMax.
func BenchmarkCommitParallel(b *testing.B) {
	for _, f := range []Fsync{FsyncInterval, FsyncIndex, FsyncNone} {
		for _, c := range []struct {
			size   int
			inline bool
		}{{1 << 10, false}, {1 << 10, true}, {8 << 10, false}, {8 << 10, true}, {16 << 10, false}, {16 << 10, true}, {32 << 10, false}, {32 << 10, true}} {
			name := fmt.Sprintf("fsync=%s/size=%dKiB/inline=%v", f, c.size>>10, c.inline)
			b.Run(name, func(b *testing.B) { benchCommitParallel(b, f, c.size, c.inline) })
		}
	}
}

func benchCommitParallel(b *testing.B, f Fsync, size int, inline bool) {
	opts := Options{Fsync: f, InlineMax: -1}
	if inline {
		opts.InlineMax = int64(size)
	}
	s := openTest(b, opts)
	body := make([]byte, size)
	ctx := context.Background()
	var next atomic.Int64
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer() // not Open
	batches := s.batches.Load()
	defer func() {
		// How many commits share a transaction: the lever of group commit.
		b.ReportMetric(float64(b.N)/float64(s.batches.Load()-batches), "commits/tx")
	}()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			w, err := s.Create(ctx, testEntry(fmt.Sprint("https://example.com/miss/", i%10000), ""))
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := w.Write(body); err != nil {
				b.Error(err)
				return
			}
			if _, err := w.Commit(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

var _ store.Body = (*body)(nil)
