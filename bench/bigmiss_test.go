package bench

import (
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkMiss64MiB fetches a cold 64 MiB response (public, max-age=3600,
// with Content-Length) that the origin generates on the fly, and reports the
// peak of runtime.MemStats.HeapInuse sampled every millisecond while the
// client reads it: peak-heap-MiB is the whole process (origin and client
// included: the origin's share is a 32 KiB chunk), heap-growth-MiB is the
// peak less the heap in use after a GC just before the request.
//
// A cache that streams the body to its store keeps the heap flat; one that
// buffers the body to store it at the end grows by at least the body.
// cellar-memory keeps the entry in memory by design (its store is the heap);
// cellar-memory-32MiB has a budget smaller than the body, so the store refuses
// it and Cellar passes it through; cellar-disk is the configuration for large
// objects.
func BenchmarkMiss64MiB(b *testing.B) {
	const size = 64 << 20
	libs := []lib{
		{"cellar-disk", cellarDisk},
		{"cellar-memory", cellarMemory(256 << 20)},
		{"cellar-memory-32MiB", cellarMemory(32 << 20)},
		libHTTPCache,
		libNoCache,
	}
	for _, l := range libs {
		b.Run("lib="+l.name, func(b *testing.B) {
			o := newOrigin(b)
			up := upstreamTransport(b)
			var peak, growth uint64
			b.SetBytes(size)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				rt, closeLib := l.open(b, up)
				client := &http.Client{Transport: rt}
				url := fmt.Sprintf("%s/big/%d/%d", o.URL, size, i)
				runtime.GC()
				base := heapInuse()
				stop := sampleHeap()
				b.StartTimer()
				get(b, client, url, size)
				b.StopTimer()
				p := stop()
				peak = max(peak, p)
				if p > base {
					growth = max(growth, p-base)
				}
				closeLib()
				rt, client = nil, nil
				b.StartTimer()
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(growth)/(1<<20), "heap-growth-MiB")
		})
	}
}

func heapInuse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// sampleHeap samples HeapInuse every millisecond until the returned function
// is called, which returns the highest sample (taking a last one).
func sampleHeap() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if h := heapInuse(); h > peak.Load() {
				peak.Store(h)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		if h := heapInuse(); h > peak.Load() {
			peak.Store(h)
		}
		return peak.Load()
	}
}
