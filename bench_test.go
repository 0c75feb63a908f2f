package cellar

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cellar-http/cellar/store/disk"
)

// benchOrigin serves a 1 KiB cacheable body.
func benchOrigin(b *testing.B) *origin {
	body := strings.Repeat("x", 1024)
	return newOrigin(b, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, body)
	})
}

func benchRoundTrips(b *testing.B, rt http.RoundTripper, url string) {
	req, _ := http.NewRequest("GET", url, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := rt.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		if n, _ := io.Copy(io.Discard, resp.Body); n != 1024 {
			b.Fatalf("read %d bytes", n)
		}
		resp.Body.Close()
	}
}

// BenchmarkTransportFreshHit is a fresh hit through the Transport with the
// memory store and a 1 KiB body; compare with BenchmarkUpstreamDirect, the
// same request to the same origin without the cache.
func BenchmarkTransportFreshHit(b *testing.B) {
	o := benchOrigin(b)
	c := newTestCache(b, nil, false, Config{})
	do(b, c, "GET", o.URL)
	benchRoundTrips(b, c, o.URL)
	if o.hits.Load() != 1 {
		b.Fatalf("origin hits = %d", o.hits.Load())
	}
}

func BenchmarkUpstreamDirect(b *testing.B) {
	o := benchOrigin(b)
	tr := &http.Transport{}
	b.Cleanup(tr.CloseIdleConnections)
	benchRoundTrips(b, tr, o.URL)
}

// BenchmarkMiss1GiBDisk pushes a 1 GiB response, generated on the fly by
// the origin, through a miss into the disk store, and reports the peak
// heap seen while it streams (sampled with runtime.ReadMemStats).
func BenchmarkMiss1GiBDisk(b *testing.B) {
	const size = 1 << 30
	chunk := make([]byte, 64<<10)
	for i := range chunk {
		chunk[i] = byte(i)
	}
	o := newOrigin(b, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Content-Length", strconv.Itoa(size))
		for n := 0; n < size; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	ds, err := disk.Open(b.TempDir(), disk.Options{MaxBytes: 3 << 30})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ds.Close() })
	c := newTestCache(b, nil, true, Config{Store: ds, SpoolDir: b.TempDir()})

	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	b.SetBytes(size)
	i := 0
	for b.Loop() {
		i++
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/big/%d", o.URL, i), nil)
		resp, err := c.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != size {
			b.Fatalf("read %d bytes: %v", n, err)
		}
	}
	close(stop)
	wg.Wait()
	if n := len(entries(b, ds, fmt.Sprintf("%s/big/%d", o.URL, i))); n != 1 {
		b.Fatalf("%d entries stored", n)
	}
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
}
