package cellar

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store/disk"
)

// flightWaiters returns how many requests wait on the flight for url.
func flightWaiters(c *Cache, url string) int {
	req, _ := http.NewRequest("GET", url, nil)
	key := spec.Key(spec.Request{Method: "GET", URL: req.URL})
	c.flights.mu.Lock()
	f := c.flights.m[key]
	c.flights.mu.Unlock()
	if f == nil {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.waiters
}

func TestCoalesceColdKey(t *testing.T) {
	modes(t, func(t *testing.T, shared bool) {
		const n = 200
		release := make(chan struct{})
		body := strings.Repeat("0123456789", 20000) // 200 kB: spills to the spool file
		o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
			<-release
			w.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(w, body)
		})
		m := newCountingMetrics()
		c := newTestCache(t, nil, shared, Config{Metrics: m})
		var wg sync.WaitGroup
		results := make([]result, n)
		for i := range n {
			wg.Go(func() { results[i] = do(t, c, "GET", o.URL) })
		}
		eventually(t, "all requests to wait on one flight", func() bool { return flightWaiters(c, o.URL) == n })
		close(release)
		wg.Wait()
		if h := o.hits.Load(); h != 1 {
			t.Fatalf("origin hits = %d, want 1", h)
		}
		collapsed := 0
		for i, r := range results {
			if r.status != 200 || r.body != body || r.err != nil {
				t.Fatalf("request %d: %d, %d bytes, %v", i, r.status, len(r.body), r.err)
			}
			// A follower reads the body being filled (collapsed) or, when
			// it comes to it after the fill ended, the stored one (hit).
			switch cs := r.cacheStatus(); {
			case strings.Contains(cs, "collapsed"), strings.Contains(cs, "; hit"):
				collapsed++
			}
		}
		if collapsed != n-1 {
			t.Errorf("%d collapsed or hit, want %d", collapsed, n-1)
		}
		m.snapshot(func(m *countingMetrics) {
			if m.coalesced != n-1 || m.stored != 1 {
				t.Errorf("coalesced=%d stored=%d", m.coalesced, m.stored)
			}
		})
		if r := do(t, c, "GET", o.URL); !strings.Contains(r.cacheStatus(), "hit") {
			t.Errorf("after the fill: %q", r.cacheStatus())
		}
	})
}

// TestCoalesceVariants: requests for another variant do not take the
// leader's response; they go on their own once it is known, and say so:
// collapsed=?0, "a new request had to be made" (RFC 9211 §2.6).
func TestCoalesceVariants(t *testing.T) {
	release := make(chan struct{})
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		io.WriteString(w, "lang:"+r.Header.Get("Accept-Language"))
	})
	c := newTestCache(t, nil, true, Config{})
	var wg sync.WaitGroup
	langs := []string{"en", "en", "fr", "en", "fr"}
	results := make([]result, len(langs))
	for i, l := range langs {
		wg.Go(func() { results[i] = do(t, c, "GET", o.URL, "Accept-Language", l) })
		// The first request leads.
		eventually(t, "the request to wait", func() bool { return flightWaiters(c, o.URL) == i+1 })
	}
	close(release)
	wg.Wait()
	for i, r := range results {
		if r.body != "lang:"+langs[i] {
			t.Errorf("request %d (%s) got %q", i, langs[i], r.body)
		}
		// An English follower reads the fill (collapsed) or, when it comes
		// to it after the commit, the stored response (hit); the French
		// ones never take the English response.
		// A French one that waited says so: collapsed=?0 (RFC 9211 §2.6).
		cs := r.cacheStatus()
		reused := strings.Contains(cs, "; collapsed") && !strings.Contains(cs, "collapsed=?0")
		shared := reused || strings.Contains(cs, "; hit")
		if i > 0 && langs[i] == "en" && !shared || i == 2 && !strings.HasSuffix(cs, "; collapsed=?0") {
			t.Errorf("request %d (%s): %q", i, langs[i], cs)
		}
	}
	// The French requests go upstream on their own once the English
	// response is known; the second may then find the first's variant.
	if h := o.hits.Load(); h < 2 || h > 3 {
		t.Errorf("origin hits = %d, want 2 or 3", h)
	}
}

