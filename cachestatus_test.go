package cellar

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cellar-http/cellar/spec"
)

// TestCollapsedFollowerKeepsFwdRFC9211_2_2: followers of a validation the
// request asked for (fwd=request: the stored response is fresh, the
// request's max-age=0 refuses it), which failed and was answered from the
// stored response under stale-if-error, report the leader's fwd, not a
// generic "stale": the engine takes it from the state it forwarded.
func TestCollapsedFollowerKeepsFwdRFC9211_2_2(t *testing.T) {
	clock := newClock()
	release := make(chan struct{})
	o := newOrigin(t, clock, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") != "" {
			<-release
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close() // no response: a transport error
			}
			return
		}
		w.Header().Set("Cache-Control", "max-age=600, stale-if-error=600")
		w.Header().Set("ETag", `"x"`)
		io.WriteString(w, "body")
	})
	c := newTestCache(t, clock, true, Config{})
	do(t, c, "GET", o.URL)
	clock.Advance(time.Second) // age 1: more than the requests' max-age=0
	const n = 4
	var wg sync.WaitGroup
	results := make([]result, n)
	for i := range n {
		wg.Go(func() { results[i] = do(t, c, "GET", o.URL, "Cache-Control", "max-age=0, stale-if-error=600") })
	}
	eventually(t, "all to wait", func() bool { return flightWaiters(c, o.URL) == n })
	close(release)
	wg.Wait()
	for i, r := range results {
		if cs := r.cacheStatus(); r.status != 200 || !strings.Contains(cs, "fwd=request") {
			t.Errorf("request %d: %d %q", i, r.status, cs)
		}
	}
}

// TestHandlerHandsCacheStatusValue: a Handler hands its Cache-Status
// member to HandlerOptions.CacheStatus as the value it renders, for a
// miss, a hit, a bypass and an error answer alike.
func TestHandlerHandsCacheStatusValue(t *testing.T) {
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "x")
	})
	c := newTestCache(t, nil, true, Config{})
	var got []spec.CacheStatus
	opts := HandlerOptions{Upstream: http.DefaultTransport, CacheStatus: func(w http.ResponseWriter, cs spec.CacheStatus) {
		got = append(got, cs)
	}}
	h := c.HandlerWith(http.NotFoundHandler(), opts)
	serve := func(h http.Handler, r *http.Request) string {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Header().Get("Cache-Status")
	}
	fields := []string{
		serve(h, httptest.NewRequest("GET", o.URL, nil)),
		serve(h, httptest.NewRequest("GET", o.URL, nil)),
	}
	up := httptest.NewRequest("GET", o.URL, nil)
	up.Header.Set("Upgrade", "websocket")
	fields = append(fields, serve(h, up))
	opts.Upstream = refusingTransport{}
	fields = append(fields, serve(c.HandlerWith(http.NotFoundHandler(), opts), httptest.NewRequest("GET", o.URL+"/gone", nil)))
	want := []spec.Fwd{spec.FwdURIMiss, "", spec.FwdBypass, spec.FwdURIMiss}
	if len(got) != len(want) {
		t.Fatalf("handed %d values, want %d: %+v", len(got), len(want), got)
	}
	for i, cs := range got {
		if cs.Fwd != want[i] || cs.Hit != (want[i] == "") {
			t.Errorf("%d: handed %+v, want fwd %q", i, cs, want[i])
		}
		if v := cs.Value(c.name); v != fields[i] {
			t.Errorf("%d: the value renders %q, the field says %q", i, v, fields[i])
		}
	}
}
