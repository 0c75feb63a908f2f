package proxy

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cellar-http/cellar/spec"
)

// Metrics is the proxy's own Prometheus instrumentation: requests by cache
// status, their duration, and the bytes served from cache and from
// upstream. The engine's metrics (upstream latency, coalescing, background
// refreshes) are registered separately by its own collector.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	bytes    *prometheus.CounterVec

	// The series of the fixed label values, looked up once (a label
	// lookup hashes the values and takes a lock): created on first use, so
	// that only the series seen are exported, as with WithLabelValues.
	requestSeries  [len(cacheLabels)][len(methodLabels)][len(codeLabels)]atomic.Pointer[counter]
	durationSeries [len(cacheLabels)]atomic.Pointer[observer]
	fromCache      prometheus.Counter
	fromUpstream   prometheus.Counter
}

type counter struct{ prometheus.Counter }

type observer struct{ prometheus.Observer }

// The label values ObserveRequest sees: those of CacheStatusLabel (the
// fwd reasons spec.FwdReasons among them) and "upgrade", the methods
// counted on their own (others are "other") and the status classes.
var (
	cacheLabels  = labelsWithFwd([...]string{LabelHit, LabelHitStale, LabelRevalidated, LabelNone, LabelOther, "upgrade"})
	methodLabels = [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "PURGE", "other"}
	codeLabels   = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx", "499", "other"}
)

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
	m.fromCache = m.bytes.WithLabelValues("cache")
	m.fromUpstream = m.bytes.WithLabelValues("upstream")
	return m, nil
}

// ObserveRequest implements Observer.
func (m *Metrics) ObserveRequest(method string, status int, cacheStatus string, bytes int64, d time.Duration) {
	ci := index(cacheLabels[:], cacheStatus)
	mi, si := methodIndex(method), statusIndex(status)
	if ci < 0 {
		m.requests.WithLabelValues(cacheStatus, methodLabels[mi], codeLabels[si]).Inc()
		m.duration.WithLabelValues(cacheStatus).Observe(d.Seconds())
	} else {
		m.requestCounter(ci, mi, si).Inc()
		m.durationObserver(ci).Observe(d.Seconds())
	}
	if cacheStatus == LabelHit || cacheStatus == LabelHitStale {
		m.fromCache.Add(float64(bytes))
	} else {
		m.fromUpstream.Add(float64(bytes))
	}
}

func (m *Metrics) requestCounter(ci, mi, si int) prometheus.Counter {
	p := &m.requestSeries[ci][mi][si]
	if c := p.Load(); c != nil {
		return c.Counter
	}
	// Concurrent first uses get the same series from the vector.
	c := &counter{m.requests.WithLabelValues(cacheLabels[ci], methodLabels[mi], codeLabels[si])}
	p.Store(c)
	return c.Counter
}

func (m *Metrics) durationObserver(ci int) prometheus.Observer {
	p := &m.durationSeries[ci]
	if o := p.Load(); o != nil {
		return o.Observer
	}
	o := &observer{m.duration.WithLabelValues(cacheLabels[ci])}
	p.Store(o)
	return o.Observer
}

func index(labels []string, v string) int {
	for i, l := range labels {
		if l == v {
			return i
		}
	}
	return -1
}

// methodIndex keeps the method label's cardinality bounded: the index in
// methodLabels, "other" for a method not listed.
func methodIndex(m string) int {
	if i := index(methodLabels[:len(methodLabels)-1], m); i >= 0 {
		return i
	}
	return len(methodLabels) - 1
}

// statusIndex returns the index in codeLabels of the class of code.
func statusIndex(code int) int {
	switch {
	case code == 499:
		return 5
	case code < 100 || code > 599:
		return 6
	}
	return code/100 - 1
}

// labelsWithFwd returns the cache status labels: fixed, then the RFC 9211
// §2.2 fwd reasons.
func labelsWithFwd(fixed [6]string) (l [6 + len(spec.FwdReasons)]string) {
	n := copy(l[:], fixed[:])
	for i, f := range spec.FwdReasons {
		l[n+i] = string(f)
	}
	return l
}