func TestCoalesceRevalidation(t *testing.T) {
	clock := newClock()
	release := make(chan struct{})
	var conditional atomic.Int64
	o := newOrigin(t, clock, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10")
		w.Header().Set("ETag", `"x"`)
		if r.Header.Get("If-None-Match") != "" {
			conditional.Add(1)
			<-release
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "body")
	})
	c := newTestCache(t, clock, true, Config{})
	do(t, c, "GET", o.URL)
	clock.Advance(time.Minute)
	const n = 50
	var wg sync.WaitGroup
	results := make([]result, n)
	for i := range n {
		wg.Go(func() { results[i] = do(t, c, "GET", o.URL) })
	}
	eventually(t, "all to wait", func() bool { return flightWaiters(c, o.URL) == n })
	close(release)
	wg.Wait()
	for i, r := range results {
		if r.status != 200 || r.body != "body" {
			t.Fatalf("request %d: %d %q", i, r.status, r.body)
		}
	}
	if conditional.Load() != 1 || o.hits.Load() != 2 {
		t.Errorf("conditional requests = %d, origin hits = %d", conditional.Load(), o.hits.Load())
	}
}

func TestCancelledWaiterDoesNotCancelOthers(t *testing.T) {
	t.Run("leader-before-response", func(t *testing.T) {
		release := make(chan struct{})
		o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
			<-release
			w.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(w, "complete body")
		})
		c := newTestCache(t, nil, false, Config{})
		ctx, cancel := context.WithCancel(context.Background())
		leaderErr := make(chan error, 1)
		go func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", o.URL, nil)
			resp, err := c.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
			leaderErr <- err
		}()
		eventually(t, "the leader", func() bool { return flightWaiters(c, o.URL) == 1 })
		follower := make(chan result, 1)
		go func() { follower <- do(t, c, "GET", o.URL) }()
		eventually(t, "the follower", func() bool { return flightWaiters(c, o.URL) == 2 })
		cancel()
		if err := <-leaderErr; !errors.Is(err, context.Canceled) {
			t.Fatalf("leader: %v", err)
		}
		close(release)
		r := <-follower
		if r.status != 200 || r.body != "complete body" || r.err != nil {
			t.Fatalf("follower: %d %q %v", r.status, r.body, r.err)
		}
		if o.hits.Load() != 1 || len(entries(t, c.Store(), o.URL)) != 1 {
			t.Errorf("hits=%d entries=%d", o.hits.Load(), len(entries(t, c.Store(), o.URL)))
		}
	})
	t.Run("mid-body", func(t *testing.T) {
		release := make(chan struct{})
		o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60")
			w.Header().Set("Content-Length", "20")
			io.WriteString(w, "0123456789")
			w.(http.Flusher).Flush()
			<-release
			io.WriteString(w, "abcdefghij")
		})
		c := newTestCache(t, nil, false, Config{DetachedFillLimit: -1})
		open := func(ctx context.Context) *http.Response {
			req, _ := http.NewRequestWithContext(ctx, "GET", o.URL, nil)
			resp, err := c.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}
		ctx1, cancel1 := context.WithCancel(context.Background())
		leader := open(ctx1)
		follower := open(context.Background())
		ctx3, cancel3 := context.WithCancel(context.Background())
		third := open(ctx3)
		buf := make([]byte, 10)
		for _, r := range []*http.Response{leader, follower, third} {
			if _, err := io.ReadFull(r.Body, buf); err != nil || string(buf) != "0123456789" {
				t.Fatalf("first half: %q %v", buf, err)
			}
		}
		leader.Body.Close()
		cancel1()
		cancel3()
		if _, err := third.Body.Read(buf); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled reader got %v", err)
		}
		third.Body.Close()
		close(release)
		rest, err := io.ReadAll(follower.Body)
		follower.Body.Close()
		if err != nil || string(rest) != "abcdefghij" {
			t.Fatalf("follower rest: %q %v", rest, err)
		}
		if o.hits.Load() != 1 || len(entries(t, c.Store(), o.URL)) != 1 {
			t.Errorf("hits=%d entries=%d", o.hits.Load(), len(entries(t, c.Store(), o.URL)))
		}
	})
}

// hijackOrigin answers with a raw response that promises more than it
// sends, then closes the connection.
func hijackOrigin(t *testing.T, head, body string) *origin {
	return newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		brw.WriteString(head + "\r\n" + body)
		brw.Flush()
	})
}

