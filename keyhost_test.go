package cellar

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestKeyHost: Config.KeyHost chooses the authority of the key (RFC 9111
// §4.1's target URI) and nothing else: the handler behind the cache sees
// the Host and path the client sent, and a response stored under one
// client Host answers the same path under another only when the key host
// makes them one name.
func TestKeyHost(t *testing.T) {
	for _, tt := range []struct {
		name      string
		keyHost   func(*http.Request) string
		wantKey   string
		sharedHit bool // does the second Host hit the first one's entry?
	}{
		{"request Host (default)", nil, "http://localhost:8080/x", false},
		{"a fixed name", KeyOnHost("www.example"), "http://www.example/x", true},
		{"the URL's host", KeyOnURLHost, "http://origin.internal/x", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var seen []string
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen = append(seen, r.Host+" "+r.URL.RequestURI())
				mu.Unlock()
				w.Header().Set("Cache-Control", "max-age=60")
				io.WriteString(w, "body")
			})
			c := newTestCache(t, nil, true, Config{KeyHost: tt.keyHost})
			h := c.Handler(next)
			get := func(host string) string {
				r := httptest.NewRequest("GET", "http://origin.internal/x", nil)
				r.Host = host
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Body.String() != "body" {
					t.Fatalf("GET via %s: %d %q", host, w.Code, w.Body.String())
				}
				return w.Header().Get("Cache-Status")
			}
			get("localhost:8080")
			cs := get("127.0.0.1:8080")
			if hit := strings.Contains(cs, "; hit"); hit != tt.sharedHit {
				t.Errorf("second Host: Cache-Status %q, want hit=%v", cs, tt.sharedHit)
			}
			mu.Lock()
			defer mu.Unlock()
			if seen[0] != "localhost:8080 /x" {
				t.Errorf("the handler saw %q: the key host changed what is forwarded", seen[0])
			}
			if len(entries(t, c.Store(), tt.wantKey)) != 1 {
				t.Errorf("nothing stored under %s", tt.wantKey)
			}
		})
	}
}
