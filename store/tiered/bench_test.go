package tiered

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/disk"
	"github.com/cellar-http/cellar/store/memory"
)

// The stores side by side, in one run, so that their figures compare (issue
// 14: "the disk store's hot hits within 0.95× of the memory store"):
//
//	memory  the memory store
//	disk    the disk store alone
//	tiered  a 64 MiB memory tier in front of the disk store (cellar serve's
//	        default)
//
// Hit is what a cache hit asks of its store: Lookup of a key, Open of its
// body, the body written out (through WriteTo, as the engine does) and
// Close, over 1,000 hot keys. Miss creates, writes and commits a body under
// one of 10,000 keys, from 32 goroutines.
func benchStores(b *testing.B) []struct {
	name string
	open func(b *testing.B) store.Store
} {
	return []struct {
		name string
		open func(b *testing.B) store.Store
	}{
		{"memory", func(b *testing.B) store.Store {
			s, err := memory.New(memory.Options{MaxBytes: 1 << 30})
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"disk", func(b *testing.B) store.Store {
			s, err := disk.Open(b.TempDir(), disk.Options{MaxBytes: 1 << 30})
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"tiered", func(b *testing.B) store.Store {
			d, err := disk.Open(b.TempDir(), disk.Options{MaxBytes: 1 << 30})
			if err != nil {
				b.Fatal(err)
			}
			s, err := New(d, Options{MaxBytes: 64 << 20})
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
	}
}

func benchEntry(key string, size int) store.Entry {
	return store.Entry{
		Key: key,
		Pair: spec.Pair{
			Request: spec.Request{Method: "GET", Header: http.Header{}},
			Response: spec.Response{Status: 200, RequestTime: time.Now(), ResponseTime: time.Now(), Header: http.Header{
				"Cache-Control":  {"public, max-age=3600"},
				"Content-Type":   {"application/octet-stream"},
				"Content-Length": {fmt.Sprint(size)},
				"Etag":           {`"0123456789abcdef"`},
			}},
		},
	}
}

func BenchmarkHit(b *testing.B) {
	for _, size := range []int{1 << 10, 100 << 10, 1 << 20} {
		for _, st := range benchStores(b) {
			b.Run(fmt.Sprintf("size=%dKiB/store=%s", size>>10, st.name), func(b *testing.B) {
				s := st.open(b)
				defer s.Close()
				const keys = 64
				body := make([]byte, size)
				for i := range keys {
					w, err := s.Create(context.Background(), benchEntry(fmt.Sprint("https://example.com/hot/", i), size))
					if err != nil {
						b.Fatal(err)
					}
					w.Write(body)
					if _, err := w.Commit(); err != nil {
						b.Fatal(err)
					}
				}
				ctx := context.Background()
				var next atomic.Int64
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						key := fmt.Sprint("https://example.com/hot/", next.Add(1)%keys)
						es, err := s.Lookup(ctx, key)
						if err != nil || len(es) != 1 {
							b.Error(len(es), err)
							return
						}
						r, err := s.Open(ctx, key, es[0].ID)
						if err != nil {
							b.Error(err)
							return
						}
						if n, err := r.(io.WriterTo).WriteTo(io.Discard); err != nil || n != int64(size) {
							b.Error(n, err)
						}
						r.Close()
					}
				})
			})
		}
	}
}

func BenchmarkMiss(b *testing.B) {
	for _, size := range []int{1 << 10, 100 << 10} {
		for _, st := range benchStores(b) {
			b.Run(fmt.Sprintf("size=%dKiB/store=%s", size>>10, st.name), func(b *testing.B) {
				s := st.open(b)
				defer s.Close()
				body := make([]byte, size)
				ctx := context.Background()
				var next atomic.Int64
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.SetParallelism(16)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						w, err := s.Create(ctx, benchEntry(fmt.Sprint("https://example.com/miss/", next.Add(1)%10000), size))
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
			})
		}
	}
}
