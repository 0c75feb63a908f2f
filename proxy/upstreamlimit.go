package proxy

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// DefaultUpstreamQueueTimeout is how long a request waits for an upstream
// slot when Config.UpstreamMaxConns are all in use.
const DefaultUpstreamQueueTimeout = 10 * time.Second

// ErrUpstreamBusy is the error of a request that found no upstream slot in
// time; the client gets 503.
var ErrUpstreamBusy = errors.New("proxy: all upstream connections are busy")

// limitedTransport bounds the requests in flight upstream: a request holds
// a slot from RoundTrip until its response body is closed (the connection
// is busy until then), and waits for one up to timeout.
type limitedTransport struct {
	rt      http.RoundTripper
	slots   chan struct{}
	timeout time.Duration
}

func newLimitedTransport(rt http.RoundTripper, n int, timeout time.Duration) *limitedTransport {
	return &limitedTransport{rt: rt, slots: make(chan struct{}, n), timeout: timeout}
}

// InFlight returns the requests holding an upstream slot.
func (t *limitedTransport) InFlight() int { return len(t.slots) }

func (t *limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	select {
	case t.slots <- struct{}{}:
	default:
		timer := time.NewTimer(t.timeout)
		defer timer.Stop()
		select {
		case t.slots <- struct{}{}:
		case <-timer.C:
			if req.Body != nil {
				_ = req.Body.Close()
			}
			return nil, ErrUpstreamBusy
		case <-req.Context().Done():
			if req.Body != nil {
				_ = req.Body.Close()
			}
			return nil, req.Context().Err()
		}
	}
	resp, err := t.rt.RoundTrip(req)
	if err != nil {
		<-t.slots
		return nil, err
	}
	sb := &slotBody{ReadCloser: resp.Body, release: func() { <-t.slots }}
	resp.Body = sb
	if w, ok := sb.ReadCloser.(io.Writer); ok {
		// A protocol switch (101): ReverseProxy needs the body writable.
		resp.Body = &slotRWBody{slotBody: sb, w: w}
	}
	return resp, nil
}

// slotRWBody is the slotBody of a switched protocol's connection.
type slotRWBody struct {
	*slotBody
	w io.Writer
}

func (b *slotRWBody) Write(p []byte) (int, error) { return b.w.Write(p) }

// slotBody frees its upstream slot when closed.
type slotBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *slotBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}
