package cellar

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cellar-http/cellar/store"
)

func TestFreshHitAndMissStore(t *testing.T) {
	modes(t, func(t *testing.T, shared bool) {
		clock := newClock()
		o := newOrigin(t, clock, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60")
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "hello")
		})
		c := newTestCache(t, clock, shared, Config{})
		r1 := do(t, c, "GET", o.URL+"/a")
		if r1.status != 200 || r1.body != "hello" || r1.err != nil {
			t.Fatalf("miss: %d %q %v", r1.status, r1.body, r1.err)
		}
		if cs := r1.cacheStatus(); !strings.Contains(cs, "Cellar; fwd=uri-miss; fwd-status=200") || !strings.Contains(cs, "stored") {
			t.Errorf("miss Cache-Status = %q", cs)
		}
		clock.Advance(10 * time.Second)
		r2 := do(t, c, "GET", o.URL+"/a")
		if r2.status != 200 || r2.body != "hello" {
			t.Fatalf("hit: %d %q", r2.status, r2.body)
		}
		if cs := r2.cacheStatus(); !strings.HasPrefix(cs, "Cellar; hit; ttl=50") {
			t.Errorf("hit Cache-Status = %q", cs)
		}
		if got := r2.header.Get("Age"); got != "10" {
			t.Errorf("Age = %q, want 10", got)
		}
		if r2.header.Get("Content-Length") != "5" {
			t.Errorf("Content-Length = %q", r2.header.Get("Content-Length"))
		}
		if n := o.hits.Load(); n != 1 {
			t.Errorf("origin hits = %d, want 1", n)
		}
		if tr := r2.trace; tr == nil || len(tr.Steps) == 0 || tr.Steps[0].State != "FromCache" || tr.Steps[0].Reason.Code != "fresh" {
			t.Errorf("trace = %+v", tr)
		}
	})
}

func TestNotStorable(t *testing.T) {
	modes(t, func(t *testing.T, shared bool) {
		o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			io.WriteString(w, "x")
		})
		c := newTestCache(t, nil, shared, Config{})
		for range 3 {
			r := do(t, c, "GET", o.URL)
			if r.body != "x" || !strings.Contains(r.cacheStatus(), "detail=no-store") {
				t.Fatalf("got %q %q", r.body, r.cacheStatus())
			}
		}
		if n := o.hits.Load(); n != 3 {
			t.Errorf("origin hits = %d, want 3", n)
		}
	})
}

// TestSharedPrivateDifferences: private responses and requests with
// Authorization are stored by a private cache only (RFC 9111 §3, §3.5).
func TestSharedPrivateDifferences(t *testing.T) {
	modes(t, func(t *testing.T, shared bool) {
		o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/private" {
				w.Header().Set("Cache-Control", "private, max-age=60")
			} else {
				w.Header().Set("Cache-Control", "max-age=60")
			}
			io.WriteString(w, "x")
		})
		c := newTestCache(t, nil, shared, Config{})
		do(t, c, "GET", o.URL+"/private")
		do(t, c, "GET", o.URL+"/private")
		do(t, c, "GET", o.URL+"/auth", "Authorization", "Bearer x")
		do(t, c, "GET", o.URL+"/auth", "Authorization", "Bearer x")
		want := int64(2)
		if shared {
			want = 4
		}
		if n := o.hits.Load(); n != want {
			t.Errorf("origin hits = %d, want %d", n, want)
		}
	})
}

