package bench

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cellar-http/cellar"
	"github.com/cellar-http/cellar/prommetrics"
	"github.com/cellar-http/cellar/proxy"
	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/memory"
)

// BenchmarkServeHit is the server side of a hit without the network: one
// fresh stored response served to an in-memory ResponseWriter, layer by
// layer, to show where a proxy hit spends the CPU that bench/proxy/run.sh
// measures from outside.
//
//   - origin-handler: a handler writing the bytes from memory (what the bare
//     Go origin does per request, less the HTTP parsing and the syscall);
//   - cellar-roundtrip: Cache.RoundTrip and copying the body;
//   - cellar-handler: Cache.Handler in front of that handler (Middleware);
//   - cellar-proxy: proxy.Proxy (the Cache's Handler, forwarding to the
//     origin over the upstream transport), as cellar serve runs it, without
//     metrics;
//   - cellar-proxy-metrics: the same with the Prometheus metrics cellar serve
//     registers (proxy and engine);
//   - cellar-proxy-tiered: cellar-proxy over cellar serve's default store,
//     the disk store behind its memory tier.
func BenchmarkServeHit(b *testing.B) {
	for _, size := range []int{1 << 10, 100 << 10} {
		o := newOrigin(b)
		body := o.bodies[size]
		path := fmt.Sprintf("/obj/%d", size)
		originHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h["Cache-Control"] = []string{"public, max-age=3600"}
			h["Content-Type"] = []string{"application/octet-stream"}
			h["Etag"] = []string{`"obj"`}
			h["Content-Length"] = []string{strconv.Itoa(len(body))}
			w.Write(body)
		})
		newCacheOn := func(b *testing.B, m cellar.Metrics, st store.Store) *cellar.Cache {
			c, err := cellar.New(cellar.Config{Spec: spec.Options{Shared: true}, Store: st,
				Upstream: upstreamTransport(b), Metrics: m})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { c.Close(); st.Close() })
			return c
		}
		newCache := func(b *testing.B, m cellar.Metrics) *cellar.Cache {
			st, err := memory.New(memory.Options{MaxBytes: 64 << 20})
			if err != nil {
				b.Fatal(err)
			}
			return newCacheOn(b, m, st)
		}
		newProxyOn := func(b *testing.B, c *cellar.Cache) http.Handler {
			u, _ := url.Parse(o.URL)
			p, err := proxy.New(proxy.Config{Upstream: u, Cache: c, Transport: upstreamTransport(b), Name: "Cellar"})
			if err != nil {
				b.Fatal(err)
			}
			return p
		}
		newProxy := func(b *testing.B, withMetrics bool) http.Handler {
			u, _ := url.Parse(o.URL)
			var obs proxy.Observer
			var em cellar.Metrics
			if withMetrics {
				reg := prometheus.NewRegistry()
				pm, err := proxy.NewMetrics(reg)
				if err != nil {
					b.Fatal(err)
				}
				m, err := prommetrics.New(reg)
				if err != nil {
					b.Fatal(err)
				}
				obs, em = pm, m
			}
			p, err := proxy.New(proxy.Config{Upstream: u, Cache: newCache(b, em), Transport: upstreamTransport(b),
				Name: "Cellar", Metrics: obs})
			if err != nil {
				b.Fatal(err)
			}
			return p
		}
		layers := []struct {
			name    string
			handler func(b *testing.B) http.Handler
		}{
			{"origin-handler", func(*testing.B) http.Handler { return originHandler }},
			{"cellar-roundtrip", func(b *testing.B) http.Handler {
				c := newCache(b, nil)
				buf := make([]byte, 32<<10)
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					r.URL.Scheme, r.URL.Host = "http", r.Host
					resp, err := c.RoundTrip(r)
					if err != nil {
						b.Fatal(err)
					}
					io.CopyBuffer(w, resp.Body, buf)
					resp.Body.Close()
				})
			}},
			{"cellar-handler", func(b *testing.B) http.Handler { return newCache(b, nil).Handler(originHandler) }},
			{"cellar-proxy", func(b *testing.B) http.Handler { return newProxy(b, false) }},
			{"cellar-proxy-metrics", func(b *testing.B) http.Handler { return newProxy(b, true) }},
			{"cellar-proxy-tiered", func(b *testing.B) http.Handler {
				// Issue 14: its hot hits within 0.95× of the memory
				// store's.
				return newProxyOn(b, newCacheOn(b, nil, newDefaultStore(b)))
			}},
		}
		for _, l := range layers {
			b.Run(fmt.Sprintf("size=%dKiB/lib=%s", size>>10, l.name), func(b *testing.B) {
				h := l.handler(b)
				serve := func() {
					r, err := http.NewRequest("GET", path, nil)
					if err != nil {
						b.Fatal(err)
					}
					r.Host = o.Listener.Addr().String()
					r.RequestURI = path
					r.RemoteAddr = "127.0.0.1:40000"
					r.Header["User-Agent"] = []string{"wrk"}
					w := &discardWriter{h: http.Header{}}
					h.ServeHTTP(w, r)
					if w.n != int64(size) || (w.status != 0 && w.status != http.StatusOK) {
						b.Fatalf("status %d, %d bytes", w.status, w.n)
					}
				}
				serve()
				serve()
				before := o.requests.Load()
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					serve()
				}
				if n := o.requests.Load() - before; n != 0 {
					b.Fatalf("%d requests reached the origin: not hits", n)
				}
			})
		}
	}
}

// discardWriter is an http.ResponseWriter that counts the body and keeps
// nothing.
type discardWriter struct {
	h      http.Header
	status int
	n      int64
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += int64(len(p))
	return len(p), nil
}
