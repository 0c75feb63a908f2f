package bench

import (
	"fmt"
	"io"
	"net/http"
	"testing"
)

// BenchmarkHit measures a client's hit path: http.Client.Get of a fresh,
// stored response and reading its whole body, with Cellar's Transport (memory
// store), gregjones/httpcache (its memory cache) and no cache at all (every
// request goes to the loopback origin: the cost a cache saves, or adds).
// upstream/op reports the origin requests per iteration, ~0 for a cache hit.
func BenchmarkHit(b *testing.B) {
	for _, size := range []int{1 << 10, 100 << 10} {
		for _, l := range []lib{libCellar, libHTTPCache, libNoCache} {
			b.Run(fmt.Sprintf("size=%dKiB/lib=%s", size>>10, l.name), func(b *testing.B) {
				o := newOrigin(b)
				client := &http.Client{Transport: l.make(b, upstreamTransport(b))}
				url := fmt.Sprintf("%s/obj/%d", o.URL, size)
				for range 2 { // the miss that stores it, then a first hit
					get(b, client, url, size)
				}
				before := o.requests.Load()
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					get(b, client, url, size)
				}
				b.ReportMetric(float64(o.requests.Load()-before)/float64(b.N), "upstream/op")
			})
		}
	}
}

// BenchmarkHitParallel is BenchmarkHit for 1 KiB with GOMAXPROCS client
// goroutines × 4, to show contention in the cache's lookup path.
func BenchmarkHitParallel(b *testing.B) {
	const size = 1 << 10
	for _, l := range []lib{libCellar, libHTTPCache, libNoCache} {
		b.Run(fmt.Sprintf("size=1KiB/lib=%s", l.name), func(b *testing.B) {
			o := newOrigin(b)
			client := &http.Client{Transport: l.make(b, upstreamTransport(b))}
			url := fmt.Sprintf("%s/obj/%d", o.URL, size)
			get(b, client, url, size)
			get(b, client, url, size)
			b.SetBytes(size)
			b.ReportAllocs()
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					get(b, client, url, size)
				}
			})
		})
	}
}

func get(tb testing.TB, c *http.Client, url string, size int) {
	resp, err := c.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != int64(size) || resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: status %d, %d bytes, %v", url, resp.StatusCode, n, err)
	}
}
