package cellar

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestInFlightCountsCollapsedAndBackground: while one upstream exchange
// for a key is under way, InFlight counts it once, and the requests
// waiting on it as collapsed (RFC 9211 §2.6); a stale-while-revalidate
// refresh (RFC 5861 §3) counts as background work until it ends.
func TestInFlightCountsCollapsedAndBackground(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	defer open()
	var block atomic.Bool
	block.Store(true)
	clock := newClock()
	o := newOrigin(t, clock, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/swr" {
			w.Header().Set("Cache-Control", "max-age=1, stale-while-revalidate=600")
		} else {
			w.Header().Set("Cache-Control", "max-age=60")
		}
		if block.Load() {
			<-release
		}
		_, _ = io.WriteString(w, "body")
	})
	c := newTestCache(t, clock, true, Config{})
	idle := InFlight{BackgroundMax: c.InFlight().BackgroundMax}
	if in := c.InFlight(); in != idle || idle.BackgroundMax == 0 {
		t.Fatalf("idle: %+v", in)
	}
	const n = 4
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { do(t, c, "GET", o.URL+"/cold") })
	}
	eventually(t, "one flight with the others collapsed into it", func() bool {
		in := c.InFlight()
		return in.Flights == 1 && in.Collapsed == n-1 && in.Background == 0
	})
	open()
	wg.Wait()
	eventually(t, "nothing in flight", func() bool { return c.InFlight() == idle })

	// A stale-while-revalidate refresh: background, no one collapsed.
	block.Store(false)
	do(t, c, "GET", o.URL+"/swr")
	clock.Advance(5 * time.Second)
	release = make(chan struct{})
	once = sync.Once{}
	block.Store(true)
	if r := do(t, c, "GET", o.URL+"/swr"); r.status != http.StatusOK {
		t.Fatalf("stale answer: %d", r.status)
	}
	eventually(t, "the refresh in the background", func() bool {
		in := c.InFlight()
		return in.Background == 1 && in.Flights == 1 && in.Collapsed == 0
	})
	open()
	eventually(t, "nothing in flight", func() bool { return c.InFlight() == idle })
}