func TestRevalidation304UpdatesHeaders(t *testing.T) {
	modes(t, func(t *testing.T, shared bool) {
		clock := newClock()
		var version atomic.Int64
		version.Store(1)
		o := newOrigin(t, clock, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=10")
			w.Header().Set("ETag", `"v1"`)
			w.Header().Set("X-Version", fmt.Sprint(version.Load()))
			if r.Header.Get("If-None-Match") == `"v1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			io.WriteString(w, "body-v1")
		})
		c := newTestCache(t, clock, shared, Config{})
		do(t, c, "GET", o.URL)
		version.Store(2)
		clock.Advance(20 * time.Second)
		r := do(t, c, "GET", o.URL)
		if r.status != 200 || r.body != "body-v1" || r.header.Get("X-Version") != "2" {
			t.Fatalf("after 304: %d %q X-Version=%q", r.status, r.body, r.header.Get("X-Version"))
		}
		if cs := r.cacheStatus(); !strings.Contains(cs, "fwd=stale; fwd-status=304") {
			t.Errorf("Cache-Status = %q", cs)
		}
		if o.hits.Load() != 2 {
			t.Fatalf("origin hits = %d", o.hits.Load())
		}
		// The update was stored: fresh again, with the new header.
		r = do(t, c, "GET", o.URL)
		if o.hits.Load() != 2 || r.header.Get("X-Version") != "2" || !strings.Contains(r.cacheStatus(), "hit") {
			t.Errorf("after update: hits=%d X-Version=%q %q", o.hits.Load(), r.header.Get("X-Version"), r.cacheStatus())
		}
	})
}

func TestRevalidation200Replaces(t *testing.T) {
	modes(t, func(t *testing.T, shared bool) {
		clock := newClock()
		var version atomic.Int64
		version.Store(1)
		o := newOrigin(t, clock, func(w http.ResponseWriter, r *http.Request) {
			v := version.Load()
			etag := fmt.Sprintf(`"v%d"`, v)
			w.Header().Set("Cache-Control", "max-age=10")
			w.Header().Set("ETag", etag)
			if r.Header.Get("If-None-Match") == etag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			fmt.Fprintf(w, "body-v%d", v)
		})
		c := newTestCache(t, clock, shared, Config{})
		do(t, c, "GET", o.URL)
		version.Store(2)
		clock.Advance(20 * time.Second)
		if r := do(t, c, "GET", o.URL); r.body != "body-v2" {
			t.Fatalf("after change: %q", r.body)
		}
		if r := do(t, c, "GET", o.URL); r.body != "body-v2" || !strings.Contains(r.cacheStatus(), "hit") {
			t.Fatalf("replaced entry: %q %q", r.body, r.cacheStatus())
		}
		if n := len(entries(t, c.Store(), o.URL)); n != 1 {
			t.Errorf("%d entries stored, want 1", n)
		}
	})
}

func TestVaryVariants(t *testing.T) {
	modes(t, func(t *testing.T, shared bool) {
		o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60")
			w.Header().Set("Vary", "Accept-Language")
			io.WriteString(w, "lang:"+r.Header.Get("Accept-Language"))
		})
		c := newTestCache(t, nil, shared, Config{})
		for range 2 {
			for _, lang := range []string{"en", "fr"} {
				if r := do(t, c, "GET", o.URL, "Accept-Language", lang); r.body != "lang:"+lang {
					t.Fatalf("%s: %q", lang, r.body)
				}
			}
		}
		if n := o.hits.Load(); n != 2 {
			t.Errorf("origin hits = %d, want 2", n)
		}
		r := do(t, c, "GET", o.URL, "Accept-Language", "de")
		if !strings.Contains(r.cacheStatus(), "fwd=vary-miss") {
			t.Errorf("third language: %q", r.cacheStatus())
		}
	})
}

func TestInvalidationByUnsafeMethod(t *testing.T) {
	modes(t, func(t *testing.T, shared bool) {
		o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
			if r.Method == "POST" {
				w.Header().Set("Location", "/other")
				w.WriteHeader(http.StatusCreated)
				return
			}
			w.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(w, r.URL.Path)
		})
		c := newTestCache(t, nil, shared, Config{})
		do(t, c, "GET", o.URL+"/res")
		do(t, c, "GET", o.URL+"/other")
		if o.hits.Load() != 2 {
			t.Fatal("not stored")
		}
		r := do(t, c, "POST", o.URL+"/res")
		if r.status != 201 || !strings.Contains(r.cacheStatus(), "fwd=method") {
			t.Fatalf("POST: %d %q", r.status, r.cacheStatus())
		}
		do(t, c, "GET", o.URL+"/res")
		do(t, c, "GET", o.URL+"/other")
		if n := o.hits.Load(); n != 5 {
			t.Errorf("origin hits = %d, want 5 (both invalidated)", n)
		}
		// An error response invalidates nothing (§4.4).
		do(t, c, "GET", o.URL+"/res")
		if n := o.hits.Load(); n != 5 {
			t.Errorf("origin hits = %d, want 5", n)
		}
	})
}

func TestHeadFromStoredGet(t *testing.T) {
	modes(t, func(t *testing.T, shared bool) {
		o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(w, "0123456789")
		})
		c := newTestCache(t, nil, shared, Config{})
		do(t, c, "GET", o.URL)
		req, _ := http.NewRequest("HEAD", o.URL, nil)
		resp, err := c.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(b) != 0 || resp.Header.Get("Content-Length") != "10" || resp.ContentLength != 10 {
			t.Fatalf("HEAD: %d body=%q CL=%q %d", resp.StatusCode, b, resp.Header.Get("Content-Length"), resp.ContentLength)
		}
		if !strings.Contains(resp.Header.Get("Cache-Status"), "hit") || o.hits.Load() != 1 {
			t.Errorf("HEAD not from cache: %q hits=%d", resp.Header.Get("Cache-Status"), o.hits.Load())
		}
	})
}

func TestRangeFromStoredComplete(t *testing.T) {
	modes(t, func(t *testing.T, shared bool) {
		o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60")
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("ETag", `"abc"`)
			io.WriteString(w, "0123456789abcdefghij")
		})
		c := newTestCache(t, nil, shared, Config{})
		do(t, c, "GET", o.URL)
		r := do(t, c, "GET", o.URL, "Range", "bytes=2-5")
		if r.status != 206 || r.body != "2345" || r.header.Get("Content-Range") != "bytes 2-5/20" {
			t.Fatalf("single range: %d %q %q", r.status, r.body, r.header.Get("Content-Range"))
		}
		r = do(t, c, "GET", o.URL, "Range", "bytes=0-1,18-")
		mt, params, err := mime.ParseMediaType(r.header.Get("Content-Type"))
		if r.status != 206 || err != nil || mt != "multipart/byteranges" {
			t.Fatalf("multi: %d %q %v", r.status, r.header.Get("Content-Type"), err)
		}
		if r.header.Get("Content-Length") != fmt.Sprint(len(r.body)) {
			t.Errorf("Content-Length %q, body %d bytes", r.header.Get("Content-Length"), len(r.body))
		}
		mr := multipart.NewReader(strings.NewReader(r.body), params["boundary"])
		var parts []string
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(p)
			parts = append(parts, p.Header.Get("Content-Range")+"="+string(b))
		}
		if got := strings.Join(parts, " "); got != "bytes 0-1/20=01 bytes 18-19/20=ij" {
			t.Errorf("parts = %q", got)
		}
		r = do(t, c, "GET", o.URL, "Range", "bytes=50-")
		if r.status != 416 || r.header.Get("Content-Range") != "bytes */20" {
			t.Errorf("unsatisfiable: %d %q", r.status, r.header.Get("Content-Range"))
		}
		if o.hits.Load() != 1 {
			t.Errorf("origin hits = %d", o.hits.Load())
		}
	})
}

func TestConditionalFromCache(t *testing.T) {
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"abc"`)
		io.WriteString(w, "x")
	})
	c := newTestCache(t, nil, false, Config{})
	do(t, c, "GET", o.URL)
	r := do(t, c, "GET", o.URL, "If-None-Match", `"abc"`)
	if r.status != 304 || r.body != "" || o.hits.Load() != 1 {
		t.Errorf("conditional: %d %q hits=%d", r.status, r.body, o.hits.Load())
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	modes(t, func(t *testing.T, shared bool) {
		clock := newClock()
		var version atomic.Int64
		version.Store(1)
		refreshed := make(chan struct{}, 10)
		release := make(chan struct{})
		o := newOrigin(t, clock, func(w http.ResponseWriter, r *http.Request) {
			if version.Load() > 1 {
				<-release // until the stale response was served
				defer func() { refreshed <- struct{}{} }()
			}
			w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=100")
			fmt.Fprintf(w, "v%d", version.Load())
		})
		m := newCountingMetrics()
		c := newTestCache(t, clock, shared, Config{Metrics: m})
		do(t, c, "GET", o.URL)
		version.Store(2)
		clock.Advance(20 * time.Second)
		r := do(t, c, "GET", o.URL)
		if r.body != "v1" || !strings.Contains(r.cacheStatus(), "detail=stale-while-revalidate") {
			t.Fatalf("stale: %q %q %v hits=%d", r.body, r.cacheStatus(), r.trace, o.hits.Load())
		}
		// A second stale request while the refresh is under way is served
		// stale too, and starts no second refresh.
		if r := do(t, c, "GET", o.URL); r.body != "v1" {
			t.Fatalf("second stale: %q", r.body)
		}
		close(release)
		select {
		case <-refreshed:
		case <-time.After(30 * time.Second):
			t.Fatal("no background refresh")
		}
		eventually(t, "the refresh to be stored", func() bool {
			return do(t, c, "GET", o.URL).body == "v2"
		})
		if n := o.hits.Load(); n != 2 {
			t.Errorf("origin hits = %d, want 2", n)
		}
		eventually(t, "Refreshed metric", func() bool {
			n := 0
			m.snapshot(func(m *countingMetrics) { n = m.refreshed })
			return n == 1
		})
	})
}

func TestStaleIfError(t *testing.T) {
	modes(t, func(t *testing.T, shared bool) {
		t.Run("5xx", func(t *testing.T) {
			clock := newClock()
			var failing atomic.Bool
			o := newOrigin(t, clock, func(w http.ResponseWriter, r *http.Request) {
				if failing.Load() {
					w.WriteHeader(http.StatusServiceUnavailable)
					io.WriteString(w, "down")
					return
				}
				w.Header().Set("Cache-Control", "max-age=10, stale-if-error=100")
				io.WriteString(w, "good")
			})
			c := newTestCache(t, clock, shared, Config{})
			do(t, c, "GET", o.URL)
			failing.Store(true)
			clock.Advance(20 * time.Second)
			r := do(t, c, "GET", o.URL)
			if r.status != 200 || r.body != "good" || !strings.Contains(r.cacheStatus(), "fwd-status=503") || !strings.Contains(r.cacheStatus(), "detail=stale-if-error") {
				t.Fatalf("got %d %q %q", r.status, r.body, r.cacheStatus())
			}
		})
		t.Run("closed-origin", func(t *testing.T) {
			clock := newClock()
			o := newOrigin(t, clock, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=10, stale-if-error=100")
				io.WriteString(w, "good")
			})
			c := newTestCache(t, clock, shared, Config{})
			do(t, c, "GET", o.URL)
			o.Close()
			clock.Advance(20 * time.Second)
			r := do(t, c, "GET", o.URL)
			if r.status != 200 || r.body != "good" || !strings.Contains(r.cacheStatus(), "detail=stale-if-error") {
				t.Fatalf("got %d %q %q", r.status, r.body, r.cacheStatus())
			}
		})
	})
}

