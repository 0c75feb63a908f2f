package redis

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/cellar-http/cellar/store/redis/redistest"
)

const mib = 1 << 20

func benchStore(b *testing.B) *Store {
	srv := redistest.Start(b)
	// A short grace, so that the bodies a benchmark replaces do not pile
	// up in the server's memory.
	return newTestStore(b, []string{srv.Addr}, Options{Grace: 100 * time.Millisecond})
}

func BenchmarkLookupHit(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	const key = "https://example.com/bench/lookup"
	put(b, s, testEntry(key, "a"), []byte("body"))
	put(b, s, testEntry(key, "b"), []byte("body"))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		es, err := s.Lookup(ctx, key)
		if err != nil || len(es) != 2 {
			b.Fatal(len(es), err)
		}
	}
}

func BenchmarkRead1MiB(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	e := put(b, s, testEntry("https://example.com/bench/read", ""), pattern(mib))
	buf := make([]byte, 32<<10)
	b.SetBytes(mib)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		body, err := s.Open(ctx, e.Key, e.ID)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{body}, buf)
		body.Close()
		if err != nil || n != mib {
			b.Fatal(n, err)
		}
	}
}

func BenchmarkWrite1MiB(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	data := pattern(mib)
	e := testEntry("https://example.com/bench/write", "")
	b.SetBytes(mib)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w, err := s.Create(ctx, e)
		if err != nil {
			b.Fatal(err)
		}
		for off := 0; off < mib; off += 32 << 10 {
			if _, err := w.Write(data[off : off+32<<10]); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := w.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}
