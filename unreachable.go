package cellar

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"

	"github.com/cellar-http/cellar/spec"
)

// UpstreamError is the error the Cache returns (RoundTrip, and a Handler's
// ErrorHandler receives) when the upstream gave no response and nothing
// stored may be served instead. Answer is the response spec chose to
// generate for it: 504 (Gateway Timeout) after a timeout or when the cache,
// disconnected, holds a response it may not serve stale (RFC 9111
// §5.2.2.2), else 502; its Reason says why, with the RFC section.
type UpstreamError struct {
	Err    error
	Answer spec.FromCache
}

func (e *UpstreamError) Error() string { return e.Err.Error() }

// Unwrap returns the upstream's error.
func (e *UpstreamError) Unwrap() error { return e.Err }

// Status is the status code to answer with.
func (e *UpstreamError) Status() int { return e.Answer.Serve.Status }

// failureOf tells spec how an upstream exchange failed (RFC 9111 §4.2.4's
// "disconnected"): a timeout; a connection refused, reset or closed before
// the response (or a name that did not resolve); or anything else (an
// invalid response, TLS, a handler that panicked).
func failureOf(err error) spec.Failure {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return spec.FailureTimeout
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return spec.FailureDisconnected
	}
	var dnsErr *net.DNSError
	var opErr *net.OpError
	if errors.As(err, &dnsErr) || errors.As(err, &opErr) && opErr.Op == "dial" {
		return spec.FailureDisconnected
	}
	return spec.FailureOther
}

// droppedAlone reports whether err, the upstream failure of a flight that
// other requests collapsed into, may be the leader's request's alone: a
// connection was made, then closed or reset without a response, as a WAF
// or an origin does to a request it refuses for one of its fields (which
// the followers may not carry: the key leaves most fields out). Followers
// then forward on their own rather than inherit the failure, so that one
// client's request cannot deny a page to everyone collapsed into it. A
// failure to connect, a timeout or anything else says the origin is
// unavailable to all: followers take it, rather than each try again.
func droppedAlone(err error) bool {
	var opErr *net.OpError
	var ne net.Error
	switch {
	case errors.As(err, &opErr) && opErr.Op == "dial",
		errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE)
}

// upstreamFailed answers a request whose upstream exchange failed: stale
// when the core allows it, else the error with the answer the core chose.
func (ex *exchange) upstreamFailed(p pending, err error) (*http.Response, error) {
	f := failureOf(err)
	if up, ok := p.upstreamFailed(f); ok {
		ex.trace.add(up)
		return ex.serveStored(&up.Serve, up.Pair, up.Serve.CacheStatus, OutcomeStale)
	}
	return nil, upstreamError(p, f, err)
}

// upstreamError wraps err with the core's answer for failure f of p.
func upstreamError(p pending, f spec.Failure, err error) error {
	var ue *UpstreamError
	if errors.As(err, &ue) {
		return err
	}
	answer := spec.UpstreamError(f)
	if p.reval != nil {
		answer = p.reval.UpstreamError(f)
	}
	return &UpstreamError{Err: err, Answer: answer}
}
