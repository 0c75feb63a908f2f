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
	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/disk"
	"github.com/cellar-http/cellar/store/memory"
	"github.com/cellar-http/cellar/store/tiered"
)

// BenchmarkServeMiss is the server side of a proxy miss without the client
// network: every request is for a new key, which proxy.Proxy (with the
// metrics cellar serve registers) fetches from the origin over loopback,
// stores (in the memory store, or cellar serve's default tiered disk store)
// and serves, 1 KiB each as in the proxy benchmark's miss-10k workload.
func BenchmarkServeMiss(b *testing.B) {
	b.Run("store=memory", func(b *testing.B) {
		st, err := memory.New(memory.Options{MaxBytes: 64 << 20})
		if err != nil {
			b.Fatal(err)
		}
		benchmarkServeMiss(b, st)
	})
	b.Run("store=tiered", func(b *testing.B) { benchmarkServeMiss(b, newDefaultStore(b)) })
}

// newDefaultStore returns cellar serve's default store: the disk store, in
// a temporary directory, behind its memory tier.
func newDefaultStore(b *testing.B) store.Store {
	d, err := disk.Open(b.TempDir(), disk.Options{})
	if err != nil {
		b.Fatal(err)
	}
	st, err := tiered.New(d, tiered.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return st
}

func benchmarkServeMiss(b *testing.B, st store.Store) {
	o := newOrigin(b)
	u, _ := url.Parse(o.URL)
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
	const size = 1 << 10
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
