package proxy

import (
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMetricsSeries: requests are counted under the label values they
// always were, only the series seen exist, and labels outside the fixed
// sets are still counted.
func TestMetricsSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.ObserveRequest("GET", 200, LabelHit, 10, time.Millisecond)
	m.ObserveRequest("GET", 204, LabelHit, 5, time.Millisecond)
	m.ObserveRequest("BREW", 404, "uri-miss", 7, time.Millisecond)
	m.ObserveRequest("POST", 499, "weird", 0, time.Millisecond)
	m.ObserveRequest("GET", 700, "upgrade", 0, time.Millisecond)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			var labels []string
			for _, l := range s.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			v := s.GetCounter().GetValue()
			if h := s.GetHistogram(); h != nil {
				v = float64(h.GetSampleCount())
			}
			got[f.GetName()] = append(got[f.GetName()], strings.Join(labels, ",")+" "+strconv.FormatFloat(v, 'g', -1, 64))
		}
		sort.Strings(got[f.GetName()])
	}
	want := map[string][]string{
		"cellar_proxy_requests_total": {
			"cache=hit,code=2xx,method=GET 2",
			"cache=upgrade,code=other,method=GET 1",
			"cache=uri-miss,code=4xx,method=other 1",
			"cache=weird,code=499,method=POST 1",
		},
		"cellar_proxy_request_duration_seconds": {"cache=hit 2", "cache=upgrade 1", "cache=uri-miss 1", "cache=weird 1"},
		"cellar_proxy_response_bytes_total":     {"source=cache 15", "source=upstream 7"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("series\n got %q\nwant %q", got, want)
	}
}
