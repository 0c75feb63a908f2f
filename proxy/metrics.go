package proxy

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics is the proxy's own Prometheus instrumentation: requests by cache
// status, their duration, and the bytes served from cache and from
// upstream. The engine's metrics (upstream latency, coalescing, background
// refreshes) are registered separately by its own collector.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	bytes    *prometheus.CounterVec
}

// NewMetrics registers the proxy's metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cellar_proxy_requests_total",
			Help: "Requests served by the proxy, by cache status (hit, hit-stale, revalidated, or the RFC 9211 fwd reason), method and status class.",
		}, []string{"cache", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cellar_proxy_request_duration_seconds",
			Help:    "Time from receiving a request to the end of its response, by cache status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"cache"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cellar_proxy_response_bytes_total",
			Help: "Response body bytes sent to clients, by source: cache (hits) or upstream (everything else).",
		}, []string{"source"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.bytes} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Pre-create the two sources so both series exist from the start.
	m.bytes.WithLabelValues("cache")
	m.bytes.WithLabelValues("upstream")
	return m, nil
}

// ObserveRequest implements Observer.
func (m *Metrics) ObserveRequest(method string, status int, cacheStatus string, bytes int64, d time.Duration) {
	m.requests.WithLabelValues(cacheStatus, methodLabel(method), statusClass(status)).Inc()
	m.duration.WithLabelValues(cacheStatus).Observe(d.Seconds())
	source := "upstream"
	if cacheStatus == LabelHit || cacheStatus == LabelHitStale {
		source = "cache"
	}
	m.bytes.WithLabelValues(source).Add(float64(bytes))
}

// methodLabel keeps the method label's cardinality bounded.
func methodLabel(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "PURGE":
		return m
	}
	return "other"
}

func statusClass(code int) string {
	if code == 499 {
		return "499"
	}
	if code < 100 || code > 599 {
		return "other"
	}
	return strconv.Itoa(code/100) + "xx"
}
