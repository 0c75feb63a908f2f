package prommetrics

import "github.com/prometheus/client_golang/prometheus"

// Breaker is what the breaker collector reads: *breaker.Breaker.
type Breaker interface {
	IsOpen() bool
	Trips() int64
}

type breakerCollector struct {
	b           Breaker
	open, trips *prometheus.Desc
}

// NewBreakerCollector returns a collector of a store circuit breaker's
// state (package store/breaker):
//
//	cellar_store_breaker_open          1 while the store is not asked (pass-through), else 0
//	cellar_store_breaker_trips_total   times the breaker opened
func NewBreakerCollector(b Breaker) prometheus.Collector {
	return &breakerCollector{
		b:     b,
		open:  prometheus.NewDesc("cellar_store_breaker_open", "1 while the store's circuit breaker is open: requests pass through without asking the store.", nil, nil),
		trips: prometheus.NewDesc("cellar_store_breaker_trips_total", "Times the store's circuit breaker opened after consecutive unavailable failures.", nil, nil),
	}
}

func (c *breakerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.open
	ch <- c.trips
}

func (c *breakerCollector) Collect(ch chan<- prometheus.Metric) {
	open := 0.0
	if c.b.IsOpen() {
		open = 1
	}
	ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, open)
	ch <- prometheus.MustNewConstMetric(c.trips, prometheus.CounterValue, float64(c.b.Trips()))
}
