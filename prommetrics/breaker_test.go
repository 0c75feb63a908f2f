package prommetrics_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cellar-http/cellar/prommetrics"
)

type fakeBreaker struct {
	open  bool
	trips int64
}

func (f *fakeBreaker) IsOpen() bool { return f.open }
func (f *fakeBreaker) Trips() int64 { return f.trips }

func TestBreakerCollector(t *testing.T) {
	b := &fakeBreaker{open: true, trips: 2}
	reg := prometheus.NewRegistry()
	reg.MustRegister(prommetrics.NewBreakerCollector(b))
	values := func() map[string]float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, mf := range mfs {
			m := mf.GetMetric()[0]
			if g := m.GetGauge(); g != nil {
				out[mf.GetName()] = g.GetValue()
			} else {
				out[mf.GetName()] = m.GetCounter().GetValue()
			}
		}
		return out
	}
	if v := values(); v["cellar_store_breaker_open"] != 1 || v["cellar_store_breaker_trips_total"] != 2 {
		t.Fatalf("open breaker: %v", v)
	}
	b.open = false
	if v := values(); v["cellar_store_breaker_open"] != 0 || v["cellar_store_breaker_trips_total"] != 2 {
		t.Fatalf("closed breaker: %v", v)
	}
}
