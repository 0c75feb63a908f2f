package cellar

import (
	"context"
	"errors"
	"net"
	"net/http"
	"syscall"

	"github.com/cellar-http/cellar/spec"
)

// Details of the Cache-Status of a response the cache generated because the
// upstream failed (RFC 9211 §2.8: implementation-specific detail).
const (
	DetailUpstreamRefused = "upstream-refused" // the connection was refused
	DetailUpstreamTimeout = "upstream-timeout" // no response in time
	DetailUpstreamDNS     = "upstream-dns"     // the upstream's name did not resolve
	DetailUpstreamError   = "upstream-error"   // any other failure
	// DetailRequestTooLarge: the request body went past a limit
	// (http.MaxBytesReader) while it was being sent upstream.
	DetailRequestTooLarge = "request-too-large"
)

// UpstreamDetail classifies an upstream failure for Cache-Status's detail.
func UpstreamDetail(err error) string {
	var netErr net.Error
	var dnsErr *net.DNSError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return DetailRequestTooLarge
	case errors.Is(err, syscall.ECONNREFUSED):
		return DetailUpstreamRefused
	case errors.As(err, &dnsErr) && !dnsErr.IsTimeout:
		return DetailUpstreamDNS
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return DetailUpstreamTimeout
	}
	return DetailUpstreamError
}

// UpstreamErrorStatus is the status a cache answers with when the upstream
// failed and nothing stored may be served: 504 Gateway Timeout after a
// timeout, else 502 Bad Gateway (RFC 9110 §15.6.3, §15.6.5).
func UpstreamErrorStatus(err error) int {
	if UpstreamDetail(err) == DetailUpstreamTimeout {
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

// errorStatus is the Cache-Status member of the answer to a request whose
// upstream exchange failed with err: why it went forward (fwd, RFC 9211
// §2.2; "miss" when it failed before the core said) and what failed
// (detail). It becomes ex.cs.
func (ex *exchange) errorStatus(err error) spec.CacheStatus {
	fwd := ex.fwd
	if fwd == "" {
		fwd = spec.FwdMiss
	}
	ex.cs = spec.CacheStatus{Fwd: fwd, Detail: UpstreamDetail(err), CollapseFailed: ex.collapseFailed}
	return ex.cs
}
