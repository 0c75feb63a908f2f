package cellar

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cellar-http/cellar/spec"
)

// recycleOrigin answers by path: /fresh/ stored for an hour, varying on
// Accept-Language; /short/ for a minute; /swr/ stale at once but usable
// while revalidated in the background (RFC 5861 §3); /reval/ revalidated
// on every request (RFC 9111 §5.2.2.4 no-cache), answered 304; /slow/
// stored, its body sent in two parts 30 ms apart. The body names the path
// and the language, so that a response given to the wrong request shows.
func recycleOrigin(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	body := r.URL.Path + "|" + r.Header.Get("Accept-Language")
	switch {
	case strings.HasPrefix(r.URL.Path, "/fresh/"):
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("Vary", "Accept-Language")
		h.Set("ETag", `"`+body+`"`)
	case strings.HasPrefix(r.URL.Path, "/short/"):
		h.Set("Cache-Control", "max-age=60")
	case strings.HasPrefix(r.URL.Path, "/swr/"):
		h.Set("Cache-Control", "max-age=0, stale-while-revalidate=3600")
	case strings.HasPrefix(r.URL.Path, "/reval/"):
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", `"`+body+`"`)
		if r.Header.Get("If-None-Match") == `"`+body+`"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	case strings.HasPrefix(r.URL.Path, "/slow/"):
		h.Set("Cache-Control", "max-age=3600")
		h.Set("Content-Length", fmt.Sprint(len(body)))
		io.WriteString(w, body[:1])
		w.(http.Flusher).Flush()
		time.Sleep(30 * time.Millisecond)
		io.WriteString(w, body[1:])
		return
	}
	io.WriteString(w, body)
}

// drainHandlerCalls empties the pool of handler calls.
func drainHandlerCalls() {
	for handlerCalls.Get() != nil {
	}
}

// serveRecorded serves one request through h on this goroutine.
func serveRecorded(h http.Handler, ctx context.Context, method, target string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequestWithContext(ctx, method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestHandlerRecyclesOnlyPlainHits: a hit served from storage with nothing
// started besides puts its handlerCall back zeroed, so that nothing of one
// request reaches the next; every path where something may still hold the
// call or its request after ServeHTTP (a fill, a background refresh, a
// revalidation, a trace handed to the caller, a bypass) keeps it out of
// the pool. The pool may drop what it is given (it does at random under
// -race), so a recycled call is looked for over many requests, and each
// path that must not recycle is tried several times.
func TestHandlerRecyclesOnlyPlainHits(t *testing.T) {
	// One P: the pool's per-P slots are then all reachable from this
	// goroutine, wherever it runs, so that draining it leaves it empty.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	clock := newClock()
	c := newTestCache(t, clock, true, Config{})
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", clock.Now().UTC().Format(http.TimeFormat))
		recycleOrigin(w, r)
	}))
	ctx := context.Background()
	serveRecorded(h, ctx, "GET", "/fresh/a")
	serveRecorded(h, ctx, "GET", "/swr/a")

	recycled := func(method, target string) bool {
		t.Helper()
		for range 100 {
			drainHandlerCalls()
			w := serveRecorded(h, ctx, method, target)
			if w.Code != http.StatusOK || !strings.Contains(w.Header().Get("Cache-Status"), "hit") {
				t.Fatalf("%s %s: %d %q", method, target, w.Code, w.Header().Get("Cache-Status"))
			}
			if got, _ := handlerCalls.Get().(*handlerCall); got != nil {
				if !reflect.ValueOf(got).Elem().IsZero() {
					t.Fatalf("%s %s: a recycled handlerCall is not zeroed (key %q)", method, target, got.ex.key)
				}
				return true
			}
		}
		return false
	}
	if !recycled("GET", "/fresh/a") {
		t.Error("a plain hit never put its handlerCall back")
	}
	if !recycled("HEAD", "/fresh/a") {
		t.Error("a plain HEAD hit never put its handlerCall back")
	}

	held := []struct {
		name string
		do   func(i int)
	}{
		{"miss", func(i int) { serveRecorded(h, ctx, "GET", fmt.Sprintf("/fresh/miss%d", i)) }},
		{"stale-while-revalidate", func(int) {
			clock.Advance(2 * time.Second)
			serveRecorded(h, ctx, "GET", "/swr/a")
		}},
		{"revalidation", func(int) { serveRecorded(h, ctx, "GET", "/reval/a") }},
		{"trace", func(int) { serveRecorded(h, WithTrace(ctx, new(Trace)), "GET", "/fresh/a") }},
		{"bypass", func(int) { serveRecorded(h, WithBypass(ctx), "GET", "/fresh/a") }},
		{"upgrade", func(int) {
			serveRecorded(h, ctx, "GET", "/fresh/a", "Connection", "Upgrade", "Upgrade", "websocket")
		}},
	}
	for _, tc := range held {
		for i := range 8 {
			drainHandlerCalls()
			tc.do(i)
			if handlerCalls.Get() != nil {
				t.Fatalf("%s: the handlerCall went back to the pool", tc.name)
			}
		}
	}
}

// TestRecycledCallLeavesTracesAndHeaders: what a request hands out that
// outlives it (the Cache-Status field in the writer's header map, a
// WithTrace caller's trace) is never memory of a recycled call: later hits
// of another object leave them as they were.
func TestRecycledCallLeavesTracesAndHeaders(t *testing.T) {
	c := newTestCache(t, nil, true, Config{})
	h := c.Handler(http.HandlerFunc(recycleOrigin))
	ctx := context.Background()
	serveRecorded(h, ctx, "GET", "/fresh/a")
	serveRecorded(h, ctx, "GET", "/short/b")

	tr := new(Trace)
	first := serveRecorded(h, WithTrace(ctx, tr), "GET", "/fresh/a")
	plain := serveRecorded(h, ctx, "GET", "/fresh/a")
	cs, trace := first.Header()["Cache-Status"], tr.String()
	csPlain := append([]string(nil), plain.Header()["Cache-Status"]...)
	if len(cs) != 1 || !strings.Contains(cs[0], "hit") || !strings.Contains(trace, "FromCache") {
		t.Fatalf("first hit: Cache-Status %q, trace %q", cs, trace)
	}
	for range 50 {
		if w := serveRecorded(h, ctx, "GET", "/short/b"); !strings.Contains(w.Header().Get("Cache-Status"), "ttl=") {
			t.Fatalf("hit of /short/b: %q", w.Header().Get("Cache-Status"))
		}
	}
	if got := first.Header()["Cache-Status"]; !reflect.DeepEqual(got, cs) || cs[0] != first.Result().Header.Get("Cache-Status") {
		t.Errorf("the traced hit's Cache-Status changed to %q", got)
	}
	if got := plain.Header()["Cache-Status"]; !reflect.DeepEqual(got, csPlain) {
		t.Errorf("a recycled hit's Cache-Status changed from %q to %q", csPlain, got)
	}
	if got := tr.String(); got != trace {
		t.Errorf("the trace changed from %q to %q", trace, got)
	}
}

// TestHandlerRecyclingRace runs hits (of several variants), misses,
// revalidations, background refreshes and clients that go away mid-body
// concurrently through a Handler, under -race in CI: every complete
// response must be the one for its own request (path and variant).
func TestHandlerRecyclingRace(t *testing.T) {
	c := newTestCache(t, nil, true, Config{})
	srv := httptest.NewServer(c.Handler(http.HandlerFunc(recycleOrigin)))
	t.Cleanup(srv.Close)
	raceRecycling(t, srv.URL, srv.Client())
}

// raceRecycling sends a mix of requests from several goroutines to base
// and checks every complete response against its request.
func raceRecycling(t *testing.T, base string, client *http.Client) {
	langs := []string{"", "fr", "de"}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 60 {
				path, lang := "", langs[(g+i)%len(langs)]
				ctx, cancel := context.WithCancel(context.Background())
				switch i % 6 {
				case 0, 1, 2:
					path = fmt.Sprintf("/fresh/%d", i%3)
				case 3:
					path = fmt.Sprintf("/fresh/miss-%d-%d", g, i)
				case 4:
					path = []string{"/reval/a", "/swr/a"}[i%2]
				case 5:
					path = fmt.Sprintf("/slow/%d-%d", g, i%2)
					time.AfterFunc(10*time.Millisecond, cancel) // gone mid-body
				}
				req, _ := http.NewRequestWithContext(ctx, "GET", base+path, nil)
				if lang != "" {
					req.Header.Set("Accept-Language", lang)
				}
				resp, err := client.Do(req)
				if err != nil {
					cancel()
					if ctx.Err() != nil {
						continue
					}
					t.Error(err)
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				cancel()
				if err != nil {
					continue // the client went away
				}
				want := path + "|"
				if strings.HasPrefix(path, "/fresh/") {
					want += lang
				}
				if strings.HasPrefix(path, "/fresh/") && string(b) != want || !strings.HasPrefix(string(b), path+"|") {
					t.Errorf("GET %s (Accept-Language %q): %d %q, want %q", path, lang, resp.StatusCode, b, want)
				}
			}
		}()
	}
	wg.Wait()
}

// TestStatusFieldShared: the Cache-Status field value (RFC 9211) is the
// member rendered for cs, in a one-element slice that an append copies; a
// member rendered before is shared, another is rendered anew, also when
// it lands in the same slot.
func TestStatusFieldShared(t *testing.T) {
	c := newTestCache(t, nil, true, Config{Name: "Cellar"})
	hit := func(ttl int64) spec.CacheStatus { return spec.CacheStatus{Hit: true, HasTTL: true, TTL: ttl} }
	a, b := c.statusField(hit(60)), c.statusField(hit(60))
	if len(a) != 1 || cap(a) != 1 || a[0] != hit(60).Value("Cellar") || &a[0] != &b[0] {
		t.Fatalf("statusField(ttl=60) = %q (cap %d), shared %v", a, cap(a), &a[0] == &b[0])
	}
	for _, cs := range []spec.CacheStatus{hit(60 + int64(len(c.statusFields))), hit(-4), {Fwd: spec.FwdURIMiss, FwdStatus: 200, Stored: true}} {
		if got := c.statusField(cs); len(got) != 1 || got[0] != cs.Value("Cellar") {
			t.Errorf("statusField(%+v) = %q, want %q", cs, got, cs.Value("Cellar"))
		}
	}
	if got := c.statusField(hit(60)); got[0] != a[0] {
		t.Errorf("statusField(ttl=60) after others = %q", got)
	}
}
