package proxy

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cellar-http/cellar"
)

// EngineMetrics implements cellar.Metrics with Prometheus counters: how
// each response was produced, revalidations, coalesced requests, stores
// and aborted fills, body bytes by source and background refreshes.
type EngineMetrics struct {
	served      *prometheus.CounterVec
	revalidated *prometheus.CounterVec
	coalesced   prometheus.Counter
	stored      prometheus.Counter
	storedBytes prometheus.Counter
	aborted     *prometheus.CounterVec
	bytes       *prometheus.CounterVec
	refreshed   *prometheus.CounterVec
}

var _ cellar.Metrics = (*EngineMetrics)(nil)

// NewEngineMetrics registers the engine's metrics with reg.
func NewEngineMetrics(reg prometheus.Registerer) (*EngineMetrics, error) {
	m := &EngineMetrics{
		served: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cellar_cache_served_total",
			Help: "Responses produced by the cache, by outcome (hit, stale, revalidated, miss, pass, collapsed, bypass, error).",
		}, []string{"outcome"}),
		revalidated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cellar_cache_revalidations_total",
			Help: "Validation requests answered, by result: not_modified (the stored response was confirmed) or modified.",
		}, []string{"result"}),
		coalesced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cellar_cache_coalesced_total",
			Help: "Requests that waited for another request's upstream exchange instead of making their own.",
		}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cellar_cache_stored_total",
			Help: "Entries committed to the store.",
		}),
		storedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cellar_cache_stored_bytes_total",
			Help: "Body bytes of the entries committed to the store.",
		}),
		aborted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cellar_cache_fill_aborts_total",
			Help: "Store writes abandoned, by reason.",
		}, []string{"reason"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cellar_cache_body_bytes_total",
			Help: "Response body bytes read by clients, by source (cache or upstream).",
		}, []string{"source"}),
		refreshed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cellar_cache_background_refreshes_total",
			Help: "Background (stale-while-revalidate) refreshes, by result (ok or error).",
		}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{m.served, m.revalidated, m.coalesced, m.stored, m.storedBytes, m.aborted, m.bytes, m.refreshed} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, o := range []cellar.Outcome{cellar.OutcomeHit, cellar.OutcomeStale, cellar.OutcomeRevalidated, cellar.OutcomeMiss,
		cellar.OutcomePass, cellar.OutcomeCollapsed, cellar.OutcomeBypass, cellar.OutcomeError} {
		m.served.WithLabelValues(string(o))
	}
	m.bytes.WithLabelValues(string(cellar.SourceCache))
	m.bytes.WithLabelValues(string(cellar.SourceUpstream))
	m.refreshed.WithLabelValues("ok")
	m.refreshed.WithLabelValues("error")
	return m, nil
}

func (m *EngineMetrics) Served(o cellar.Outcome) { m.served.WithLabelValues(string(o)).Inc() }

func (m *EngineMetrics) Revalidated(notModified bool) {
	r := "modified"
	if notModified {
		r = "not_modified"
	}
	m.revalidated.WithLabelValues(r).Inc()
}

func (m *EngineMetrics) Coalesced() { m.coalesced.Inc() }

func (m *EngineMetrics) Stored(size int64) {
	m.stored.Inc()
	m.storedBytes.Add(float64(size))
}

func (m *EngineMetrics) Aborted(reason string) { m.aborted.WithLabelValues(reason).Inc() }

func (m *EngineMetrics) Bytes(from cellar.Source, n int64) {
	m.bytes.WithLabelValues(string(from)).Add(float64(n))
}

func (m *EngineMetrics) Refreshed(err error) {
	r := "ok"
	if err != nil {
		r = "error"
	}
	m.refreshed.WithLabelValues(r).Inc()
}

// InstrumentUpstream wraps the cache's upstream transport to measure
// upstream latency (until the response header arrives) by status code, and
// upstream failures.
func InstrumentUpstream(rt http.RoundTripper, reg prometheus.Registerer) (http.RoundTripper, error) {
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "cellar_upstream_request_duration_seconds",
		Help:    "Time from sending a request upstream to receiving its response header, by status code (\"error\" when none came).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"code"})
	if err := reg.Register(latency); err != nil {
		return nil, err
	}
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		start := time.Now()
		resp, err := rt.RoundTrip(r)
		code := "error"
		if err == nil {
			code = strconv.Itoa(resp.StatusCode)
		}
		latency.WithLabelValues(code).Observe(time.Since(start).Seconds())
		return resp, err
	}), nil
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
