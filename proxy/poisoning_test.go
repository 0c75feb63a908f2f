package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cellar-http/cellar"
	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/memory"
)

// Cache poisoning through the proxy (issue 12 items 1, 2, 4 and 5): an
// attacker sends raw bytes over a socket, then an innocent client asks for
// the page, and must get what the origin gives it, not what the attacker's
// request made the origin say.

// poisonRig is an origin that counts requests, and a caching proxy in
// front of it on a memory store.
type poisonRig struct {
	origin   *httptest.Server
	upstream *url.URL
	proxy    *httptest.Server
	store    store.Store
	p        *Proxy // served by proxy; a test may serve it over TLS too
	hits     atomic.Int64
	coalesce atomic.Int64
}

func newPoisonRig(t *testing.T, cfg cellar.Config, h http.HandlerFunc) *poisonRig {
	t.Helper()
	return newPoisonRigWith(t, cfg, Config{}, h)
}

// newPoisonRigWith is newPoisonRig with the proxy configured by pcfg
// (its Upstream and Cache are the rig's).
func newPoisonRigWith(t *testing.T, cfg cellar.Config, pcfg Config, h http.HandlerFunc) *poisonRig {
	t.Helper()
	rig := &poisonRig{}
	rig.origin = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rig.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(rig.origin.Close)
	rig.upstream, _ = url.Parse(rig.origin.URL)
	st, err := memory.New(memory.Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	rig.store = st
	cfg.Store = st
	cfg.Spec.Shared = true
	cfg.Metrics = coalesceCounter{&rig.coalesce}
	c, err := cellar.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pcfg.Upstream, pcfg.Cache = rig.upstream, c
	p, err := New(pcfg)
	if err != nil {
		t.Fatal(err)
	}
	rig.p = p
	rig.proxy = httptest.NewServer(p)
	t.Cleanup(func() { rig.proxy.Close(); c.Close(); st.Close() })
	return rig
}

// coalesceCounter counts the requests the cache collapsed into another's.
type coalesceCounter struct{ n *atomic.Int64 }

func (coalesceCounter) Served(cellar.Outcome)      {}
func (coalesceCounter) Revalidated(bool)           {}
func (m coalesceCounter) Coalesced()               { m.n.Add(1) }
func (coalesceCounter) Stored(int64)               {}
func (coalesceCounter) Aborted(string)             {}
func (coalesceCounter) Bytes(cellar.Source, int64) {}
func (coalesceCounter) Refreshed(error)            {}

type rawResult struct {
	status int
	header http.Header
	body   string
}

// raw sends one request, written out byte for byte, on a new connection
// to the proxy and reads the response.
func (rig *poisonRig) raw(t *testing.T, request string) rawResult {
	t.Helper()
	conn, err := net.Dial("tcp", rig.proxy.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return rawOn(t, conn, request)
}

// rawOn sends one request, written out byte for byte (LF as CRLF), on
// conn, reads the response and closes conn.
func rawOn(t *testing.T, conn net.Conn, request string) rawResult {
	t.Helper()
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, strings.ReplaceAll(request, "\n", "\r\n")); err != nil {
		t.Fatal(err)
	}
	method, _, _ := strings.Cut(request, " ")
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the response to %q: %v", request, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResult{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// innocent is the request of a client that sends no body and no cookie.
const innocent = "GET /page HTTP/1.1\nHost: site.example\nConnection: close\n\n"

// TestPoisonFatGET (issue 12 item 1, RFC 9110 §9.3.1): a GET whose body
// the origin reads never stores its response, nor updates a stored one
// with a 304; the innocent client gets the true page, and the origin is
// asked again. With BodyKey, the body is in the key and the innocent
// client is just as safe.
func TestPoisonFatGET(t *testing.T) {
	origin := func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Cache-Control", "public, max-age=600")
		w.Header().Set("ETag", `"v1"`)
		if len(b) > 0 {
			w.Header().Set("X-Poison", string(b))
			if r.Header.Get("If-None-Match") == `"v1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			io.WriteString(w, "poisoned: "+string(b))
			return
		}
		io.WriteString(w, "true page")
	}
	attacks := []struct{ name, request string }{
		{"Content-Length", "GET /page HTTP/1.1\nHost: site.example\nContent-Length: 8\nConnection: close\n\n<script>"},
		{"chunked", "GET /page HTTP/1.1\nHost: site.example\nTransfer-Encoding: chunked\nConnection: close\n\n8\n<script>\n0\n\n"},
		{"HEAD (never stored anyway: a guard)", "HEAD /page HTTP/1.1\nHost: site.example\nContent-Length: 8\nConnection: close\n\n<script>"},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			rig := newPoisonRig(t, cellar.Config{}, origin)
			rig.raw(t, a.request)
			r := rig.raw(t, innocent)
			if r.body != "true page" || r.header.Get("X-Poison") != "" {
				t.Fatalf("innocent client got %q (X-Poison %q): the fat request's response was stored", r.body, r.header.Get("X-Poison"))
			}
			if n := rig.hits.Load(); n != 2 {
				t.Errorf("origin hits = %d, want 2: the innocent request must go to the origin", n)
			}
		})
	}
	t.Run("304 does not update", func(t *testing.T) {
		rig := newPoisonRig(t, cellar.Config{}, origin)
		if r := rig.raw(t, innocent); r.body != "true page" {
			t.Fatalf("fill: %q", r.body)
		}
		// A forced refresh with a body: the origin answers 304 with a
		// field shaped by the body.
		rig.raw(t, "GET /page HTTP/1.1\nHost: site.example\nCache-Control: no-cache\nContent-Length: 8\nConnection: close\n\n<script>")
		r := rig.raw(t, innocent)
		if r.body != "true page" || r.header.Get("X-Poison") != "" {
			t.Errorf("innocent client got %q with X-Poison %q: the fat GET's 304 updated the stored response", r.body, r.header.Get("X-Poison"))
		}
		if n := rig.hits.Load(); n != 2 {
			t.Errorf("origin hits = %d, want 2 (fill, fat revalidation; the innocent is a hit)", n)
		}
	})
	t.Run("BodyKey", func(t *testing.T) {
		rig := newPoisonRig(t, cellar.Config{BodyKey: func(r *http.Request) bool { return r.Body != nil && r.Body != http.NoBody }}, origin)
		fat := attacks[0].request
		if r := rig.raw(t, fat); r.body != "poisoned: <script>" {
			t.Fatalf("fat GET: %q", r.body)
		}
		if r := rig.raw(t, innocent); r.body != "true page" {
			t.Fatalf("innocent client got %q under BodyKey", r.body)
		}
		// The same body is keyed alike: a hit.
		if r := rig.raw(t, fat); r.body != "poisoned: <script>" || !strings.Contains(r.header.Get("Cache-Status"), "hit") {
			t.Errorf("second fat GET: %q, %s", r.body, r.header.Get("Cache-Status"))
		}
		if n := rig.hits.Load(); n != 2 {
			t.Errorf("origin hits = %d, want 2", n)
		}
	})
}

// TestPoisonKeyIsForwardedTarget (issue 12 item 2, RFC 9110 §7.7, §4.2.3):
// an origin that routes on the raw target answers 404 to other spellings
// of the page; the innocent client still gets the page, because the key is
// the target as forwarded.
func TestPoisonKeyIsForwardedTarget(t *testing.T) {
	origin := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		if r.Host == "site.example" && (r.RequestURI == "/page" || r.RequestURI == "/files/a%2Fb") {
			io.WriteString(w, "real "+r.RequestURI)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "not found")
	}
	cases := []struct{ name, attack, innocent string }{
		{"unreserved percent-encoding", "GET /pag%65 HTTP/1.1\nHost: site.example\n", "/page"},
		{"every letter percent-encoded", "GET /%70%61%67%65 HTTP/1.1\nHost: site.example\n", "/page"},
		{"host case", "GET /page HTTP/1.1\nHost: SITE.example\n", "/page"},
		{"default port", "GET /page HTTP/1.1\nHost: site.example:80\n", "/page"},
		{"empty query", "GET /page? HTTP/1.1\nHost: site.example\n", "/page"},
		{"dot segments", "GET /x/../page HTTP/1.1\nHost: site.example\n", "/page"},
		{"encoded dot segments", "GET /x/%2E%2E/page HTTP/1.1\nHost: site.example\n", "/page"},
		{"percent-encoding hex case", "GET /files/a%2fb HTTP/1.1\nHost: site.example\n", "/files/a%2Fb"},
		{"encoded slash", "GET /files%2Fa%2Fb HTTP/1.1\nHost: site.example\n", "/files/a%2Fb"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rig := newPoisonRig(t, cellar.Config{}, origin)
			if r := rig.raw(t, tc.attack+"Connection: close\n\n"); r.status != http.StatusNotFound {
				t.Fatalf("the origin answered the odd spelling %d, want 404", r.status)
			}
			r := rig.raw(t, "GET "+tc.innocent+" HTTP/1.1\nHost: site.example\nConnection: close\n\n")
			if r.status != 200 || r.body != "real "+tc.innocent {
				t.Fatalf("innocent client got %d %q: the odd spelling's 404 was served for the page", r.status, r.body)
			}
			if n := rig.hits.Load(); n != 2 {
				t.Errorf("origin hits = %d, want 2", n)
			}
			// The odd spelling has its own entry, served only to it.
			if r := rig.raw(t, tc.attack+"Connection: close\n\n"); r.status != http.StatusNotFound || !strings.Contains(r.header.Get("Cache-Status"), "hit") {
				t.Errorf("odd spelling again: %d %s", r.status, r.header.Get("Cache-Status"))
			}
		})
	}
}

// TestPoisonKeyInvalidationAndPurge (RFC 9111 §4.4): with keys as sent, an
// unsafe request still invalidates the page, under the spelling it used
// and under the normal form (an origin that decodes "/pag%65" changed
// "/page"), and a purge of the page's URL finds its entry.
func TestPoisonKeyInvalidationAndPurge(t *testing.T) {
	var version atomic.Int64
	origin := func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			version.Add(1)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "v"+string(rune('0'+version.Load())))
	}
	rig := newPoisonRig(t, cellar.Config{}, origin)
	get := func() string { return rig.raw(t, innocent).body }
	fill, hit := get(), get()
	if fill != "v0" || hit != "v0" || rig.hits.Load() != 1 {
		t.Fatalf("fill then hit: %q %q, %d origin hits", fill, hit, rig.hits.Load())
	}
	for i, post := range []string{"/page", "/pag%65", "/%70age"} {
		rig.raw(t, "POST "+post+" HTTP/1.1\nHost: site.example\nContent-Length: 0\nConnection: close\n\n")
		if got, want := get(), "v"+string(rune('1'+i)); got != want {
			t.Errorf("after POST %s: %q, want %q (not invalidated)", post, got, want)
		}
	}
	key, err := PurgeKey("http://site.example/page", rig.upstream)
	if err != nil {
		t.Fatal(err)
	}
	if es, err := rig.store.Lookup(context.Background(), key); err != nil || len(es) != 1 {
		t.Errorf("PurgeKey %q finds %d entries (%v), want the page's", key, len(es), err)
	}
}

// TestPoisonForcedRefreshesCollapse (issue 12 item 4): concurrent forced
// refreshes of one page, sent as raw bytes, make one upstream request.
func TestPoisonForcedRefreshesCollapse(t *testing.T) {
	const n = 20
	release := make(chan struct{})
	var hold atomic.Bool
	rig := newPoisonRig(t, cellar.Config{}, func(w http.ResponseWriter, r *http.Request) {
		if hold.Load() {
			<-release
		}
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "page")
	})
	rig.raw(t, innocent)
	hold.Store(true)
	forced := []string{"Pragma: no-cache", "Cache-Control: no-cache", "Cache-Control: max-age=0"}
	var wg sync.WaitGroup
	results := make([]rawResult, n)
	for i := range n {
		wg.Go(func() {
			results[i] = rig.raw(t, "GET /page HTTP/1.1\nHost: site.example\n"+forced[i%len(forced)]+"\nConnection: close\n\n")
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for rig.coalesce.Load() < n-1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	wg.Wait()
	if h := rig.hits.Load(); h != 2 {
		t.Errorf("origin hits = %d, want 2 (the fill and one refresh)", h)
	}
	for i, r := range results {
		if r.status != 200 || r.body != "page" {
			t.Errorf("refresh %d: %d %q", i, r.status, r.body)
		}
	}
}

// TestPoisonCookieHeuristic (issue 12 item 5): a response with only
// Last-Modified, to a request with Cookie, is not stored in the shared
// cache, so a cookieless client does not get the cookie's page; with an
// explicit max-age it is stored and served as the origin asked.
func TestPoisonCookieHeuristic(t *testing.T) {
	rig := newPoisonRig(t, cellar.Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Last-Modified", time.Now().Add(-24*time.Hour).UTC().Format(http.TimeFormat))
		if r.URL.Path == "/explicit" {
			w.Header().Set("Cache-Control", "max-age=600")
		}
		who := "anonymous"
		if c, err := r.Cookie("session"); err == nil {
			who = c.Value
		}
		io.WriteString(w, "hello "+who)
	})
	if r := rig.raw(t, "GET /page HTTP/1.1\nHost: site.example\nCookie: session=alice\nConnection: close\n\n"); r.body != "hello alice" {
		t.Fatalf("cookie request: %q", r.body)
	}
	if r := rig.raw(t, innocent); r.body != "hello anonymous" {
		t.Fatalf("cookieless client got %q: the heuristically fresh response to a Cookie request was stored", r.body)
	}
	if h := rig.hits.Load(); h != 2 {
		t.Errorf("origin hits = %d, want 2", h)
	}
	// Without Cookie the heuristic still applies: stored, then a hit.
	rig.raw(t, innocent)
	if h := rig.hits.Load(); h != 2 {
		t.Errorf("origin hits = %d after a cookieless repeat, want 2 (a heuristic hit)", h)
	}
	// Explicit freshness: the origin's choice, stored and served.
	rig.raw(t, "GET /explicit HTTP/1.1\nHost: site.example\nCookie: session=alice\nConnection: close\n\n")
	r := rig.raw(t, "GET /explicit HTTP/1.1\nHost: site.example\nConnection: close\n\n")
	if !strings.Contains(r.header.Get("Cache-Status"), "hit") || rig.hits.Load() != 3 {
		t.Errorf("explicit max-age: %s, %d origin hits; want a hit and 3", r.header.Get("Cache-Status"), rig.hits.Load())
	}
}