func TestMustRevalidateUnreachable(t *testing.T) {
	modes(t, func(t *testing.T, shared bool) {
		clock := newClock()
		o := newOrigin(t, clock, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=10, must-revalidate, stale-if-error=100")
			io.WriteString(w, "good")
		})
		c := newTestCache(t, clock, shared, Config{Spec: specWithBudget()})
		do(t, c, "GET", o.URL)
		o.Close()
		clock.Advance(20 * time.Second)
		req, _ := http.NewRequest("GET", o.URL, nil)
		resp, err := c.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("must-revalidate served %d %q, want an error", resp.StatusCode, resp.Header.Get("Cache-Status"))
		}
	})
}

func TestOnlyIfCached(t *testing.T) {
	modes(t, func(t *testing.T, shared bool) {
		o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(w, "x")
		})
		c := newTestCache(t, nil, shared, Config{})
		r := do(t, c, "GET", o.URL, "Cache-Control", "only-if-cached")
		if r.status != 504 || o.hits.Load() != 0 {
			t.Fatalf("cold only-if-cached: %d hits=%d", r.status, o.hits.Load())
		}
		do(t, c, "GET", o.URL)
		r = do(t, c, "GET", o.URL, "Cache-Control", "only-if-cached")
		if r.status != 200 || r.body != "x" || o.hits.Load() != 1 {
			t.Fatalf("warm only-if-cached: %d hits=%d", r.status, o.hits.Load())
		}
	})
}

