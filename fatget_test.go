package cellar

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestFatGETNotStored (issue 12 item 1, RFC 9110 §9.3.1): through the
// Transport, private or shared, a GET with a body the key ignores is
// forwarded with its body and its response served, but not stored: the
// next GET without a body goes to the origin and gets its own page.
func TestFatGETNotStored(t *testing.T) {
	modes(t, func(t *testing.T, shared bool) {
		o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("Cache-Control", "max-age=600")
			io.WriteString(w, "page for "+string(b))
		})
		c := newTestCache(t, nil, shared, Config{})
		req, _ := http.NewRequest("GET", o.URL, strings.NewReader("evil"))
		resp, err := c.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "page for evil" || !strings.Contains(resp.Header.Get("Cache-Status"), "detail=request-content") {
			t.Fatalf("fat GET: %q, %s", b, resp.Header.Get("Cache-Status"))
		}
		if r := do(t, c, "GET", o.URL); r.body != "page for " || o.hits.Load() != 2 {
			t.Errorf("plain GET after a fat one: %q, %d origin hits; want its own page from the origin", r.body, o.hits.Load())
		}
	})
}

// TestFatGETKeepsCollapsing: a response that only the request kept out of
// storage (a fat GET) does not turn collapsing off for the key: the
// concurrent plain misses that follow still make one upstream request.
func TestFatGETKeepsCollapsing(t *testing.T) {
	const n = 10
	release := make(chan struct{})
	var mu sync.Mutex
	hold := false
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := hold
		mu.Unlock()
		if h {
			<-release
		}
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "page")
	})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	t.Cleanup(open) // before the origin's Close, should the test fail
	c := newTestCache(t, nil, true, Config{})
	req, _ := http.NewRequest("GET", o.URL, strings.NewReader("x"))
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	mu.Lock()
	hold = true
	mu.Unlock()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { do(t, c, "GET", o.URL) })
	}
	eventually(t, "the misses to wait on one flight", func() bool { return flightWaiters(c, o.URL) == n })
	open()
	wg.Wait()
	if h := o.hits.Load(); h != 2 {
		t.Errorf("origin hits = %d, want 2 (the fat GET, one miss)", h)
	}
}
