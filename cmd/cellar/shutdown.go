package main

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// connTracker closes, on shutdown, the connections that have not sent a
// request yet. http.Server.Shutdown closes idle keep-alive connections at
// once but waits for a connection in StateNew (accepted, no request read)
// until it is 5 seconds old, polling every 500 ms: clients and load
// balancers that open connections ahead of need (wrk, pools, pre-connect)
// made SIGTERM take 5.9 s with nothing in flight (issue 13, item 6). Such a
// connection holds no request, so closing it loses nothing: a request
// racing the close was not read, and the client sees the connection close
// without a response (which it may retry elsewhere).
type connTracker struct {
	mu    sync.Mutex
	fresh map[net.Conn]struct{} // StateNew
	// nfresh is len(fresh), read without mu: a keep-alive connection's
	// requests (StateActive, StateIdle) then take no lock.
	nfresh   atomic.Int64
	closing  map[net.Conn]struct{} // closed by closeFresh, not yet StateClosed
	stopping bool
	drained  chan struct{} // closed when closing empties after closeFresh
}

func newConnTracker() *connTracker {
	return &connTracker{fresh: map[net.Conn]struct{}{}, closing: map[net.Conn]struct{}{}}
}

// state is the http.Server's ConnState hook.
func (t *connTracker) state(c net.Conn, s http.ConnState) {
	switch s {
	case http.StateIdle:
		return // after StateActive, which took c out of fresh
	case http.StateActive:
		// net/http reports StateNew before it starts the connection's
		// goroutine, which reports StateActive: a fresh c is counted.
		if t.nfresh.Load() == 0 {
			return
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	defer func() { t.nfresh.Store(int64(len(t.fresh))) }()
	switch s {
	case http.StateNew:
		if t.stopping {
			t.closing[c] = struct{}{}
			c.Close()
			return
		}
		t.fresh[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(t.fresh, c)
		delete(t.closing, c)
		if len(t.closing) == 0 && t.drained != nil {
			close(t.drained)
			t.drained = nil
		}
	default:
		delete(t.fresh, c)
	}
}

// closeFresh closes every connection that has not sent a request, and any
// accepted from now on, and returns a channel closed once the server has
// let go of all of them (they are then no longer in the way of
// Shutdown).
func (t *connTracker) closeFresh() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopping = true
	for c := range t.fresh {
		t.closing[c] = struct{}{}
		c.Close()
	}
	clear(t.fresh)
	t.nfresh.Store(0)
	done := make(chan struct{})
	if len(t.closing) == 0 {
		close(done)
	} else {
		t.drained = done
	}
	return done
}

// shutdownServer stops srv: it closes the connections without a request,
// then lets http.Server.Shutdown close the idle ones and wait for those in
// flight, until ctx ends.
func shutdownServer(ctx context.Context, srv *http.Server, t *connTracker) error {
	select {
	case <-t.closeFresh():
	case <-ctx.Done():
	}
	return srv.Shutdown(ctx)
}
