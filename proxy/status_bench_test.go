package proxy

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// discardWriter is a ResponseWriter that keeps only the header.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(int)             {}
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkStatusHitPath measures what the status page costs a hit served
// through the proxy: without a Status (off), with one and nobody watching
// /decisions (on), and with a subscriber that takes every decision, trace
// and explanation included (subscribed; the explanation is built on the
// subscriber's goroutine). Compare the three of one run as ratios.
func BenchmarkStatusHitPath(b *testing.B) {
	for _, mode := range []string{"off", "on", "subscribed"} {
		b.Run(mode, func(b *testing.B) {
			up, _ := url.Parse("http://origin.internal")
			rt := &recordTransport{answer: func(r *http.Request) (*http.Response, error) {
				return textResponse(r, 200, "hello, cached world", "Cache-Control", "max-age=3600", "Content-Type", "text/plain"), nil
			}}
			cache := newTestCache(b, nil)
			var status *Status
			if mode != "off" {
				status = NewStatus(StatusConfig{Store: cache.Store(), Options: cache.Options()})
				defer status.Close()
			}
			// As cellar serve runs: the proxy's Prometheus metrics on, so
			// that every mode computes the outcome label.
			m, err := NewMetrics(prometheus.NewRegistry())
			if err != nil {
				b.Fatal(err)
			}
			p, err := New(Config{Upstream: up, Cache: cache, Transport: rt, Status: status, Metrics: m})
			if err != nil {
				b.Fatal(err)
			}
			if mode == "subscribed" {
				sub := status.dec.subscribe(filter{})
				defer status.dec.unsubscribe(sub)
				stop := make(chan struct{})
				defer close(stop)
				go func() {
					for {
						select {
						case d := <-sub.ch:
							_ = status.dec.data(d)
						case <-stop:
							return
						}
					}
				}()
			}
			req, _ := http.NewRequest("GET", "http://cache.example/page?id=1", nil)
			req.RequestURI = "/page?id=1"
			req.RemoteAddr = "127.0.0.1:5000"
			p.ServeHTTP(&discardWriter{h: http.Header{}}, req) // the miss that stores it
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				p.ServeHTTP(&discardWriter{h: make(http.Header, 8)}, req)
			}
			b.StopTimer()
			if mode != "off" && status.Snapshot().Totals.Hits < int64(b.N) {
				b.Fatal("the hits were not counted")
			}
			time.Sleep(10 * time.Millisecond)
		})
	}
}
