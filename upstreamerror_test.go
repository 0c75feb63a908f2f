package cellar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"
)

// RFC 9211 §2.8: the detail of an error answer names what failed.
func TestUpstreamDetail_RFC9211_2_8(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, tt := range []struct {
		err    error
		detail string
		status int
	}{
		{refused, DetailUpstreamRefused, http.StatusBadGateway},
		{fmt.Errorf("wrapped: %w", refused), DetailUpstreamRefused, http.StatusBadGateway},
		{context.DeadlineExceeded, DetailUpstreamTimeout, http.StatusGatewayTimeout},
		{&net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}, DetailUpstreamDNS, http.StatusBadGateway},
		{&net.DNSError{Err: "timeout", Name: "x", IsTimeout: true}, DetailUpstreamTimeout, http.StatusGatewayTimeout},
		{&http.MaxBytesError{Limit: 10}, DetailRequestTooLarge, http.StatusBadGateway},
		{io.ErrUnexpectedEOF, DetailUpstreamError, http.StatusBadGateway},
	} {
		if got := UpstreamDetail(tt.err); got != tt.detail {
			t.Errorf("UpstreamDetail(%v) = %q, want %q", tt.err, got, tt.detail)
		}
		if got := UpstreamErrorStatus(tt.err); got != tt.status {
			t.Errorf("UpstreamErrorStatus(%v) = %d, want %d", tt.err, got, tt.status)
		}
	}
}

type refusingTransport struct{}

func (refusingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
}

// TestHandlerErrorCacheStatus: the 502 a cache handler answers itself
// carries Cache-Status (RFC 9211), with fwd and detail, and so does the
// writer an ErrorHandler is given.
func TestHandlerErrorCacheStatus(t *testing.T) {
	c := newTestCache(t, nil, true, Config{})
	next := http.NotFoundHandler()
	h := c.HandlerWith(next, HandlerOptions{Upstream: refusingTransport{}})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "http://origin.internal/a", nil))
	if cs := w.Header().Get("Cache-Status"); w.Code != http.StatusBadGateway || cs != "Cellar; fwd=uri-miss; detail=upstream-refused" {
		t.Errorf("default answer: %d, Cache-Status %q", w.Code, cs)
	}
	var seen string
	h = c.HandlerWith(next, HandlerOptions{Upstream: refusingTransport{}, ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		seen = w.Header().Get("Cache-Status")
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("ErrorHandler got %v", err)
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}})
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "http://origin.internal/b", nil))
	if seen != "Cellar; fwd=uri-miss; detail=upstream-refused" {
		t.Errorf("ErrorHandler saw Cache-Status %q", seen)
	}
}
