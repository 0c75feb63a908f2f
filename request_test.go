package cellar

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cellar-http/cellar/spec"
)

// TestUpstreamRequestOwnsWhatItChanges: the request sent upstream carries
// the header the core forwards (not a copy of the client's), and a URL,
// trailer and transfer coding of its own, so that nothing done to it on the
// way upstream reaches the client's request, which the engine still reads.
func TestUpstreamRequestOwnsWhatItChanges(t *testing.T) {
	req := httptest.NewRequest("GET", "http://cache.example/a?q=1", nil)
	req.Header.Set("X-Client", "1")
	req.Trailer = http.Header{"X-T": {"1"}}
	req.TransferEncoding = []string{"chunked"}
	fwd := spec.Request{Method: "GET", Header: http.Header{"X-Forwarded": {"1"}}}
	out, err := upstreamRequest(context.Background(), req, fwd)
	if err != nil {
		t.Fatal(err)
	}
	out.Header.Set("X-More", "1")
	if _, ok := fwd.Header["X-More"]; !ok || out.Header.Get("X-Client") != "" {
		t.Fatalf("upstream header %v is not the forwarded one", out.Header)
	}
	out.URL.Path, out.URL.Scheme = "/changed", "https"
	out.Trailer.Set("X-T", "2")
	out.TransferEncoding[0] = "gzip"
	if req.URL.Path != "/a" || req.URL.Scheme != "http" || req.Trailer.Get("X-T") != "1" || req.TransferEncoding[0] != "chunked" {
		t.Fatalf("changing the upstream request changed the client's: %v %v %v", req.URL, req.Trailer, req.TransferEncoding)
	}
	if out.Host != req.Host || out.URL.RawQuery != "q=1" || out.Context() != context.Background() {
		t.Fatalf("upstream request lost the target or context: host %q, query %q", out.Host, out.URL.RawQuery)
	}
}
