package cellar

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"testing"
	"time"
)

// interimClient sends GETs recording the interim responses each got.
type interimClient struct {
	mu  sync.Mutex
	got []string // "103 </a.css>; rel=preload"
}

func (c *interimClient) get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	c.mu.Lock()
	c.got = nil
	c.mu.Unlock()
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		c.mu.Lock()
		c.got = append(c.got, http.StatusText(code)+" "+h.Get("Link"))
		c.mu.Unlock()
		return nil
	}}
	req, _ := http.NewRequest("GET", url, nil)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func (c *interimClient) interim() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.got...)
}

// RFC 9110 §15.2 (and RFC 8297): 102 and 103 responses from the origin
// reach the client as they arrive, on a miss and on a revalidation; they are
// not stored, their fields do not enter the final response, and a hit has
// none.
func TestInterim_RFC9110_15_2_EarlyHints(t *testing.T) {
	originHandler := func(clock *fakeClock) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("If-None-Match") == `"v1"` {
				w.Header().Set("Link", "</revalidated.css>; rel=preload")
				w.WriteHeader(http.StatusEarlyHints)
				w.Header().Del("Link")
				w.Header().Set("Cache-Control", "max-age=10")
				w.Header().Set("ETag", `"v1"`)
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.WriteHeader(http.StatusProcessing)
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
			w.Header().Set("Cache-Control", "max-age=10")
			w.Header().Set("ETag", `"v1"`)
			io.WriteString(w, "final")
		}
	}
	setups := map[string]func(t *testing.T, clock *fakeClock) http.Handler{
		// The proxy's arrangement: the cache forwards over a transport.
		"handler over a transport": func(t *testing.T, clock *fakeClock) http.Handler {
			o := newOrigin(t, clock, originHandler(clock))
			c := newTestCache(t, clock, true, Config{})
			h := c.HandlerWith(http.NotFoundHandler(), HandlerOptions{Upstream: http.DefaultTransport})
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r.URL.Scheme, r.URL.Host = "http", o.Listener.Addr().String()
				r.Host = r.URL.Host
				h.ServeHTTP(w, r)
			})
		},
		// The Middleware: the origin is the handler, in-process.
		"middleware": func(t *testing.T, clock *fakeClock) http.Handler {
			c := newTestCache(t, clock, true, Config{})
			next := originHandler(clock)
			return c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Date", clock.Now().UTC().Format(http.TimeFormat))
				next(w, r)
			}))
		},
	}
	for name, setup := range setups {
		t.Run(name, func(t *testing.T) {
			clock := newClock()
			srv := httptest.NewServer(setup(t, clock))
			defer srv.Close()
			var client interimClient
			resp, body := client.get(t, srv.URL+"/page")
			want := []string{"Processing ", "Early Hints </a.css>; rel=preload"}
			if got := client.interim(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
				t.Errorf("miss: interim responses %q, want %q", got, want)
			}
			if resp.StatusCode != 200 || body != "final" || resp.Header.Get("Link") != "" {
				t.Errorf("miss: %d %q, Link %q", resp.StatusCode, body, resp.Header.Get("Link"))
			}
			resp, _ = client.get(t, srv.URL+"/page")
			if got := client.interim(); len(got) != 0 || resp.Header.Get("Link") != "" {
				t.Errorf("hit: interim %q, Link %q: stored", got, resp.Header.Get("Link"))
			}
			clock.Advance(time.Minute)
			resp, body = client.get(t, srv.URL+"/page")
			if got := client.interim(); len(got) != 1 || got[0] != "Early Hints </revalidated.css>; rel=preload" {
				t.Errorf("revalidation: interim responses %q", got)
			}
			if resp.StatusCode != 200 || body != "final" || resp.Header.Get("Link") != "" {
				t.Errorf("revalidation: %d %q, Link %q", resp.StatusCode, body, resp.Header.Get("Link"))
			}
		})
	}
}
