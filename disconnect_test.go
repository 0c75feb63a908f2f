package cellar

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// RFC 9111 §4.2.4 and §5.2.2.2 through a Handler forwarding over a real
// transport to an origin that then goes away: by default the stored
// response is served stale; where a directive forbids that, the client
// gets 504 (not 502), with a Cache-Status saying why.
func TestHandler_RFC9111_4_2_4_DisconnectedOrigin(t *testing.T) {
	cases := []struct {
		name, cc string
		status   int
		detail   string
	}{
		{"stale by default", "max-age=10", 200, "detail=stale-budget"},
		{"must-revalidate: 504", "max-age=10, must-revalidate", 504, "detail=stale-forbidden"},
		{"s-maxage: 504", "s-maxage=10", 504, "detail=stale-forbidden"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			o := newOrigin(t, clock, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", tc.cc)
				w.Header().Set("ETag", `"v1"`)
				io.WriteString(w, "good")
			})
			c := newTestCache(t, clock, true, Config{})
			h := c.HandlerWith(http.NotFoundHandler(), HandlerOptions{Upstream: http.DefaultTransport})
			serve := func() *httptest.ResponseRecorder {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", o.URL+"/r", nil))
				return rec
			}
			if rec := serve(); rec.Code != 200 {
				t.Fatalf("fill: %d", rec.Code)
			}
			o.Close() // connections are now refused
			clock.Advance(time.Minute)
			rec := serve()
			if rec.Code != tc.status || !strings.Contains(rec.Header().Get("Cache-Status"), tc.detail) {
				t.Fatalf("disconnected: %d %q, want %d with %s", rec.Code, rec.Header().Get("Cache-Status"), tc.status, tc.detail)
			}
			if tc.status == 200 && rec.Body.String() != "good" {
				t.Errorf("stale body %q", rec.Body.String())
			}
		})
	}
}
