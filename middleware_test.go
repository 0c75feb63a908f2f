package cellar

import (
	"bufio"
	"errors"
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
					case <-time.After(30 * time.Second):
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

// TestHandlerUpstream: with HandlerOptions.Upstream, what the cache
// forwards goes over that RoundTripper (next serves only bypassed
// requests), a transport error lets a stale response be served
// (stale-if-error), and otherwise reaches the ErrorHandler.
func TestHandlerUpstream(t *testing.T) {
	clock := newClock()
	errDown := errors.New("upstream down")
	var failing atomic.Bool
	var sent, nexts atomic.Int64
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent.Add(1)
		if r.URL.Host != "upstream.internal" || !strings.HasPrefix(r.URL.Path, "/base/") || r.Host != "example.com" {
			t.Errorf("sent %s Host %s", r.URL, r.Host)
		}
		if failing.Load() {
			return nil, errDown
		}
		h := http.Header{}
		h.Set("Cache-Control", "max-age=1, stale-if-error=600")
		h.Set("Date", clock.Now().UTC().Format(http.TimeFormat))
		return &http.Response{StatusCode: 200, Header: h, Body: io.NopCloser(strings.NewReader("stored")), ContentLength: 6, Request: r}, nil
	})
	c := newTestCache(t, clock, true, Config{})
	var gotErr error
	h := c.HandlerWith(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nexts.Add(1)
		io.WriteString(w, "from next")
	}), HandlerOptions{Upstream: rt, ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		gotErr = err
		w.WriteHeader(599)
	}})
	serve := func(path string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "http://upstream.internal/base"+path, nil)
		req.Host = "example.com"
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := serve("/s"); rec.Code != 200 || rec.Body.String() != "stored" || sent.Load() != 1 {
		t.Fatalf("fill: %d %q, %d sent", rec.Code, rec.Body.String(), sent.Load())
	}
	clock.Advance(10 * time.Second)
	failing.Store(true)
	if rec := serve("/s"); rec.Code != 200 || rec.Body.String() != "stored" || !strings.Contains(rec.Header().Get("Cache-Status"), "stale-if-error") {
		t.Errorf("stale-if-error: %d %q %v", rec.Code, rec.Body.String(), rec.Header())
	}
	if rec := serve("/none"); rec.Code != 599 || !errors.Is(gotErr, errDown) {
		t.Errorf("nothing stored: %d, ErrorHandler got %v", rec.Code, gotErr)
	}
	if rec := serve("/ws", "Upgrade", "websocket", "Connection", "Upgrade"); rec.Body.String() != "from next" || nexts.Load() != 1 || sent.Load() != 3 {
		t.Errorf("bypass: %q, next called %d times, %d sent", rec.Body.String(), nexts.Load(), sent.Load())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestHandlerWritesStoredBodyWhole: a hit's body from the memory store
// reaches the handler's writer in as few writes as the store holds it
// (one per 64 KiB chunk), and a stored body of unknown type is counted.
func TestHandlerWritesStoredBodyWhole(t *testing.T) {
	body := strings.Repeat("b", 100<<10)
	m := newCountingMetrics()
	c := newTestCache(t, nil, true, Config{Metrics: m})
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, body)
	}))
	for i := range 2 {
		w := &countingWriter{ResponseRecorder: httptest.NewRecorder()}
		h.ServeHTTP(w, httptest.NewRequest("GET", "http://example.com/big", nil))
		if w.Body.String() != body {
			t.Fatalf("request %d: %d bytes", i, w.Body.Len())
		}
		if i == 1 && w.writes > 2 {
			t.Errorf("hit: %d writes for 100 KiB", w.writes)
		}
	}
	m.snapshot(func(m *countingMetrics) {
		if m.bytes[SourceCache] != int64(len(body)) {
			t.Errorf("bytes from cache %d", m.bytes[SourceCache])
		}
	})
}

type countingWriter struct {
	*httptest.ResponseRecorder
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.ResponseRecorder.Write(p)
}
