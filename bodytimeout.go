package cellar

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// DefaultUpstreamBodyTimeout is how long a read of an upstream body may wait
// for bytes once the response header has arrived, when
// Config.UpstreamBodyTimeout is zero.
const DefaultUpstreamBodyTimeout = 60 * time.Second

// ErrUpstreamBodyTimeout is the read error of an upstream body that sent
// nothing for Config.UpstreamBodyTimeout: the fill is aborted (nothing is
// stored) and every reader of the response gets this error, so that the
// client's connection is cut rather than ended as if the body were complete.
var ErrUpstreamBodyTimeout = errors.New("cellar: upstream body stalled")

// idleBody bounds how long each Read of an upstream body may wait. Only the
// time spent inside Read counts: a slow client that reads seldom is not the
// origin's fault. When a Read waits too long, the body is closed (which
// unblocks the Read in net/http's transport and in the in-process pipe) and
// that Read, and every later one, fails with ErrUpstreamBodyTimeout.
type idleBody struct {
	rc      io.ReadCloser
	timeout time.Duration
	timer   *time.Timer // armed during a Read only
	expired atomic.Bool
}

// withBodyTimeout wraps resp's body in an idleBody unless the timeout is off
// or the response has no body to stall on, or switches protocols (its body
// is the connection, which may rightly stay idle).
func withBodyTimeout(resp *http.Response, d time.Duration) {
	if d <= 0 || resp.Body == nil || resp.Body == http.NoBody || resp.StatusCode == http.StatusSwitchingProtocols {
		return
	}
	b := &idleBody{rc: resp.Body, timeout: d}
	b.timer = time.AfterFunc(d, b.expire)
	b.timer.Stop()
	resp.Body = b
}

func (b *idleBody) Read(p []byte) (int, error) {
	if b.expired.Load() {
		return 0, b.err()
	}
	b.timer.Reset(b.timeout)
	n, err := b.rc.Read(p)
	b.timer.Stop()
	if err != nil && b.expired.Load() {
		return n, b.err()
	}
	return n, err
}

func (b *idleBody) expire() {
	b.expired.Store(true)
	b.rc.Close()
}

func (b *idleBody) err() error {
	return fmt.Errorf("%w: no byte for %v", ErrUpstreamBodyTimeout, b.timeout)
}

func (b *idleBody) Close() error {
	b.timer.Stop()
	return b.rc.Close()
}
