// Package prommetrics exports Cellar's counters to Prometheus: the engine's
// (a cellar.Metrics implementation) and a store's (a collector reading
// store.Store.Stats, for entries, bytes and evictions).
//
//	reg := prometheus.NewRegistry()
//	m, err := prommetrics.New(reg)
//	...
//	c, err := cellar.New(cellar.Config{Store: st, Metrics: m})
//	reg.MustRegister(prommetrics.NewStoreCollector(st))
package prommetrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cellar-http/cellar"
	"github.com/cellar-http/cellar/store"
)

// Metrics implements cellar.Metrics with Prometheus counters. The metric
// names are those the proxy exports:
//
//	cellar_cache_served_total{outcome}            responses by outcome
//	cellar_cache_revalidations_total{result}      not_modified | modified
//	cellar_cache_coalesced_total                  requests collapsed into another's
//	cellar_cache_stored_total                     entries committed
//	cellar_cache_stored_bytes_total               their body bytes
//	cellar_cache_fill_aborts_total{reason}        store writes abandoned
//	cellar_cache_body_bytes_total{source}         body bytes served, cache | upstream
//	cellar_cache_background_refreshes_total{result} ok | error
type Metrics struct {
	served      map[cellar.Outcome]prometheus.Counter
	servedVec   *prometheus.CounterVec
	notModified prometheus.Counter
	modified    prometheus.Counter
	coalesced   prometheus.Counter
	stored      prometheus.Counter
	storedBytes prometheus.Counter
	aborted     *prometheus.CounterVec
	bytesCache  prometheus.Counter
	bytesUp     prometheus.Counter
	bytesVec    *prometheus.CounterVec
	refreshOK   prometheus.Counter
	refreshErr  prometheus.Counter
}

var _ cellar.Metrics = (*Metrics)(nil)

var outcomes = []cellar.Outcome{
	cellar.OutcomeHit, cellar.OutcomeStale, cellar.OutcomeRevalidated, cellar.OutcomeMiss,
	cellar.OutcomePass, cellar.OutcomeCollapsed, cellar.OutcomeBypass, cellar.OutcomeError,
}

// New returns Metrics registered with reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	servedVec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cellar_cache_served_total",
		Help: "Responses produced by the cache, by outcome (hit, stale, revalidated, miss, pass, collapsed, bypass, error).",
	}, []string{"outcome"})
	reval := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cellar_cache_revalidations_total",
		Help: "Validation requests answered, by result: not_modified (the stored response was confirmed) or modified.",
	}, []string{"result"})
	coalesced := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cellar_cache_coalesced_total",
		Help: "Requests that waited for another request's upstream exchange instead of making their own.",
	})
	stored := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cellar_cache_stored_total",
		Help: "Entries committed to the store.",
	})
	storedBytes := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cellar_cache_stored_bytes_total",
		Help: "Body bytes of the entries committed to the store.",
	})
	aborted := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cellar_cache_fill_aborts_total",
		Help: "Store writes abandoned, by reason (truncated, upstream-error, length-mismatch, store-error, cancelled, ...).",
	}, []string{"reason"})
	bytesVec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cellar_cache_body_bytes_total",
		Help: "Response body bytes read by clients, by source (cache or upstream).",
	}, []string{"source"})
	refreshed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cellar_cache_background_refreshes_total",
		Help: "Background (stale-while-revalidate) refreshes, by result (ok or error).",
	}, []string{"result"})
	for _, c := range []prometheus.Collector{servedVec, reval, coalesced, stored, storedBytes, aborted, bytesVec, refreshed} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m := &Metrics{
		served:      make(map[cellar.Outcome]prometheus.Counter, len(outcomes)),
		servedVec:   servedVec,
		notModified: reval.WithLabelValues("not_modified"),
		modified:    reval.WithLabelValues("modified"),
		coalesced:   coalesced,
		stored:      stored,
		storedBytes: storedBytes,
		aborted:     aborted,
		bytesCache:  bytesVec.WithLabelValues(string(cellar.SourceCache)),
		bytesUp:     bytesVec.WithLabelValues(string(cellar.SourceUpstream)),
		bytesVec:    bytesVec,
		refreshOK:   refreshed.WithLabelValues("ok"),
		refreshErr:  refreshed.WithLabelValues("error"),
	}
	for _, o := range outcomes {
		m.served[o] = servedVec.WithLabelValues(string(o))
	}
	return m, nil
}

// Served implements cellar.Metrics.
func (m *Metrics) Served(o cellar.Outcome) {
	if c, ok := m.served[o]; ok {
		c.Inc()
		return
	}
	m.servedVec.WithLabelValues(string(o)).Inc()
}

// Revalidated implements cellar.Metrics.
func (m *Metrics) Revalidated(notModified bool) {
	if notModified {
		m.notModified.Inc()
	} else {
		m.modified.Inc()
	}
}

// Coalesced implements cellar.Metrics.
func (m *Metrics) Coalesced() { m.coalesced.Inc() }

// Stored implements cellar.Metrics.
func (m *Metrics) Stored(size int64) {
	m.stored.Inc()
	m.storedBytes.Add(float64(size))
}

// Aborted implements cellar.Metrics.
func (m *Metrics) Aborted(reason string) { m.aborted.WithLabelValues(reason).Inc() }

// Bytes implements cellar.Metrics.
func (m *Metrics) Bytes(from cellar.Source, n int64) {
	switch from {
	case cellar.SourceCache:
		m.bytesCache.Add(float64(n))
	case cellar.SourceUpstream:
		m.bytesUp.Add(float64(n))
	default:
		m.bytesVec.WithLabelValues(string(from)).Add(float64(n))
	}
}

// Refreshed implements cellar.Metrics.
func (m *Metrics) Refreshed(err error) {
	if err != nil {
		m.refreshErr.Inc()
	} else {
		m.refreshOK.Inc()
	}
}

// storeCollector reads a store's Stats at each scrape.
type storeCollector struct {
	s                                  store.Store
	entries, bytes, evictions, lookups *prometheus.Desc
}

// NewStoreCollector returns a collector of s's counters:
//
//	cellar_store_entries              entries currently stored
//	cellar_store_bytes                bytes counted against the budget
//	cellar_store_evictions_total      entries evicted (budget, horizon)
//	cellar_store_lookups_total{result} lookups that found entries (hit) or none (miss)
func NewStoreCollector(s store.Store) prometheus.Collector {
	return &storeCollector{
		s:         s,
		entries:   prometheus.NewDesc("cellar_store_entries", "Entries currently stored.", nil, nil),
		bytes:     prometheus.NewDesc("cellar_store_bytes", "Bytes currently counted against the store's budget.", nil, nil),
		evictions: prometheus.NewDesc("cellar_store_evictions_total", "Entries removed to keep the budget or past their horizon.", nil, nil),
		lookups:   prometheus.NewDesc("cellar_store_lookups_total", "Store lookups, by result: hit (entries found) or miss.", []string{"result"}, nil),
	}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.entries
	ch <- c.bytes
	ch <- c.evictions
	ch <- c.lookups
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(st.Entries))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(st.Bytes))
	ch <- prometheus.MustNewConstMetric(c.evictions, prometheus.CounterValue, float64(st.Evictions))
	ch <- prometheus.MustNewConstMetric(c.lookups, prometheus.CounterValue, float64(st.Hits), "hit")
	ch <- prometheus.MustNewConstMetric(c.lookups, prometheus.CounterValue, float64(st.Misses), "miss")
}
