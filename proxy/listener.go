package proxy

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// ListenerConfig configures a [Listener].
type ListenerConfig struct {
	// MaxConns bounds the client connections open at once; zero means no
	// bound. Past it, an idle keep-alive connection is closed to make room
	// (the one idle longest), and when none is idle the new connection is
	// answered 503 and closed.
	MaxConns int
	// CheckFraming judges the framing of each HTTP/1 request as it is
	// received (request smuggling, RFC 9112 §6.1 and §6.3; see
	// [Proxy.ServeHTTP]). It needs the plain-text bytes: leave it off when
	// the server wraps the listener in TLS itself (ServeTLS).
	CheckFraming bool
}

// Listener wraps the proxy's net.Listener: it bounds the open
// connections, closing idle ones first, and frames requests to detect
// smuggling. Set the http.Server's ConnState and ConnContext to its
// methods of the same names.
type Listener struct {
	net.Listener
	cfg ListenerConfig

	mu   sync.Mutex
	open int
	idle idleList

	refused, closedIdle atomic.Int64
}

// NewListener wraps ln.
func NewListener(ln net.Listener, cfg ListenerConfig) *Listener {
	return &Listener{Listener: ln, cfg: cfg}
}

// conn is one accepted connection.
type conn struct {
	net.Conn
	l    *Listener
	scan *framingScanner // nil without CheckFraming
	// In l.idle while idle (idlelist.go).
	idle               bool
	counted            bool // counted in l.open; l.mu guards it, as idle
	idlePrev, idleNext *conn
	closed             sync.Once
}

// busyResponse answers a connection past MaxConns.
const busyResponse = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n" +
	"Cache-Control: no-store\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 25\r\n\r\ntoo many open connections"

// Accept returns the next connection, making room for it first.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.cfg.MaxConns <= 0 && !l.cfg.CheckFraming {
			return nc, nil
		}
		c := &conn{Conn: nc, l: l}
		if l.cfg.CheckFraming {
			c.scan = newFramingScanner()
		}
		if l.admit(c) {
			return c, nil
		}
		l.refused.Add(1)
		go refuse(nc)
	}
}

// refuse answers a connection the listener has no room for.
func refuse(nc net.Conn) {
	_ = nc.SetDeadline(time.Now().Add(time.Second))
	_, _ = nc.Write([]byte(busyResponse))
	_ = nc.Close()
}

// admit counts c in, closing an idle connection when at MaxConns; it
// reports false when there is no room.
func (l *Listener) admit(c *conn) bool {
	l.mu.Lock()
	var victim *conn
	if l.cfg.MaxConns > 0 && l.open >= l.cfg.MaxConns {
		victim = l.idle.front
		if victim == nil {
			l.mu.Unlock()
			return false
		}
		l.idle.remove(victim)
		l.open-- // counted out now: its slot is c's
		victim.counted = false
	}
	l.open++
	c.counted = true
	l.mu.Unlock()
	if victim != nil {
		l.closedIdle.Add(1)
		victim.closed.Do(func() { _ = victim.Conn.Close() })
	}
	return true
}

// Read frames what it reads, when CheckFraming is set.
func (c *conn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if c.scan != nil && n > 0 {
		c.scan.feed(b[:n])
	}
	return n, err
}

// ReadFrom hands a response body to the connection's own ReadFrom: on a
// *net.TCPConn, sendfile(2) from a file (the disk store's verified bodies)
// or splice from a socket. net/http's ResponseWriter uses it only when the
// connection offers it; without it every body is copied through user space.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(c.Conn, r)
}

// CloseWrite half-closes the connection, when it can.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// Close closes the connection and frees its slot.
func (c *conn) Close() error {
	err := net.ErrClosed
	c.closed.Do(func() {
		err = c.Conn.Close()
		c.l.forget(c)
	})
	return err
}

func (l *Listener) forget(c *conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !c.counted {
		return // closed as an idle victim, already counted out
	}
	c.counted = false
	l.open--
	l.idle.remove(c)
}

// ConnState tracks which connections are idle; set it as the
// http.Server's ConnState.
func (l *Listener) ConnState(nc net.Conn, state http.ConnState) {
	c := l.lookup(nc)
	if c == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !c.counted {
		return
	}
	switch state {
	case http.StateIdle:
		if !c.idle {
			l.idle.pushBack(c)
		}
	default:
		l.idle.remove(c)
	}
}

// lookup finds the conn behind what net/http hands ConnState and
// ConnContext: the conn itself, or a *tls.Conn over it.
func (l *Listener) lookup(nc net.Conn) *conn {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	c, _ := nc.(*conn)
	return c
}

type framingKey struct{}

// ConnContext gives the requests of a connection its framing verdicts; set
// it as the http.Server's ConnContext.
func (l *Listener) ConnContext(ctx context.Context, nc net.Conn) context.Context {
	if c := l.lookup(nc); c != nil && c.scan != nil {
		return context.WithValue(ctx, framingKey{}, c.scan)
	}
	return ctx
}

// ListenerStats are a Listener's counters.
type ListenerStats struct {
	Open       int   // connections open now
	Idle       int   // of which idle
	Refused    int64 // connections answered 503 for want of room
	ClosedIdle int64 // idle connections closed to make room
}

// Stats returns the listener's counters.
func (l *Listener) Stats() ListenerStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return ListenerStats{Open: l.open, Idle: l.idle.n, Refused: l.refused.Load(), ClosedIdle: l.closedIdle.Load()}
}
