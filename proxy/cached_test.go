package proxy

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cellar-http/cellar"
	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store/memory"
)

// recordTransport answers every request with a fixed response and records
// the requests as they would go on the wire.
type recordTransport struct {
	mu     sync.Mutex
	reqs   []*http.Request
	bodies []string
	answer func(*http.Request) (*http.Response, error)
}

func (rt *recordTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var b []byte
	if r.Body != nil {
		var err error
		if b, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
	}
	rt.mu.Lock()
	rt.reqs = append(rt.reqs, r)
	rt.bodies = append(rt.bodies, string(b))
	rt.mu.Unlock()
	if rt.answer != nil {
		return rt.answer(r)
	}
	return textResponse(r, 200, "body", "Cache-Control", "no-store"), nil
}

func (rt *recordTransport) last() *http.Request {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if len(rt.reqs) == 0 {
		return nil
	}
	return rt.reqs[len(rt.reqs)-1]
}

func (rt *recordTransport) count() int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return len(rt.reqs)
}

func textResponse(r *http.Request, status int, body string, kv ...string) *http.Response {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return &http.Response{StatusCode: status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h,
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}
}

func newTestCache(t testing.TB, clock func() time.Time) *cellar.Cache {
	t.Helper()
	st, err := memory.New(memory.Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cellar.New(cellar.Config{Spec: spec.Options{Shared: true, Clock: clock}, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); st.Close() })
	return c
}

// TestCachedPathSendsWhatDirectSends: a request the cache forwards reaches
// the upstream exactly as the same request forwarded without a cache
// (ReverseProxy with rewrite): URL, Host, hop-by-hop fields removed,
// X-Forwarded-*, Via, User-Agent.
func TestCachedPathSendsWhatDirectSends(t *testing.T) {
	up, _ := url.Parse("http://origin.internal:9000/base?u=1")
	build := func(i int) *http.Request {
		return []func() *http.Request{
			func() *http.Request {
				r := httptest.NewRequest("GET", "http://cache.example/a?b=c", nil)
				r.Header.Set("User-Agent", "test")
				return r
			},
			func() *http.Request {
				r := httptest.NewRequest("GET", "http://cache.example/no-ua", nil)
				r.Header.Del("User-Agent")
				return r
			},
			func() *http.Request {
				r := httptest.NewRequest("GET", "http://cache.example/fwd", nil)
				r.Header["X-Forwarded-For"] = []string{"10.0.0.1", "10.0.0.2"}
				r.Header.Set("X-Forwarded-Host", "evil.example")
				r.Header.Set("X-Forwarded-Proto", "https")
				r.Header.Set("Forwarded", "for=10.9.9.9")
				r.Header.Set("Via", "1.1 other")
				return r
			},
			func() *http.Request {
				r := httptest.NewRequest("GET", "http://cache.example/hop", nil)
				r.Header.Set("Connection", "x-secret, Keep-Alive")
				r.Header.Set("X-Secret", "1")
				r.Header.Set("Keep-Alive", "timeout=5")
				r.Header.Set("Proxy-Connection", "keep-alive")
				r.Header.Set("Te", "deflate, trailers")
				r.Header.Set("Trailer", "X-T")
				r.Header.Set("X-Kept", "yes")
				return r
			},
			func() *http.Request {
				return httptest.NewRequest("GET", "http://cache.example/semi?a=1;b=2&c=%zz&d=4", nil)
			},
			func() *http.Request {
				return httptest.NewRequest("GET", "http://cache.example/esc%2Fpath/x?q", nil)
			},
			func() *http.Request {
				r := httptest.NewRequest("GET", "http://cache.example/h2", nil)
				r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0
				r.TLS = &tls.ConnectionState{}
				return r
			},
			func() *http.Request {
				r := httptest.NewRequest("GET", "http://cache.example/h10", nil)
				r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.0", 1, 0
				r.RemoteAddr = "no-port"
				return r
			},
			func() *http.Request {
				r := httptest.NewRequest("GET", "http://cache.example/nohost", nil)
				r.Host = ""
				return r
			},
		}[i]()
	}
	const n = 9
	send := func(cache Cache) []*http.Request {
		rt := &recordTransport{}
		p, err := New(Config{Upstream: up, Cache: cache, Transport: rt, Name: "Cellar"})
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			rec := httptest.NewRecorder()
			p.ServeHTTP(rec, build(i))
			if rec.Code != 200 || rec.Body.String() != "body" {
				t.Fatalf("request %d: %d %q", i, rec.Code, rec.Body.String())
			}
		}
		return rt.reqs
	}
	direct, cached := send(nil), send(newTestCache(t, nil))
	if len(direct) != n || len(cached) != n {
		t.Fatalf("%d and %d upstream requests", len(direct), len(cached))
	}
	for i := range n {
		d, c := direct[i], cached[i]
		if d.Method != c.Method || d.URL.String() != c.URL.String() || d.Host != c.Host {
			t.Errorf("request %d: direct %s %s Host %q, cached %s %s Host %q", i, d.Method, d.URL, d.Host, c.Method, c.URL, c.Host)
		}
		if !reflect.DeepEqual(d.Header, c.Header) {
			t.Errorf("request %d: header\ndirect %v\ncached %v", i, d.Header, c.Header)
		}
	}
}

