package cellar

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// RFC 9110 §8.3, issue 12 item 11: HandlerWith forwarding over an Upstream
// RoundTripper sends no Content-Type when the upstream sent none, on a miss
// and on a hit (net/http would sniff one from the body).
func TestHandlerNeverInventsContentType(t *testing.T) {
	c := newTestCache(t, newClock(), true, Config{})
	up := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		h := http.Header{"Cache-Control": {"max-age=60"}, "X-Content-Type-Options": {"nosniff"}}
		return &http.Response{StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h,
			Body: io.NopCloser(strings.NewReader("<html><script>x</script>")), ContentLength: 24, Request: r}, nil
	})
	srv := httptest.NewServer(c.HandlerWith(http.NotFoundHandler(), HandlerOptions{Upstream: up}))
	t.Cleanup(srv.Close)
	for _, what := range []string{"miss", "hit"} {
		r := get(t, srv.URL+"/page")
		if ct, ok := r.header["Content-Type"]; ok || r.status != 200 {
			t.Errorf("%s: %d with Content-Type %q (Cache-Status %q)", what, r.status, ct, r.cacheStatus())
		}
	}
}
