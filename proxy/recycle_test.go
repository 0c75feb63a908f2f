package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cellar-http/cellar"
)

// varyTransport answers every request with a response stored for an hour
// that varies on Accept-Language (RFC 9111 §4.1), and whose body names the
// path and the language; it records the requests.
func varyTransport() *recordTransport {
	return &recordTransport{answer: func(r *http.Request) (*http.Response, error) {
		body := r.URL.Path + "|" + r.Header.Get("Accept-Language")
		if strings.HasPrefix(r.URL.Path, "/swr/") {
			return textResponse(r, 200, body, "Cache-Control", "max-age=0, stale-while-revalidate=3600"), nil
		}
		return textResponse(r, 200, body, "Cache-Control", "public, max-age=3600",
			"Vary", "Accept-Language", "ETag", `"`+body+`"`), nil
	}}
}

func newRecycleProxy(t *testing.T, rt http.RoundTripper) *Proxy {
	up, _ := url.Parse("http://origin.internal")
	p, err := New(Config{Upstream: up, Cache: newTestCache(t, nil), Transport: rt, Name: "Cellar", ResponseVia: true})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func serveProxy(p *Proxy, ctx context.Context, method, target string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequestWithContext(ctx, method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	p.ServeHTTP(w, r)
	return w
}

// TestRecycledCallCarriesNothingOver: a request served on a call recycled
// from a hit sees nothing of that hit's request: not its Accept-Language
// (a variant selected by another client's header, RFC 9111 §4.1), Range,
// conditional, Authorization, Cookie, X-Forwarded-For or Via, neither in
// what the cache decides on nor in what goes upstream; nor anything of its
// response (status, Content-Range, Via, Cache-Status).
func TestRecycledCallCarriesNothingOver(t *testing.T) {
	rt := varyTransport()
	p := newRecycleProxy(t, rt)
	ctx := context.Background()
	serveProxy(p, ctx, "GET", "http://cache.example/v", "Accept-Language", "fr")
	serveProxy(p, ctx, "GET", "http://cache.example/v")
	for i := range 30 {
		a := serveProxy(p, ctx, "GET", "http://cache.example/v", "Accept-Language", "fr",
			"Range", "bytes=0-2", "If-None-Match", `"nope"`, "Authorization", "Bearer secret",
			"Cookie", "session=secret", "X-Forwarded-For", "10.9.9.9", "Via", "1.0 other")
		if a.Code != http.StatusPartialContent || a.Body.String() != "/v|" {
			t.Fatalf("ranged hit: %d %q", a.Code, a.Body)
		}
		b := serveProxy(p, ctx, "GET", "http://cache.example/v")
		if b.Code != 200 || b.Body.String() != "/v|" || b.Header().Get("Content-Range") != "" {
			t.Fatalf("plain hit after a ranged French one: %d %q %v", b.Code, b.Body, b.Header())
		}
		if via, cs := b.Header()["Via"], b.Header()["Cache-Status"]; len(via) != 1 || via[0] != "1.1 Cellar" ||
			len(cs) != 1 || !strings.HasPrefix(cs[0], "Cellar; hit") {
			t.Fatalf("plain hit: Via %q, Cache-Status %q", via, cs)
		}
		if c := serveProxy(p, ctx, "GET", "http://cache.example/v", "If-None-Match", `"/v|"`); c.Code != http.StatusNotModified {
			t.Fatalf("conditional hit: %d", c.Code)
		}
		n := rt.count()
		miss := fmt.Sprintf("/miss/%d", i)
		if m := serveProxy(p, ctx, "GET", "http://cache.example"+miss); m.Code != 200 || m.Body.String() != miss+"|" {
			t.Fatalf("miss: %d %q", m.Code, m.Body)
		}
		if rt.count() != n+1 {
			t.Fatalf("%d upstream requests for one miss (and hits)", rt.count()-n)
		}
		out := rt.last()
		for _, f := range []string{"Accept-Language", "Range", "If-None-Match", "Authorization", "Cookie"} {
			if v, ok := out.Header[f]; ok {
				t.Errorf("the miss went upstream with %s %q", f, v)
			}
		}
		if xff, via := out.Header.Get("X-Forwarded-For"), out.Header["Via"]; xff != "192.0.2.1" || len(via) != 1 || via[0] != "1.1 Cellar" {
			t.Errorf("the miss went upstream with X-Forwarded-For %q, Via %q", xff, via)
		}
	}
}

// drainCalls empties the pool of calls.
func drainCalls() {
	for calls.Get() != nil {
	}
}

// TestProxyRecyclesOnlyPlainHits: a plain hit puts its call back zeroed
// (its outgoing header map kept, empty); a request the cache may still
// hold after ServeHTTP (a miss, a background refresh), a traced one and a
// bypassed one do not. The pool may drop what it is given (at random
// under -race): the recycled call is looked for over many hits.
func TestProxyRecyclesOnlyPlainHits(t *testing.T) {
	// One P: the pool's per-P slots are then all reachable from this
	// goroutine, wherever it runs, so that draining it leaves it empty.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	p := newRecycleProxy(t, varyTransport())
	ctx := context.Background()
	serveProxy(p, ctx, "GET", "http://cache.example/v")
	serveProxy(p, ctx, "GET", "http://cache.example/swr/a")
	found := false
	for range 100 {
		drainCalls()
		if w := serveProxy(p, ctx, "GET", "http://cache.example/v", "X-A", "1"); w.Code != 200 {
			t.Fatalf("hit: %d", w.Code)
		}
		if c, _ := calls.Get().(*call); c != nil {
			if len(c.header) != 0 {
				t.Fatalf("a recycled call keeps header fields: %v", c.header)
			}
			c.header = nil
			if !reflect.ValueOf(c).Elem().IsZero() {
				t.Fatalf("a recycled call is not zeroed: %+v", c.rec)
			}
			found = true
			break
		}
	}
	if !found {
		t.Error("a plain hit never put its call back")
	}
	held := []struct {
		name string
		do   func(i int)
	}{
		{"miss", func(i int) { serveProxy(p, ctx, "GET", fmt.Sprintf("http://cache.example/miss/%d", i)) }},
		{"stale-while-revalidate", func(int) { serveProxy(p, ctx, "GET", "http://cache.example/swr/a") }},
		{"trace", func(int) { serveProxy(p, cellar.WithTrace(ctx, new(cellar.Trace)), "GET", "http://cache.example/v") }},
		{"bypass", func(int) { serveProxy(p, cellar.WithBypass(ctx), "GET", "http://cache.example/v") }},
	}
	for _, tc := range held {
		for i := range 8 {
			drainCalls()
			tc.do(i)
			if calls.Get() != nil {
				t.Fatalf("%s: the call went back to the pool", tc.name)
			}
		}
	}
}

// TestProxyRecyclingRace runs hits of several variants, misses, background
// refreshes and clients that go away concurrently through a Proxy served
// over loopback (under -race in CI): every complete response must be the
// one for its own request, and every upstream request must carry its own
// client's fields only.
func TestProxyRecyclingRace(t *testing.T) {
	rt := varyTransport()
	origin := rt.answer
	rt.answer = func(r *http.Request) (*http.Response, error) {
		if got, want := r.Header.Get("X-Client"), r.Header.Get("Accept-Language"); got != want {
			t.Errorf("upstream request for %q carries X-Client %q", want, got)
		}
		return origin(r)
	}
	srv := httptest.NewServer(newRecycleProxy(t, rt))
	t.Cleanup(srv.Close)
	langs := []string{"", "fr", "de"}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 60 {
				lang := langs[(g+i)%len(langs)]
				path := fmt.Sprintf("/v/%d", i%3)
				switch i % 5 {
				case 3:
					path = fmt.Sprintf("/miss/%d-%d", g, i)
				case 4:
					path = "/swr/a"
				}
				ctx, cancel := context.WithCancel(context.Background())
				if i%7 == 6 {
					time.AfterFunc(time.Duration(i%3)*time.Millisecond, cancel) // gone at any time
				}
				req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
				if lang != "" {
					req.Header.Set("Accept-Language", lang)
					req.Header.Set("X-Client", lang)
				}
				resp, err := srv.Client().Do(req)
				if err != nil {
					cancel()
					if ctx.Err() == nil {
						t.Error(err)
					}
					continue
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				cancel()
				want := path + "|" + lang
				if err == nil && !strings.HasPrefix(path, "/swr/") && string(b) != want {
					t.Errorf("GET %s (Accept-Language %q): %d %q, want %q", path, lang, resp.StatusCode, b, want)
				}
			}
		}()
	}
	wg.Wait()
}
