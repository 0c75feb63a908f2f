package cellar

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestCoalesceForcedRefreshes (issue 12 item 4): concurrent client-forced
// refreshes of one key (RFC 9111 §5.2.1.1 max-age=0, §5.2.1.4 no-cache,
// §5.4 Pragma: no-cache) make one upstream request, whether the origin
// confirms the stored response (304) or sends a new one (200), and whether
// something was stored or not. Each is still honoured: the response comes
// from the origin, not from storage.
func TestCoalesceForcedRefreshes(t *testing.T) {
	forced := [][]string{
		{"Cache-Control", "no-cache"},
		{"Pragma", "no-cache"},
		{"Cache-Control", "max-age=0"},
	}
	for _, answer := range []int{http.StatusNotModified, http.StatusOK, 0} {
		t.Run(http.StatusText(answer), func(t *testing.T) {
			const n = 30
			var mu sync.Mutex
			release := make(chan struct{})
			refreshing := false
			version := "v1"
			o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				wait := refreshing
				mu.Unlock()
				if wait {
					<-release
				}
				w.Header().Set("Cache-Control", "max-age=600")
				w.Header().Set("ETag", `"`+version+`"`)
				if answer == http.StatusNotModified && r.Header.Get("If-None-Match") == `"v1"` {
					w.WriteHeader(http.StatusNotModified)
					return
				}
				io.WriteString(w, "body "+version)
			})
			var once sync.Once
			open := func() { once.Do(func() { close(release) }) }
			t.Cleanup(open) // before the origin's Close, should the test fail
			c := newTestCache(t, nil, true, Config{})
			stored := int64(0)
			if answer != 0 { // 0: nothing stored before the refreshes
				if r := do(t, c, "GET", o.URL); r.status != 200 {
					t.Fatalf("fill: %d", r.status)
				}
				stored = 1
			}
			mu.Lock()
			refreshing = true
			if answer == http.StatusOK {
				version = "v2"
			}
			mu.Unlock()
			results := make([]result, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { results[i] = do(t, c, "GET", o.URL, forced[i%len(forced)]...) })
			}
			eventually(t, "every refresh to wait on one flight", func() bool { return flightWaiters(c, o.URL) == n })
			open()
			wg.Wait()
			if h := o.hits.Load(); h != stored+1 {
				t.Errorf("origin hits = %d, want %d: the forced refreshes were not collapsed", h, stored+1)
			}
			want := "body v1"
			if answer == http.StatusOK {
				want = "body v2"
			}
			for i, r := range results {
				if r.status != 200 || r.body != want {
					t.Errorf("refresh %d: %d %q, want 200 %q", i, r.status, r.body, want)
				}
				if cs := r.cacheStatus(); strings.Contains(cs, "; hit") && !strings.Contains(cs, "collapsed") {
					t.Errorf("refresh %d answered from storage without the origin: %s", i, cs)
				}
			}
		})
	}
}
