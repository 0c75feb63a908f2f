package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/cellar-http/cellar"
	"github.com/cellar-http/cellar/proxy"
	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/memory"
)

// TestVaryFloodSparesInnocentClients: issue 12 item 6. An attacker sends,
// on one raw connection, 500 requests for a URL whose response varies on
// Cookie, each with a new Cookie: 500 misses, each storing a variant
// (RFC 9111 §4.1). A second client, which asks for the same URL with its
// own session cookie now and then, and for an unrelated URL, keeps getting
// its own stored responses (hits), and the store keeps no more than its
// bound of variants of the flooded URL: the least recently used go first,
// and the innocent client's, being used, is not among them.
func TestVaryFloodSparesInnocentClients(t *testing.T) {
	var mu sync.Mutex
	fetched := map[string]int{} // path and Cookie → origin requests
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cookie := r.Header.Get("Cookie")
		mu.Lock()
		fetched[r.URL.Path+" "+cookie]++
		mu.Unlock()
		w.Header().Set("Cache-Control", "public, max-age=3600")
		if r.URL.Path == "/page" {
			w.Header().Set("Vary", "Cookie")
		}
		fmt.Fprintf(w, "%s for %s", r.URL.Path, cookie)
	}))
	defer origin.Close()

	st, err := memory.New(memory.Options{MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cellar.New(cellar.Config{Spec: spec.Options{Shared: true}, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { c.Close(); st.Close() }()
	up, _ := url.Parse(origin.URL)
	p, err := proxy.New(proxy.Config{Upstream: up, Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(p)
	defer front.Close()

	attacker, innocent := dialRaw(t, front), dialRaw(t, front)
	innocent.get(t, "/page", "session=alice")
	innocent.get(t, "/other", "")
	const floods, every = 500, 8 // the innocent client comes back every 8 attacker requests
	for i := range floods {
		attacker.get(t, "/page", fmt.Sprintf("s=%d", i))
		if i%every == every-1 {
			if body := innocent.get(t, "/page", "session=alice"); body != "/page for session=alice" {
				t.Fatalf("after %d attacker requests the innocent client got %q", i+1, body)
			}
		}
	}
	if body := innocent.get(t, "/other", ""); body != "/other for " {
		t.Fatalf("the unrelated URL served %q", body)
	}

	mu.Lock()
	alice, other, flood := fetched["/page session=alice"], fetched["/other "], len(fetched)-2
	mu.Unlock()
	if alice != 1 || other != 1 {
		t.Errorf("the origin was asked %d times for the innocent client's variant and %d for the unrelated URL, want once each (hits afterwards)", alice, other)
	}
	if flood != floods {
		t.Errorf("the origin saw %d distinct attacker variants, want %d (each a miss)", flood, floods)
	}
	stored := 0
	if err := st.Iterate(t.Context(), func(e store.Entry) bool {
		if strings.HasSuffix(e.Pair.Request.URL.Path, "/page") {
			stored++
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if stored > store.DefaultMaxVariants {
		t.Errorf("the store keeps %d variants of the flooded URL, more than its bound of %d", stored, store.DefaultMaxVariants)
	}
}

// rawConn is a keep-alive client connection that writes requests as raw
// bytes.
type rawConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, srv *httptest.Server) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{c: c, r: bufio.NewReader(c)}
}

// get sends a GET for path with the Cookie (none when empty) and returns
// the body of a 200.
func (rc *rawConn) get(t *testing.T, path, cookie string) string {
	t.Helper()
	req := "GET " + path + " HTTP/1.1\r\nHost: cache.example\r\n"
	if cookie != "" {
		req += "Cookie: " + cookie + "\r\n"
	}
	if _, err := io.WriteString(rc.c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(rc.r, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s (Cookie %q): %d, %v", path, cookie, resp.StatusCode, err)
	}
	return string(body)
}
