package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestShutdownNeedsNoWaitWhenIdle: issue 13, item 6. With one idle
// keep-alive connection and one that has sent no request yet, and nothing
// in flight, shutdown has nothing to wait for: once the connections
// without a request are closed, http.Server.Shutdown completes even with
// a context that is already done (no poll, no timer), and the server has
// closed both connections (each read returns EOF). Without closing them,
// Shutdown waits for a new connection until it is 5 s old: given no time,
// it fails, which the "plain" case shows.
func TestShutdownNeedsNoWaitWhenIdle(t *testing.T) {
	for _, closeFresh := range []bool{true, false} {
		name := map[bool]string{true: "tracked", false: "plain"}[closeFresh]
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			tr := newConnTracker()
			states := make(chan http.ConnState, 16)
			srv := &http.Server{
				Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
				ConnState: func(c net.Conn, s http.ConnState) {
					tr.state(c, s)
					states <- s
				},
			}
			go srv.Serve(ln)
			defer srv.Close()

			// A keep-alive connection that served one request and is idle.
			idle, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer idle.Close()
			waitState(t, states, http.StateNew)
			io.WriteString(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			br := bufio.NewReader(idle)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			waitState(t, states, http.StateActive)
			waitState(t, states, http.StateIdle)
			// A connection that has sent nothing.
			fresh, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer fresh.Close()
			waitState(t, states, http.StateNew)

			if closeFresh {
				<-tr.closeFresh()
			}
			done, cancel := context.WithCancel(context.Background())
			cancel()
			err = srv.Shutdown(done)
			if !closeFresh {
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("plain Shutdown with a fresh connection and no time: %v, want it to need time", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Shutdown with nothing in flight needed to wait: %v", err)
			}
			for name, c := range map[string]net.Conn{"idle": idle, "fresh": fresh} {
				c.SetReadDeadline(time.Now().Add(time.Minute)) // a hang guard
				var r io.Reader = c
				if name == "idle" {
					r = br
				}
				if n, err := r.Read(make([]byte, 1)); n != 0 || err != io.EOF {
					t.Errorf("%s connection after shutdown: read %d, %v; want EOF (closed by the server)", name, n, err)
				}
			}
		})
	}
}

func waitState(t *testing.T, states <-chan http.ConnState, want http.ConnState) {
	t.Helper()
	for s := range states {
		if s == want {
			return
		}
	}
}

// TestConnTrackerStates: only connections that have sent no request are
// closed by closeFresh, whatever the order of other connections' states;
// StateActive and StateIdle skip the lock when nothing is fresh, and must
// still take a fresh connection out when one is.
func TestConnTrackerStates(t *testing.T) {
	tr := newConnTracker()
	a, aPeer := net.Pipe()
	b, bPeer := net.Pipe()
	defer aPeer.Close()
	defer bPeer.Close()
	tr.state(a, http.StateNew)
	tr.state(a, http.StateActive)
	tr.state(a, http.StateIdle)
	tr.state(b, http.StateNew)
	tr.state(a, http.StateActive) // b is fresh: this one takes the lock
	if n := tr.nfresh.Load(); n != 1 {
		t.Fatalf("fresh count %d, want 1 (b)", n)
	}
	tr.state(b, http.StateActive)
	if n := tr.nfresh.Load(); n != 0 {
		t.Fatalf("fresh count %d after b's request, want 0", n)
	}
	c, cPeer := net.Pipe()
	defer cPeer.Close()
	tr.state(c, http.StateNew)
	done := tr.closeFresh()
	for _, conn := range []net.Conn{a, b} {
		conn.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := conn.Write([]byte("x")); errors.Is(err, io.ErrClosedPipe) {
			t.Fatal("closeFresh closed a connection that had sent a request")
		}
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("the fresh connection is still open: write error %v", err)
	}
	tr.state(c, http.StateClosed)
	select {
	case <-done:
	default:
		t.Fatal("closeFresh's channel not closed once its connection was")
	}
}