// TestCachedPathResponses: through the cache, a miss and a hit carry the
// upstream's Via and Cache-Status members followed by this proxy's, once;
// the hit is counted as such; a bypass (Upgrade) keeps the same order.
// Without Config.ResponseVia, the responses keep the upstream's Via as it
// was (RFC 9110 §7.6.3: a gateway MAY add itself to responses) while the
// requests forwarded still carry this proxy's.
func TestCachedPathResponses(t *testing.T) {
	for _, responseVia := range []bool{true, false} {
		t.Run(fmt.Sprintf("ResponseVia=%v", responseVia), func(t *testing.T) {
			wantVia := []string{"1.1 up"}
			if responseVia {
				wantVia = append(wantVia, "1.1 Cellar")
			}
			testCachedPathResponses(t, responseVia, wantVia)
		})
	}
}

func testCachedPathResponses(t *testing.T, responseVia bool, wantVia []string) {
	up, _ := url.Parse("http://origin.internal")
	rt := &recordTransport{answer: func(r *http.Request) (*http.Response, error) {
		if r.Header.Get("Upgrade") != "" {
			return textResponse(r, 400, "no", "Cache-Status", "Upstream; hit", "Via", "1.1 up"), nil
		}
		return textResponse(r, 200, "cached body", "Cache-Control", "max-age=60", "Via", "1.1 up",
			"Cache-Status", "Upstream; hit", "Connection", "X-Hop", "X-Hop", "drop"), nil
	}}
	obs := &countObserver{}
	p, err := New(Config{Upstream: up, Cache: newTestCache(t, nil), Transport: rt, Name: "Cellar", Metrics: obs, ResponseVia: responseVia})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"uri-miss", "hit"} {
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, httptest.NewRequest("GET", "http://cache.example/x", nil))
		h := rec.Result().Header
		if rec.Code != 200 || rec.Body.String() != "cached body" {
			t.Errorf("%s: %d %q", want, rec.Code, rec.Body.String())
		}
		if got := h.Values("Via"); !reflect.DeepEqual(got, wantVia) {
			t.Errorf("%s: Via %q, want %q", want, got, wantVia)
		}
		if cs := h.Values("Cache-Status"); len(cs) != 2 || cs[0] != "Upstream; hit" || !strings.HasPrefix(cs[1], "Cellar; ") {
			t.Errorf("%s: Cache-Status %q", want, cs)
		}
		if h.Get("X-Hop") != "" {
			t.Errorf("%s: hop-by-hop field served", want)
		}
		if obs.labels[i] != want {
			t.Errorf("label %q, want %q", obs.labels[i], want)
		}
	}
	if rt.count() != 1 {
		t.Errorf("%d upstream requests, want 1", rt.count())
	}
	if got := rt.last().Header.Values("Via"); !reflect.DeepEqual(got, []string{"1.1 Cellar"}) {
		t.Errorf("request forwarded with Via %q", got)
	}

	req := httptest.NewRequest("GET", "http://cache.example/ws", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, req)
	h := rec.Result().Header
	if got := h.Values("Cache-Status"); !reflect.DeepEqual(got, []string{"Upstream; hit", "Cellar; fwd=bypass"}) {
		t.Errorf("bypass: Cache-Status %q", got)
	}
	if got := h.Values("Via"); !reflect.DeepEqual(got, wantVia) {
		t.Errorf("bypass: Via %q, want %q", got, wantVia)
	}
	if out := rt.last(); out.Header.Get("Upgrade") != "websocket" || out.URL.Path != "/ws" || out.Header.Get("Via") != "1.1 Cellar" {
		t.Errorf("bypass sent %s %v", out.URL, out.Header)
	}
	if l := obs.labels[len(obs.labels)-1]; l != "bypass" {
		t.Errorf("bypass label %q", l)
	}
}

