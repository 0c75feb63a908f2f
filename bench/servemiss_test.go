package bench

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cellar-http/cellar"
	"github.com/cellar-http/cellar/prommetrics"
	"github.com/cellar-http/cellar/proxy"
	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store/memory"
)

// BenchmarkServeMiss is the server side of a proxy miss without the client
// network: every request is for a new key, which proxy.Proxy (with the
// metrics cellar serve registers) fetches from the origin over loopback,
// stores in the memory store and serves, 10 KiB each as in the proxy
// benchmark's miss-10k workload.
func BenchmarkServeMiss(b *testing.B) {
	o := newOrigin(b)
	u, _ := url.Parse(o.URL)
	st, err := memory.New(memory.Options{MaxBytes: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	em, err := prommetrics.New(reg)
	if err != nil {
		b.Fatal(err)
	}
	pm, err := proxy.NewMetrics(reg)
	if err != nil {
		b.Fatal(err)
	}
	tr := upstreamTransport(b)
	c, err := cellar.New(cellar.Config{Spec: spec.Options{Shared: true}, Store: st, Upstream: tr, Metrics: em})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close(); st.Close() })
	p, err := proxy.New(proxy.Config{Upstream: u, Cache: c, Transport: tr, Name: "Cellar", Metrics: pm})
	if err != nil {
		b.Fatal(err)
	}
	const size = 10 << 10
	i := 0
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		i++
		path := "/big/" + strconv.Itoa(size) + "?k=" + strconv.Itoa(i)
		r, err := http.NewRequest("GET", path, nil)
		if err != nil {
			b.Fatal(err)
		}
		r.Host = "cache.example"
		r.RequestURI = path
		r.RemoteAddr = "127.0.0.1:40000"
		w := &discardWriter{h: http.Header{}}
		p.ServeHTTP(w, r)
		if w.n != size || w.status != http.StatusOK {
			b.Fatalf("status %d, %d bytes", w.status, w.n)
		}
	}
	if n := o.requests.Load(); n < int64(i) {
		b.Fatalf("%d requests reached the origin for %d misses", n, i)
	}
}
