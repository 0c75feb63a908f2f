package proxy

import (
	"net"
	"net/http"
	"testing"
)

// The idle list keeps the longest idle first, and removes from anywhere.
func TestIdleListOrder(t *testing.T) {
	var q idleList
	a, b, c := &conn{}, &conn{}, &conn{}
	q.pushBack(a)
	q.pushBack(b)
	q.pushBack(c)
	q.remove(b)
	q.remove(b) // not in it any more: nothing
	if q.front != a || a.idleNext != c || c.idlePrev != a || q.back != c || q.n != 2 {
		t.Fatalf("after removing the middle one: front %p back %p n %d", q.front, q.back, q.n)
	}
	q.remove(a)
	if q.front != c || q.back != c || c.idlePrev != nil || q.n != 1 {
		t.Fatalf("after removing the front: front %p back %p n %d", q.front, q.back, q.n)
	}
	q.remove(c)
	if q.front != nil || q.back != nil || q.n != 0 || c.idle {
		t.Fatalf("emptied: front %p back %p n %d", q.front, q.back, q.n)
	}
}

// A keep-alive connection goes active and idle around every request: that
// costs the Listener no allocation (issue 14's 1 KiB hit).
func TestConnStateAllocatesNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(ln, ListenerConfig{MaxConns: 4})
	defer l.Close()
	go func() {
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			defer c.Close()
			c.Read(make([]byte, 1))
		}
	}()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n := testing.AllocsPerRun(100, func() {
		l.ConnState(c, http.StateActive)
		l.ConnState(c, http.StateIdle)
	}); n != 0 {
		t.Errorf("ConnState active then idle: %v allocations, want 0", n)
	}
	if st := l.Stats(); st.Idle != 1 || st.Open != 1 {
		t.Errorf("Stats() = %+v, want 1 open, 1 idle", st)
	}
}
