package cellar

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestInvalidationReachesBodyKeys_RFC9111_4_4: an unsafe request
// invalidates every stored response for its target URI: the GET one, and
// those stored for an opted-in method under body-hashed keys; another
// URI's stay.
func TestInvalidationReachesBodyKeys_RFC9111_4_4(t *testing.T) {
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method == http.MethodPut {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(b))
	})
	c := newTestCache(t, nil, true, Config{
		Spec:    specMethods("GET", "HEAD", "POST"),
		BodyKey: func(r *http.Request) bool { return r.Method == http.MethodPost },
	})
	send := func(method, path, body string) result {
		t.Helper()
		req, _ := http.NewRequest(method, o.URL+path, strings.NewReader(body))
		resp, err := c.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return result{status: resp.StatusCode, header: resp.Header, body: string(b)}
	}
	fill := func() {
		send("GET", "/api", "")
		send("POST", "/api", "{a}")
		send("POST", "/api", "{b}")
		send("POST", "/api2", "{a}")
	}
	fill()
	if n := o.hits.Load(); n != 4 {
		t.Fatalf("origin hits = %d, want 4", n)
	}
	fill()
	if n := o.hits.Load(); n != 4 {
		t.Fatalf("origin hits = %d after the second round, want 4 (all stored)", n)
	}
	if r := send("PUT", "/api", "x"); r.status != 204 {
		t.Fatalf("PUT: %d", r.status)
	}
	fill()
	// The PUT, then GET /api and both POSTs to /api again; /api2 stays.
	if n := o.hits.Load(); n != 8 {
		t.Errorf("origin hits = %d, want 8: the GET and body-keyed POST responses of /api invalidated, /api2's kept", n)
	}
}

// TestPostResponseReusedForGet_RFC9110_9_3_3: a POST response with explicit
// freshness and a Content-Location equal to its target URI answers a later
// GET of that URI from the cache.
func TestPostResponseReusedForGet_RFC9110_9_3_3(t *testing.T) {
	modes(t, func(t *testing.T, shared bool) {
		o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60")
			if r.Method == http.MethodPost {
				w.Header().Set("Content-Location", "/doc")
				io.WriteString(w, "posted")
				return
			}
			io.WriteString(w, "got")
		})
		c := newTestCache(t, nil, shared, Config{})
		do(t, c, "GET", o.URL+"/doc")
		r := do(t, c, "POST", o.URL+"/doc")
		if r.body != "posted" || !strings.Contains(r.cacheStatus(), "stored") {
			t.Fatalf("POST: %q %q", r.body, r.cacheStatus())
		}
		r = do(t, c, "GET", o.URL+"/doc")
		if r.body != "posted" || !strings.Contains(r.cacheStatus(), "hit") || o.hits.Load() != 2 {
			t.Errorf("GET after POST: %q %q, origin hits %d; want the POST response from the cache", r.body, r.cacheStatus(), o.hits.Load())
		}
	})
}
