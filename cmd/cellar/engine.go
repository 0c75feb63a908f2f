package main

import (
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cellar-http/cellar"
	"github.com/cellar-http/cellar/prommetrics"
	"github.com/cellar-http/cellar/proxy"
	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
)

// newCache builds the shared cache the proxy forwards through, with its
// own transport to the upstream.
func newCache(cfg *serveConfig, st store.Store, log *slog.Logger, reg *prometheus.Registry) (*cellar.Cache, error) {
	dialer := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}
	upstream := &http.Transport{
		Proxy:                 nil, // a reverse proxy talks to its origin directly
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: cfg.UpstreamTimeout,
		ExpectContinueTimeout: time.Second,
		// The cache stores what the origin sends, encoded or not; it must
		// not ask for gzip behind the client's back.
		DisableCompression: true,
	}
	instrumented, err := proxy.InstrumentUpstream(upstream, reg)
	if err != nil {
		return nil, err
	}
	metrics, err := prommetrics.New(reg)
	if err != nil {
		return nil, err
	}
	return cellar.New(cellar.Config{
		Spec: spec.Options{
			Shared:        true,
			TargetedField: cfg.Targeted,
			StaleBudget:   cfg.StaleBudget,
		},
		Store:             st,
		Upstream:          instrumented,
		Metrics:           metrics,
		Logger:            log.With("component", "cache"),
		Name:              cfg.Name,
		DetachedFillLimit: cfg.FillLimit,
		BackgroundWorkers: cfg.BackgroundWorkers,
	})
}
