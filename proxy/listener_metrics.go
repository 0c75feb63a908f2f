package proxy

import "github.com/prometheus/client_golang/prometheus"

// RegisterListenerMetrics exports l's counters, and the requests in flight
// upstream of p (when Config.UpstreamMaxConns bounds them).
func RegisterListenerMetrics(reg prometheus.Registerer, l *Listener, p *Proxy) error {
	cs := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cellar_proxy_connections_open",
			Help: "Client connections open now (bounded by --max-conns)."},
			func() float64 { return float64(l.Stats().Open) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cellar_proxy_connections_idle",
			Help: "Client keep-alive connections idle now."},
			func() float64 { return float64(l.Stats().Idle) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cellar_proxy_connections_refused_total",
			Help: "Client connections answered 503 and closed because --max-conns were open and none idle."},
			func() float64 { return float64(l.refused.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cellar_proxy_connections_closed_idle_total",
			Help: "Idle keep-alive connections closed to make room under --max-conns."},
			func() float64 { return float64(l.closedIdle.Load()) }),
	}
	if p != nil && p.limited != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cellar_upstream_requests_in_flight",
			Help: "Requests holding one of --upstream-max-conns."},
			func() float64 { return float64(p.limited.InFlight()) }))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
