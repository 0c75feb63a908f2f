package proxy

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

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
