package prommetrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cellar-http/cellar"
	"github.com/cellar-http/cellar/prommetrics"
	"github.com/cellar-http/cellar/store/memory"
)

func TestMetricsThroughTheEngine(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "hello")
	}))
	defer origin.Close()
	st, err := memory.New(memory.Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	m, err := prommetrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	reg.MustRegister(prommetrics.NewStoreCollector(st))
	c, err := cellar.NewTransport(cellar.Config{Store: st, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	client := &http.Client{Transport: c}
	for range 3 {
		resp, err := client.Get(origin.URL)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range mt.GetLabel() {
				name += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case mt.Counter != nil:
				got[name] = mt.GetCounter().GetValue()
			case mt.Gauge != nil:
				got[name] = mt.GetGauge().GetValue()
			}
		}
	}
	for name, want := range map[string]float64{
		"cellar_cache_served_total,outcome=hit":         2,
		"cellar_cache_served_total,outcome=miss":        1,
		"cellar_cache_served_total,outcome=pass":        0,
		"cellar_cache_body_bytes_total,source=cache":    10,
		"cellar_cache_body_bytes_total,source=upstream": 5,
		"cellar_cache_stored_total":                     1,
		"cellar_cache_stored_bytes_total":               5,
		"cellar_store_entries":                          1,
		"cellar_store_lookups_total,result=hit":         2,
		"cellar_store_lookups_total,result=miss":        1,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
}