func TestTruncatedBodyNotStored(t *testing.T) {
	for _, tc := range []struct{ name, head, body string }{
		{"content-length", "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 1000\r\n", strings.Repeat("x", 500)},
		{"chunked", "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: chunked\r\n", "5\r\nhello\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := hijackOrigin(t, tc.head, tc.body)
			m := newCountingMetrics()
			c := newTestCache(t, nil, true, Config{Metrics: m})
			for i := range 2 {
				r := do(t, c, "GET", o.URL)
				if r.err == nil {
					t.Fatalf("request %d: truncated body read without error (%d bytes)", i, len(r.body))
				}
			}
			if o.hits.Load() != 2 || len(entries(t, c.Store(), o.URL)) != 0 {
				t.Errorf("hits=%d entries=%d", o.hits.Load(), len(entries(t, c.Store(), o.URL)))
			}
			m.snapshot(func(m *countingMetrics) {
				if m.aborted["truncated"] != 2 || m.stored != 0 {
					t.Errorf("aborted=%v stored=%d", m.aborted, m.stored)
				}
			})
		})
	}
}

func TestDetachedFill(t *testing.T) {
	run := func(t *testing.T, length string, limit int64) (*Cache, *origin, *countingMetrics) {
		release := make(chan struct{})
		done := make(chan struct{})
		var once sync.Once
		o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
			defer once.Do(func() { close(done) })
			w.Header().Set("Cache-Control", "max-age=60")
			if length != "" {
				w.Header().Set("Content-Length", length)
			}
			io.WriteString(w, strings.Repeat("a", 1000))
			w.(http.Flusher).Flush()
			<-release
			io.WriteString(w, strings.Repeat("b", 99000))
		})
		m := newCountingMetrics()
		c := newTestCache(t, nil, false, Config{Metrics: m, DetachedFillLimit: limit})
		req, _ := http.NewRequest("GET", o.URL, nil)
		resp, err := c.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadFull(resp.Body, make([]byte, 100))
		resp.Body.Close()
		close(release)
		<-done
		return c, o, m
	}
	t.Run("known-length-within-limit", func(t *testing.T) {
		c, o, m := run(t, "100000", 0)
		eventually(t, "the detached fill to commit", func() bool { return len(entries(t, c.Store(), o.URL)) == 1 })
		r := do(t, c, "GET", o.URL)
		if len(r.body) != 100000 || !strings.Contains(r.cacheStatus(), "hit") || o.hits.Load() != 1 {
			t.Errorf("after detached fill: %d bytes, %q, hits=%d", len(r.body), r.cacheStatus(), o.hits.Load())
		}
		m.snapshot(func(m *countingMetrics) {
			if m.stored != 1 {
				t.Errorf("stored = %d", m.stored)
			}
		})
	})
	for _, tc := range []struct {
		name, length string
		limit        int64
	}{
		{"unknown-length", "", 0},
		{"over-limit", "100000", 10000},
		{"never", "100000", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, o, m := run(t, tc.length, tc.limit)
			defer func() { m.snapshot(func(m *countingMetrics) { t.Logf("aborted=%v stored=%d", m.aborted, m.stored) }) }()
			eventually(t, "the fill to abort", func() bool {
				n := 0
				m.snapshot(func(m *countingMetrics) { n = m.aborted["cancelled"] })
				return n == 1
			})
			if n := len(entries(t, c.Store(), o.URL)); n != 0 {
				t.Errorf("%d entries stored", n)
			}
			do(t, c, "GET", o.URL)
			if o.hits.Load() != 2 {
				t.Errorf("origin hits = %d, want 2", o.hits.Load())
			}
		})
	}
}

// TestStreamingDiskStore pushes a 4 MiB body through a miss into the disk
// store while a second request follows it, then reads it back from disk.
func TestStreamingDiskStore(t *testing.T) {
	ds, err := disk.Open(t.TempDir(), disk.Options{MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ds.Close() })
	const size = 4 << 20
	release := make(chan struct{})
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", fmt.Sprint(size))
		bw := bufio.NewWriter(w)
		for i := range size {
			if i == size/2 {
				bw.Flush()
				<-release
			}
			bw.WriteByte(byte(i % 251))
		}
		bw.Flush()
	})
	want := make([]byte, size)
	for i := range want {
		want[i] = byte(i % 251)
	}
	c := newTestCache(t, nil, true, Config{Store: ds, SpoolDir: t.TempDir()})
	var wg sync.WaitGroup
	got := make([]result, 2)
	for i := range got {
		wg.Go(func() { got[i] = do(t, c, "GET", o.URL) })
	}
	eventually(t, "both to wait", func() bool { return flightWaiters(c, o.URL) == 2 })
	close(release)
	wg.Wait()
	for i, r := range got {
		if r.err != nil || !bytes.Equal([]byte(r.body), want) {
			t.Fatalf("request %d: %d bytes, %v", i, len(r.body), r.err)
		}
	}
	r := do(t, c, "GET", o.URL, "Range", "bytes=1000000-1000009")
	if r.status != 206 || r.body != string(want[1000000:1000010]) {
		t.Errorf("range from disk: %d %q", r.status, r.body)
	}
	r = do(t, c, "GET", o.URL)
	if !bytes.Equal([]byte(r.body), want) || !strings.Contains(r.cacheStatus(), "hit") || o.hits.Load() != 1 {
		t.Errorf("hit from disk: %d bytes %q hits=%d", len(r.body), r.cacheStatus(), o.hits.Load())
	}
}

