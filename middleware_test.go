package cellar

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// newMiddlewareServer serves h behind the cache as Middleware builds it.
func newMiddlewareServer(t *testing.T, cfg Config, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	if cfg.Store == nil {
		cfg.Store = newMemStore(t)
	}
	mw, err := Middleware(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	srv := httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		h(w, r)
	})))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func get(t *testing.T, url string, hdr ...string) result {
	t.Helper()
	return do(t, http.DefaultTransport, "GET", url, hdr...)
}

func TestMiddlewareSharedCache(t *testing.T) {
	srv, calls := newMiddlewareServer(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Host != "" || r.RequestURI != r.URL.RequestURI() {
			t.Errorf("handler got a client request: URL %q, RequestURI %q", r.URL, r.RequestURI)
		}
		if r.Method == "POST" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "page "+r.URL.Path)
	})
	r := get(t, srv.URL+"/p?q=1")
	if r.status != 200 || r.body != "page /p" || !strings.Contains(r.cacheStatus(), "fwd=uri-miss") {
		t.Fatalf("miss: %d %q %q", r.status, r.body, r.cacheStatus())
	}
	r = get(t, srv.URL+"/p?q=1")
	if r.body != "page /p" || !strings.Contains(r.cacheStatus(), "hit") || calls.Load() != 1 {
		t.Fatalf("hit: %q %q calls=%d", r.body, r.cacheStatus(), calls.Load())
	}
	// Shared: a request with Authorization is not answered from or stored
	// in the cache (RFC 9111 §3.5).
	get(t, srv.URL+"/auth", "Authorization", "Basic eA==")
	get(t, srv.URL+"/auth", "Authorization", "Basic eA==")
	if calls.Load() != 3 {
		t.Errorf("calls = %d, want 3", calls.Load())
	}
	// HEAD from the stored GET, without calling the handler.
	resp, err := http.Head(srv.URL + "/p?q=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != 7 || calls.Load() != 3 {
		t.Errorf("HEAD: %d CL=%d calls=%d", resp.StatusCode, resp.ContentLength, calls.Load())
	}
	// POST invalidates.
	resp, err = http.Post(srv.URL+"/p?q=1", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	get(t, srv.URL+"/p?q=1")
	if calls.Load() != 5 {
		t.Errorf("calls = %d, want 5", calls.Load())
	}
}

// TestMiddlewareFlush: an event stream reaches the client as the handler
// flushes it, whether the response is stored or not.
func TestMiddlewareFlush(t *testing.T) {
	for _, cc := range []string{"no-store", "max-age=60"} {
		t.Run(cc, func(t *testing.T) {
			next := make(chan struct{})
			srv, _ := newMiddlewareServer(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				w.Header().Set("Cache-Control", cc)
				for i := range 3 {
					io.WriteString(w, "data: "+string(rune('a'+i))+"\n\n")
					w.(http.Flusher).Flush()
					select {
					case <-next:
					case <-time.After(5 * time.Second):
						t.Error("the client did not get the event before the next was written")
						return
					}
				}
			})
			resp, err := http.Get(srv.URL + "/events")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			for i := range 3 {
				line, err := br.ReadString('\n')
				if err != nil || line != "data: "+string(rune('a'+i))+"\n" {
					t.Fatalf("event %d: %q %v", i, line, err)
				}
				br.ReadString('\n')
				next <- struct{}{}
			}
		})
	}
}

func TestMiddlewareUpgradeBypass(t *testing.T) {
	srv, _ := newMiddlewareServer(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Hijacker); !ok {
			http.Error(w, "no hijacker", 500)
			return
		}
		io.WriteString(w, "real writer")
	})
	r := get(t, srv.URL, "Upgrade", "websocket", "Connection", "Upgrade")
	if r.body != "real writer" || !strings.Contains(r.cacheStatus(), "fwd=bypass") {
		t.Errorf("upgrade: %q %q", r.body, r.cacheStatus())
	}
}

// TestMiddlewareBrokenHandler: a handler that panics mid-body, or writes
// less than its Content-Length, gives the client an error, and nothing is
// stored.
func TestMiddlewareBrokenHandler(t *testing.T) {
	for _, name := range []string{"panic", "short"} {
		t.Run(name, func(t *testing.T) {
			srv, calls := newMiddlewareServer(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60")
				w.Header().Set("Content-Length", "100")
				io.WriteString(w, "partial")
				if name == "panic" {
					panic("boom")
				}
			})
			for range 2 {
				// The connection is aborted: before the header (an error
				// from the client) or after it (a body read error).
				resp, err := http.Get(srv.URL)
				if err == nil {
					b, rerr := io.ReadAll(resp.Body)
					resp.Body.Close()
					if rerr == nil {
						t.Fatalf("broken body read without error: %d %q", resp.StatusCode, b)
					}
				}
			}
			if calls.Load() != 2 {
				t.Errorf("calls = %d: the broken response was stored", calls.Load())
			}
		})
	}
}

func TestMiddlewareHandlerError(t *testing.T) {
	srv, _ := newMiddlewareServer(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		panic("before any output")
	})
	r := get(t, srv.URL)
	if r.status != http.StatusBadGateway {
		t.Errorf("status %d, want 502", r.status)
	}
}