func TestStoreUnavailablePassesThrough(t *testing.T) {
	modes(t, func(t *testing.T, shared bool) {
		o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(w, "x")
		})
		fs := &faultStore{Store: newMemStore(t)}
		c := newTestCache(t, nil, shared, Config{Store: fs})
		unavailable := fmt.Errorf("dial: %w", store.ErrUnavailable)

		fs.set(func(f *faultStore) { f.lookup = unavailable })
		for range 3 {
			r := do(t, c, "GET", o.URL)
			if r.status != 200 || r.body != "x" || !strings.Contains(r.cacheStatus(), "fwd=bypass") {
				t.Fatalf("lookup down: %d %q %q", r.status, r.body, r.cacheStatus())
			}
		}
		fs.set(func(f *faultStore) { f.lookup, f.create = nil, unavailable })
		if r := do(t, c, "GET", o.URL); r.status != 200 || r.body != "x" || !strings.Contains(r.cacheStatus(), "detail=store-create") {
			t.Fatalf("create down: %d %q %q", r.status, r.body, r.cacheStatus())
		}
		fs.set(func(f *faultStore) { f.create, f.write = nil, unavailable })
		if r := do(t, c, "GET", o.URL); r.status != 200 || r.body != "x" || r.err != nil {
			t.Fatalf("write down: %d %q %v", r.status, r.body, r.err)
		}
		fs.set(func(f *faultStore) { f.write = nil })
		do(t, c, "GET", o.URL) // stored now
		fs.set(func(f *faultStore) { f.open = unavailable })
		if r := do(t, c, "GET", o.URL); r.status != 200 || r.body != "x" || !strings.Contains(r.cacheStatus(), "detail=store-open") {
			t.Fatalf("open down: %d %q %q", r.status, r.body, r.cacheStatus())
		}
		fs.set(func(f *faultStore) { f.open = fmt.Errorf("gone: %w", store.ErrNotFound) })
		if r := do(t, c, "GET", o.URL); r.status != 200 || r.body != "x" || !strings.Contains(r.cacheStatus(), "fwd=") {
			t.Fatalf("entry vanished: %d %q %q", r.status, r.body, r.cacheStatus())
		}
		if n := o.hits.Load(); n != 8 {
			t.Errorf("origin hits = %d, want 8", n)
		}
	})
}