// TestCachedPathUpstreamFailure: when the upstream fails, the cache serves
// a stale response if it may (stale-if-error), and otherwise the proxy
// answers 502 or 504 itself, without Via, with a Cache-Status that says why
// the request went forward and what failed (RFC 9211 §2.2, §2.8); a
// streamed body over the limit gets 413.
func TestCachedPathUpstreamFailure(t *testing.T) {
	up, _ := url.Parse("http://origin.internal")
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var fail error
	rt := &recordTransport{answer: func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		if fail != nil {
			return nil, fail
		}
		return textResponse(r, 200, "stored", "Cache-Control", "max-age=1, stale-if-error=600",
			"Date", now.UTC().Format(http.TimeFormat)), nil
	}}
	p, err := New(Config{Upstream: up, Cache: newTestCache(t, clock), Transport: rt, Name: "Cellar", MaxBodyBytes: 10})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, httptest.NewRequest("GET", "http://cache.example"+path, nil))
		return rec
	}
	if rec := get("/s"); rec.Code != 200 {
		t.Fatalf("fill: %d", rec.Code)
	}
	mu.Lock()
	now = now.Add(10 * time.Second)
	fail = io.ErrUnexpectedEOF
	mu.Unlock()
	rec := get("/s")
	if rec.Code != 200 || rec.Body.String() != "stored" || !strings.Contains(rec.Header().Get("Cache-Status"), "detail=stale-if-error") {
		t.Errorf("stale-if-error: %d %q %v", rec.Code, rec.Body.String(), rec.Header())
	}
	for _, tt := range []struct {
		err  error
		code int
		cs   string
	}{
		{io.ErrUnexpectedEOF, http.StatusBadGateway, "Cellar; fwd=uri-miss; detail=upstream-error"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, http.StatusBadGateway, "Cellar; fwd=uri-miss; detail=upstream-refused"},
		{context.DeadlineExceeded, http.StatusGatewayTimeout, "Cellar; fwd=uri-miss; detail=upstream-timeout"},
		{&net.DNSError{Err: "no such host", Name: "origin.internal", IsNotFound: true}, http.StatusBadGateway, "Cellar; fwd=uri-miss; detail=upstream-dns"},
	} {
		mu.Lock()
		fail = tt.err
		mu.Unlock()
		rec := get("/never-stored")
		if rec.Code != tt.code || rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Via") != "" || rec.Header().Get("Cache-Status") != tt.cs {
			t.Errorf("%v: %d %v, want Cache-Status %q", tt.err, rec.Code, rec.Header(), tt.cs)
		}
	}
	// A stored response too stale to serve on error: the validation went
	// forward as fwd=stale.
	mu.Lock()
	now = now.Add(time.Hour)
	fail = io.ErrUnexpectedEOF
	mu.Unlock()
	// Disconnected (a connection closed before a response) with stale
	// refused: 504 (RFC 9111 §5.2.2.2).
	if rec := get("/s"); rec.Code != http.StatusGatewayTimeout || rec.Header().Get("Cache-Status") != "Cellar; fwd=stale; detail=upstream-error" {
		t.Errorf("stale past stale-if-error: %d %v", rec.Code, rec.Header())
	}
	mu.Lock()
	fail = nil
	mu.Unlock()
	req := httptest.NewRequest("POST", "http://cache.example/post", io.MultiReader(strings.NewReader("0123456789abc")))
	req.ContentLength = -1
	rec = httptest.NewRecorder()
	p.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Header().Get("Cache-Status"), "detail=request-too-large") {
		t.Errorf("streamed large body: %d %v", rec.Code, rec.Header())
	}
	rec = httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest("POST", "http://cache.example/post", strings.NewReader("0123456789abc")))
	if rec.Code != http.StatusRequestEntityTooLarge || rec.Header().Get("Cache-Status") != "Cellar; detail=request-too-large" {
		t.Errorf("announced large body: %d %v", rec.Code, rec.Header())
	}
}
