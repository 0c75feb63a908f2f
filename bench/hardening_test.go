package bench

// Figures for issue 12's denial-of-service items, measured side by side in
// one run: the cost of the connection-bounding, smuggling-checking
// listener (item 9, BenchmarkListener), and what 300 clients sending
// request bodies slowly do to upstream connections and to innocent
// requests, with bodies streamed (the old behaviour) and buffered
// (TestSlowBodiesFigure, item 7).

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cellar-http/cellar"
	"github.com/cellar-http/cellar/proxy"
	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store/memory"
)

// proxyServer starts cellar's proxy on loopback in front of originURL, as
// cellar serve runs it; with a Listener when lc is not nil.
func proxyServer(tb testing.TB, originURL string, pc proxy.Config, lc *proxy.ListenerConfig) string {
	tb.Helper()
	st, err := memory.New(memory.Options{MaxBytes: 64 << 20})
	if err != nil {
		tb.Fatal(err)
	}
	c, err := cellar.New(cellar.Config{Spec: spec.Options{Shared: true}, Store: st, Upstream: upstreamTransport(tb)})
	if err != nil {
		tb.Fatal(err)
	}
	up, _ := url.Parse(originURL)
	pc.Upstream, pc.Cache, pc.Transport = up, c, upstreamTransport(tb)
	p, err := proxy.New(pc)
	if err != nil {
		tb.Fatal(err)
	}
	var ln net.Listener
	if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	if lc != nil {
		pl := proxy.NewListener(ln, *lc)
		srv.ConnState, srv.ConnContext, ln = pl.ConnState, pl.ConnContext, pl
	}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close(); c.Close(); st.Close() })
	return "http://" + ln.Addr().String()
}

// BenchmarkListener is the cost of proxy.Listener (--max-conns and the
// framing check, as cellar serve runs it) on proxy hits over keep-alive
// connections: compare listener with plain.
func BenchmarkListener(b *testing.B) {
	o := newOrigin(b)
	for _, mode := range []struct {
		name string
		lc   *proxy.ListenerConfig
	}{
		{"plain", nil},
		{"listener", &proxy.ListenerConfig{MaxConns: 10000, CheckFraming: true}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			addr := proxyServer(b, o.URL, proxy.Config{}, mode.lc)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			u := addr + "/obj/1024"
			get(b, client, u, 1024)
			b.SetBytes(1024)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					get(b, client, u, 1024)
				}
			})
		})
	}
}

// slowOrigin counts the requests in its handler at once (each holds an
// upstream connection of the proxy) and answers the innocent misses. Like
// an application server with a pool of workers (Puma, Gunicorn, a thread
// pool), it serves originWorkers requests at once.
type slowOrigin struct {
	*httptest.Server
	active, maxActive atomic.Int64
}

const originWorkers = 256

func newSlowOrigin(tb testing.TB) *slowOrigin {
	o := &slowOrigin{}
	workers := make(chan struct{}, originWorkers)
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case workers <- struct{}{}:
			defer func() { <-workers }()
		case <-r.Context().Done():
			return
		}
		n := o.active.Add(1)
		defer o.active.Add(-1)
		for m := o.maxActive.Load(); n > m && !o.maxActive.CompareAndSwap(m, n); m = o.maxActive.Load() {
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "innocent")
	}))
	tb.Cleanup(o.Close)
	return o
}

// innocentP50 is the median time of n misses (unique paths) through the
// proxy at addr, a failure (the client's timeout) counting as the
// timeout, and the number of failures out of those sent: at most n, and
// no more once 3s have passed.
func innocentP50(client *http.Client, addr, prefix string, n int) (p50 time.Duration, failed, sent int) {
	ds := make([]time.Duration, 0, n)
	begin := time.Now()
	for i := 0; i < n && time.Since(begin) < 3*time.Second; i++ {
		start := time.Now()
		resp, err := client.Get(fmt.Sprintf("%s/%s/%d", addr, prefix, i))
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err != nil || resp.StatusCode != http.StatusOK {
			failed++
		}
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	return ds[len(ds)/2], failed, len(ds)
}

// slowClients opens n connections that each send a 1 MB POST body one
// byte every interval, until stop is closed.
func slowClients(tb testing.TB, addr string, n int, interval time.Duration, stop chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	host := strings.TrimPrefix(addr, "http://")
	for range n {
		c, err := net.Dial("tcp", host)
		if err != nil {
			tb.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			_, _ = io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n")
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					if _, err := io.WriteString(c, "x"); err != nil {
						return
					}
				}
			}
		}()
	}
	return &wg
}

// TestSlowBodiesFigure prints, for bodies streamed (the old behaviour) and
// buffered (the default), the upstream connections 300 slow-body clients
// hold and the median time of innocent misses, quiet and under the slow
// clients, as a ratio. It asserts nothing about times (the machine is
// shared); it bounds its run to a few seconds.
func TestSlowBodiesFigure(t *testing.T) {
	if testing.Short() {
		t.Skip("a few seconds of slow clients")
	}
	const clients, misses = 300, 200
	fmt.Printf("origin with %d workers; %d clients sending a 1 MB body at 2 B/s; up to %d innocent misses (3s), 500ms timeout\n",
		originWorkers, clients, misses)
	fmt.Printf("%-10s %14s %11s %11s %8s %14s\n", "bodies", "upstream held", "p50 quiet", "p50 slow", "ratio", "innocent fail")
	for _, mode := range []struct {
		name string
		cfg  proxy.Config
	}{
		{"streamed", proxy.Config{StreamRequestBodies: true}},
		{"buffered", proxy.Config{MaxBodyBytes: 1 << 30, UpstreamMaxConns: 1024}},
	} {
		o := newSlowOrigin(t)
		addr := proxyServer(t, o.URL, mode.cfg, &proxy.ListenerConfig{MaxConns: 10000, CheckFraming: true})
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 500 * time.Millisecond}
		_, _, _ = innocentP50(client, addr, "warm", 50)
		quiet, _, _ := innocentP50(client, addr, "quiet", misses)
		stop := make(chan struct{})
		wg := slowClients(t, addr, clients, 500*time.Millisecond, stop)
		time.Sleep(time.Second) // the slow clients' requests are under way
		slow, failed, sent := innocentP50(client, addr, "slow", misses)
		held := o.maxActive.Load()
		close(stop)
		wg.Wait()
		client.CloseIdleConnections()
		fmt.Printf("%-10s %14d %11v %11v %7.2fx %10d/%d\n", mode.name, held, quiet.Round(time.Microsecond), slow.Round(time.Microsecond),
			float64(slow)/float64(quiet), failed, sent)
	}
}