func TestBypassUpgradeAndConnect(t *testing.T) {
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "x")
	})
	c := newTestCache(t, nil, true, Config{})
	for range 2 {
		r := do(t, c, "GET", o.URL, "Upgrade", "websocket", "Connection", "Upgrade")
		if !strings.Contains(r.cacheStatus(), "fwd=bypass") {
			t.Fatalf("upgrade: %q", r.cacheStatus())
		}
	}
	if o.hits.Load() != 2 || len(entries(t, c.Store(), o.URL)) != 0 {
		t.Errorf("upgrade requests touched the cache")
	}
}

func TestTraceAndMetrics(t *testing.T) {
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "12345")
	})
	m := newCountingMetrics()
	c := newTestCache(t, nil, false, Config{Metrics: m})
	r := do(t, c, "GET", o.URL)
	if r.trace == nil || len(r.trace.Steps) != 2 || r.trace.Steps[0].State != "CacheMiss" || r.trace.Steps[1].State != "StoreAndUse" {
		t.Fatalf("miss trace: %+v", r.trace)
	}
	var tr Trace
	req, _ := http.NewRequestWithContext(WithTrace(t.Context(), &tr), "GET", o.URL, nil)
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(tr.Steps) != 1 || tr.Steps[0].Reason.Section != "RFC 9111 §4.2" || !strings.Contains(tr.CacheStatus, "hit") {
		t.Errorf("WithTrace: %+v", tr)
	}
	m.snapshot(func(m *countingMetrics) {
		if m.served[OutcomeMiss] != 1 || m.served[OutcomeHit] != 1 || m.stored != 1 || m.bytes[SourceCache] != 5 || m.bytes[SourceUpstream] != 5 {
			t.Errorf("metrics: %+v", m)
		}
	})
}

