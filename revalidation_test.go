package cellar

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRevalidation304WithoutValidator_RFC9111_4_3_4: an origin that answers
// the cache's conditional request with a 304 carrying no ETag nor
// Last-Modified confirms the one stored response whose validators the
// request carried: one upstream request, not a second unconditional one.
func TestRevalidation304WithoutValidator_RFC9111_4_3_4(t *testing.T) {
	modes(t, func(t *testing.T, shared bool) {
		clock := newClock()
		var conditional atomic.Int64
		o := newOrigin(t, clock, func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("If-None-Match") != "" {
				conditional.Add(1)
				w.Header().Set("Cache-Control", "max-age=100")
				w.WriteHeader(http.StatusNotModified) // no ETag: RFC 9110 §15.4.5 broken
				return
			}
			w.Header().Set("Cache-Control", "max-age=10")
			w.Header().Set("ETag", `"v1"`)
			io.WriteString(w, "body-v1")
		})
		c := newTestCache(t, clock, shared, Config{})
		do(t, c, "GET", o.URL)
		clock.Advance(20 * time.Second)
		r := do(t, c, "GET", o.URL)
		if r.status != 200 || r.body != "body-v1" || !strings.Contains(r.cacheStatus(), "fwd=stale; fwd-status=304") {
			t.Fatalf("after 304: %d %q %q", r.status, r.body, r.cacheStatus())
		}
		if n := o.hits.Load(); n != 2 || conditional.Load() != 1 {
			t.Fatalf("origin hits = %d (%d conditional), want 2 (1)", n, conditional.Load())
		}
		// The 304's freshness was stored.
		clock.Advance(50 * time.Second)
		if r := do(t, c, "GET", o.URL); !strings.Contains(r.cacheStatus(), "hit") || o.hits.Load() != 2 {
			t.Errorf("after update: hits=%d %q", o.hits.Load(), r.cacheStatus())
		}
	})
}

// TestRevalidationRefetchKeepsStaleIfError_RFC5861_4: when a 304 identifies
// nothing and the request is sent again, a failure of that second request
// still serves the stale response that stale-if-error allows, with
// Cache-Status fwd=stale.
func TestRevalidationRefetchKeepsStaleIfError_RFC5861_4(t *testing.T) {
	for _, failure := range []string{"503", "reset"} {
		t.Run(failure, func(t *testing.T) {
			clock := newClock()
			var down atomic.Bool
			o := newOrigin(t, clock, func(w http.ResponseWriter, r *http.Request) {
				if !down.Load() {
					w.Header().Set("Cache-Control", "max-age=10, stale-if-error=3600")
					w.Header().Set("ETag", `"v1"`)
					io.WriteString(w, "good")
					return
				}
				if r.Header.Get("If-None-Match") != "" {
					w.Header().Set("ETag", `"other"`) // matches nothing stored
					w.WriteHeader(http.StatusNotModified)
					return
				}
				if failure == "reset" {
					conn, _, err := w.(http.Hijacker).Hijack()
					if err == nil {
						conn.Close()
					}
					return
				}
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, "down")
			})
			c := newTestCache(t, clock, true, Config{})
			do(t, c, "GET", o.URL)
			down.Store(true)
			clock.Advance(20 * time.Second)
			r := do(t, c, "GET", o.URL)
			cs := r.cacheStatus()
			if r.status != 200 || r.body != "good" || !strings.Contains(cs, "detail=stale-if-error") || !strings.Contains(cs, "fwd=stale") {
				t.Fatalf("got %d %q %q", r.status, r.body, cs)
			}
			if failure == "503" && !strings.Contains(cs, "fwd-status=503") {
				t.Errorf("Cache-Status = %q, want fwd-status=503", cs)
			}
		})
	}
}

// TestHeadDisagreeingMarksStale_RFC9111_4_3_5: a 200 to a HEAD validation
// whose ETag differs from the stored GET response's goes to the client,
// and the stored response, fresh until then, must be validated before its
// next use.
func TestHeadDisagreeingMarksStale_RFC9111_4_3_5(t *testing.T) {
	modes(t, func(t *testing.T, shared bool) {
		clock := newClock()
		var version atomic.Int64
		version.Store(1)
		o := newOrigin(t, clock, func(w http.ResponseWriter, r *http.Request) {
			etag := `"v` + string(rune('0'+version.Load())) + `"`
			w.Header().Set("Cache-Control", "max-age=600")
			w.Header().Set("ETag", etag)
			if r.Header.Get("If-None-Match") == etag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			io.WriteString(w, "body"+etag)
		})
		c := newTestCache(t, clock, shared, Config{})
		do(t, c, "GET", o.URL)
		version.Store(2)
		r := do(t, c, "HEAD", o.URL, "Cache-Control", "no-cache")
		if r.status != 200 || r.header.Get("Etag") != `"v2"` || r.body != "" {
			t.Fatalf("HEAD: %d %q %q", r.status, r.header.Get("Etag"), r.body)
		}
		if n := o.hits.Load(); n != 2 {
			t.Fatalf("origin hits = %d, want 2", n)
		}
		r = do(t, c, "GET", o.URL)
		if r.body != `body"v2"` || o.hits.Load() != 3 {
			t.Errorf("GET after the HEAD: %q, origin hits %d; want the new body from the origin", r.body, o.hits.Load())
		}
	})
}

// TestRevalidation304WithClientTag_RFC9110_15_4_5: when the cache merged the
// client's entity tags into its validation and the 304 carries one of the
// client's (not a stored one), the 304 answers the client's conditional
// and goes to it as it is, without a second request.
func TestRevalidation304WithClientTag_RFC9110_15_4_5(t *testing.T) {
	clock := newClock()
	o := newOrigin(t, clock, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10")
		if strings.Contains(r.Header.Get("If-None-Match"), `"v2"`) {
			w.Header().Set("ETag", `"v2"`)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		io.WriteString(w, "body-v1")
	})
	c := newTestCache(t, clock, true, Config{})
	do(t, c, "GET", o.URL)
	clock.Advance(20 * time.Second)
	r := do(t, c, "GET", o.URL, "If-None-Match", `"v2"`)
	if r.status != 304 || r.header.Get("Etag") != `"v2"` || o.hits.Load() != 2 {
		t.Fatalf("got %d ETag %q, origin hits %d; want the origin's 304 after one request", r.status, r.header.Get("Etag"), o.hits.Load())
	}
}