// TestConditionalAfterChangeStoresNewBody: a client's conditional request
// that the cache answers with 304 after validation brought a new full
// response still gets that response stored, whatever its size.
func TestConditionalAfterChangeStoresNewBody(t *testing.T) {
	clock := newClock()
	var version atomic.Int64
	version.Store(1)
	o := newOrigin(t, clock, func(w http.ResponseWriter, r *http.Request) {
		etag := fmt.Sprintf(`"v%d"`, version.Load())
		w.Header().Set("Cache-Control", "max-age=10")
		w.Header().Set("ETag", etag)
		// Only a lone tag is compared: the cache's list, the client's
		// "v2" merged with the stored "v1", gets the full response. (A
		// 304 with the client's tag would go to the client as it is,
		// RFC 9110 §15.4.5, and store nothing.)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		for range 100 { // chunked, no Content-Length
			io.WriteString(w, strings.Repeat(etag, 1000))
			w.(http.Flusher).Flush()
		}
	})
	c := newTestCache(t, clock, false, Config{DetachedFillLimit: 1})
	do(t, c, "GET", o.URL)
	version.Store(2)
	clock.Advance(time.Minute)
	r := do(t, c, "GET", o.URL, "If-None-Match", `"v2"`)
	if r.status != 304 {
		t.Fatalf("conditional: %d %q %v", r.status, r.cacheStatus(), r.trace)
	}
	eventually(t, "the new body to be stored", func() bool {
		es := entries(t, c.Store(), o.URL)
		return len(es) == 1 && es[0].Pair.Response.Header.Get("ETag") == `"v2"`
	})
	r = do(t, c, "GET", o.URL)
	if !strings.HasPrefix(r.body, `"v2"`) || len(r.body) != 400000 || !strings.Contains(r.cacheStatus(), "hit") {
		t.Errorf("after: %d bytes %q", len(r.body), r.cacheStatus())
	}
}

// TestNoGoroutineLeak: flights, fills, spools and in-process handlers leave
// no goroutine behind once their responses are done with.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60")
			if r.URL.Path == "/nostore" {
				w.Header().Set("Cache-Control", "no-store")
			}
			for range 20 {
				io.WriteString(w, strings.Repeat("z", 10000))
			}
		})
		defer o.Close()
		c := newTestCache(t, nil, true, Config{Upstream: tr})
		defer c.Close()
		for i := range 20 {
			path := fmt.Sprintf("%s/%d", o.URL, i%5)
			if i%3 == 0 {
				path = o.URL + "/nostore"
			}
			req, _ := http.NewRequest("GET", path, nil)
			resp, err := c.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				io.ReadFull(resp.Body, make([]byte, 10)) // stop early
			} else {
				io.Copy(io.Discard, resp.Body)
			}
			resp.Body.Close()
		}
		mw := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(w, "in-process")
		}))
		srv := httptest.NewServer(mw)
		defer srv.Close()
		for range 3 {
			get(t, srv.URL)
		}
	}()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	eventually(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before+2 })
}

// TestNoCollapseAfterUnstorable: once a key's response could not be
// stored, concurrent requests for it go upstream at once instead of
// waiting for each other.
func TestNoCollapseAfterUnstorable(t *testing.T) {
	release := make(chan struct{})
	var n atomic.Int64
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) > 1 {
			<-release
		}
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, "x")
	})
	c := newTestCache(t, nil, true, Config{})
	do(t, c, "GET", o.URL)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { do(t, c, "GET", o.URL) })
	}
	eventually(t, "all three at the origin together", func() bool { return o.hits.Load() == 4 })
	close(release)
	wg.Wait()
}