func TestForceTTLAndBodyKey(t *testing.T) {
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, "echo:"+string(b))
	})
	c := newTestCache(t, nil, true, Config{
		Spec:     specMethods("GET", "HEAD", "POST"),
		ForceTTL: func(r *http.Request) (time.Duration, bool) { return time.Minute, r.URL.Path == "/graphql" },
		BodyKey:  func(r *http.Request) bool { return r.Method == "POST" },
	})
	post := func(body string) result {
		req, _ := http.NewRequest("POST", o.URL+"/graphql", strings.NewReader(body))
		resp, err := c.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return result{status: resp.StatusCode, header: resp.Header, body: string(b)}
	}
	for range 2 {
		for _, q := range []string{"{a}", "{b}"} {
			if r := post(q); r.body != "echo:"+q {
				t.Fatalf("%s: %q", q, r.body)
			}
		}
	}
	if n := o.hits.Load(); n != 2 {
		t.Errorf("origin hits = %d, want 2 (one per body)", n)
	}
	// Without the force, no-store holds.
	do(t, c, "GET", o.URL+"/other")
	do(t, c, "GET", o.URL+"/other")
	if n := o.hits.Load(); n != 4 {
		t.Errorf("origin hits = %d, want 4", n)
	}
	// A per-request override turns the force off.
	req, _ := http.NewRequestWithContext(WithForceTTL(t.Context(), 0), "POST", o.URL+"/graphql", strings.NewReader("{c}"))
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if s := resp.Header.Get("Cache-Status"); !strings.Contains(s, "no-store") {
		t.Errorf("override: %q", s)
	}
}

func TestUpstreamErrorWithoutStale(t *testing.T) {
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {})
	o.Close()
	c := newTestCache(t, nil, false, Config{})
	req, _ := http.NewRequest("GET", o.URL, nil)
	if _, err := c.RoundTrip(req); err == nil {
		t.Fatal("no error from a closed origin")
	}
}

