package bench

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// coalesceClients is how many clients ask for one cold URL at once.
const coalesceClients = 200

// coldBurst sends coalesceClients concurrent GETs for one URL no one has
// asked for yet, released together by a barrier, and returns how many
// requests reached the origin. The origin answers after 100 ms (a slow
// backend, the case coalescing is for), so every client's request is in
// flight before the first response arrives.
func coldBurst(tb testing.TB, client *http.Client, o *origin, n int) int64 {
	url := fmt.Sprintf("%s/slow/100/%d", o.URL, n)
	before := o.requests.Load()
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range coalesceClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			get(tb, client, url, 1<<10)
		}()
	}
	close(start)
	wg.Wait()
	return o.requests.Load() - before
}

var coalesceLibs = []lib{libCellar, {"cellar-disk", cellarDisk}, libHTTPCache, libNoCache}

// TestCoalescing prints the upstream requests each library makes for 200
// concurrent cold requests of one URL; Cellar's must be exactly one (its
// engine coalesces concurrent misses of one key).
func TestCoalescing(t *testing.T) {
	for _, l := range coalesceLibs {
		t.Run(l.name, func(t *testing.T) {
			o := newOrigin(t)
			client := &http.Client{Transport: l.make(t, upstreamTransport(t))}
			got := coldBurst(t, client, o, 0)
			t.Logf("%s: %d concurrent cold requests → %d upstream requests", l.name, coalesceClients, got)
			if l.name == "cellar" || l.name == "cellar-disk" {
				if got != 1 {
					t.Errorf("%s made %d upstream requests, want 1", l.name, got)
				}
			}
		})
	}
}

// BenchmarkCoalescing reports upstream-requests: the origin requests per
// burst of 200 concurrent cold requests for one URL (each op is a burst on a
// new URL), and the time for the whole burst.
func BenchmarkCoalescing(b *testing.B) {
	for _, l := range coalesceLibs {
		b.Run("lib="+l.name, func(b *testing.B) {
			o := newOrigin(b)
			client := &http.Client{Transport: l.make(b, upstreamTransport(b))}
			var total int64
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				total += coldBurst(b, client, o, i)
				i++
			}
			b.ReportMetric(float64(total)/float64(b.N), "upstream-requests")
		})
	}
}