// TestPartialCombine: two stored 206 responses with a strong validator
// whose ranges touch combine into the complete response (RFC 9111 §3.4).
func TestPartialCombine(t *testing.T) {
	const content = "0123456789abcdefghij"
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"strong"`)
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader(content))
	})
	c := newTestCache(t, nil, true, Config{})
	if r := do(t, c, "GET", o.URL, "Range", "bytes=0-9"); r.status != 206 || r.body != content[:10] {
		t.Fatalf("first part: %d %q", r.status, r.body)
	}
	if r := do(t, c, "GET", o.URL, "Range", "bytes=10-19"); r.status != 206 || r.body != content[10:] {
		t.Fatalf("second part: %d %q", r.status, r.body)
	}
	// The next lookup combines the parts, then serves the range from the
	// combined response.
	r := do(t, c, "GET", o.URL, "Range", "bytes=8-11")
	if r.status != 206 || r.body != content[8:12] || !strings.Contains(r.cacheStatus(), "hit") {
		t.Fatalf("range across the parts: %d %q %q", r.status, r.body, r.cacheStatus())
	}
	if r.trace.Steps[0].State != "PartialUpdate" {
		t.Errorf("trace: %v", r.trace)
	}
	r = do(t, c, "GET", o.URL)
	if r.status != 200 || r.body != content || !strings.Contains(r.cacheStatus(), "hit") {
		t.Fatalf("combined: %d %q %q %v", r.status, r.body, r.cacheStatus(), r.trace)
	}
	if o.hits.Load() != 2 {
		t.Errorf("origin hits = %d, want 2", o.hits.Load())
	}
	if r := do(t, c, "GET", o.URL); r.body != content || o.hits.Load() != 2 {
		t.Errorf("after combining: %q hits=%d", r.body, o.hits.Load())
	}
	// The parts were made to expire (the store has no removal of one
	// variant); a store that honours Expires on lookup no longer lists them.
	if n := len(entries(t, c.Store(), o.URL)); n != 1 {
		t.Logf("%d entries after combining (the parts linger until the store drops them)", n)
	}
}

// TestHostKeying: a request whose Host differs from its URL's host (a
// reverse proxy preserving the client's Host) is keyed on the Host.
func TestHostKeying(t *testing.T) {
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "site "+r.Host)
	})
	c := newTestCache(t, nil, true, Config{})
	get := func(host string) result {
		req, _ := http.NewRequest("GET", o.URL+"/p", nil)
		req.Host = host
		resp, err := c.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return result{body: string(b), header: resp.Header, trace: TraceFrom(resp)}
	}
	for range 2 {
		for _, h := range []string{"a.example", "b.example"} {
			if r := get(h); r.body != "site "+h {
				t.Fatalf("%s: %q", h, r.body)
			}
		}
	}
	if o.hits.Load() != 2 {
		t.Errorf("origin hits = %d, want 2", o.hits.Load())
	}
	if r := get("a.example"); r.trace.Key != "http://a.example/p" {
		t.Errorf("key = %q", r.trace.Key)
	}
}

// TestCloseStopsBackgroundWork: Close cancels a refresh under way and
// waits for it; later stale hits start none.
func TestCloseStopsBackgroundWork(t *testing.T) {
	clock := newClock()
	var refreshing atomic.Bool
	started := make(chan struct{})
	o := newOrigin(t, clock, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=100")
		if refreshing.Load() {
			close(started)
			<-r.Context().Done() // hangs until cancelled
			return
		}
		io.WriteString(w, "v1")
	})
	c := newTestCache(t, clock, false, Config{})
	do(t, c, "GET", o.URL)
	refreshing.Store(true)
	clock.Advance(20 * time.Second)
	do(t, c, "GET", o.URL)
	<-started
	done := make(chan error)
	go func() { done <- c.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not stop the refresh")
	}
	if r := do(t, c, "GET", o.URL); r.body != "v1" || o.hits.Load() != 2 {
		t.Errorf("after Close: %q hits=%d", r.body, o.hits.Load())
	}
}

func TestBodyKeyTooLong(t *testing.T) {
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "%d", len(b))
	})
	c := newTestCache(t, nil, false, Config{
		Spec:         specMethods("GET", "HEAD", "POST"),
		BodyKey:      func(*http.Request) bool { return true },
		BodyKeyLimit: 10,
	})
	req, _ := http.NewRequest("POST", o.URL, strings.NewReader(strings.Repeat("x", 100)))
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "100" || !strings.Contains(resp.Header.Get("Cache-Status"), "fwd=bypass") {
		t.Errorf("long body: %q %q", b, resp.Header.Get("Cache-Status"))
	}
}

// TestBodyWriteTo: io.Copy of a response body (which uses its WriteTo)
// gives the same bytes as reading it, for a miss, a hit, a range of a hit,
// and a hit in a disk-like store without WriteTo, and counts them; reading
// after the copy finds the end.
func TestBodyWriteTo(t *testing.T) {
	body := strings.Repeat("0123456789", 20<<10) // 200 KiB
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, body)
	})
	for _, name := range []string{"memory", "no-writeto"} {
		t.Run(name, func(t *testing.T) {
			m := newCountingMetrics()
			var st store.Store = newMemStore(t)
			if name == "no-writeto" {
				st = readOnlyBodies{st}
			}
			c := newTestCache(t, nil, false, Config{Store: st, Metrics: m})
			copyBody := func(rng string, want string) {
				t.Helper()
				req, _ := http.NewRequest("GET", o.URL+"/b", nil)
				if rng != "" {
					req.Header.Set("Range", rng)
				}
				resp, err := c.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				if _, err := io.Copy(&buf, resp.Body); err != nil || buf.String() != want {
					t.Fatalf("range %q: %d bytes, %v", rng, buf.Len(), err)
				}
				if n, err := resp.Body.Read(make([]byte, 1)); n != 0 || err != io.EOF {
					t.Errorf("read after the copy: %d, %v", n, err)
				}
				resp.Body.Close()
			}
			copyBody("", body) // miss
			copyBody("", body) // hit
			copyBody("bytes=5-14", body[5:15])
			m.snapshot(func(m *countingMetrics) {
				if m.bytes[SourceUpstream] != int64(len(body)) || m.bytes[SourceCache] != int64(len(body)+10) {
					t.Errorf("bytes counted: %v", m.bytes)
				}
			})
		})
	}
}

// readOnlyBodies hides the stored bodies' WriteTo, as the disk store's
// have none.
type readOnlyBodies struct{ store.Store }

func (s readOnlyBodies) Open(ctx context.Context, key, id string) (store.Body, error) {
	b, err := s.Store.Open(ctx, key, id)
	if err != nil {
		return nil, err
	}
	return readOnlyBody{b}, nil
}

type readOnlyBody struct{ store.Body } // only store.Body's methods
