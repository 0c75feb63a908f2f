package main

import (
	"cmp"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cellar-http/cellar"
	"github.com/cellar-http/cellar/prommetrics"
	"github.com/cellar-http/cellar/proxy"
	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
)

// newUpstream builds the transport to the upstream, instrumented: the
// proxy forwards the cache's misses, revalidations and pass-throughs over
// it.
func newUpstream(cfg *serveConfig, reg *prometheus.Registry) (http.RoundTripper, error) {
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
	return proxy.InstrumentUpstream(upstream, reg)
}

// newCache builds the shared cache the proxy serves through. The proxy
// gives the cache's Handler the upstream transport to forward over;
// upstream is the cache's own only for a caller using it as a
// RoundTripper.
func newCache(cfg *serveConfig, st store.Store, log *slog.Logger, reg *prometheus.Registry, upstream http.RoundTripper) (*cellar.Cache, error) {
	metrics, err := prommetrics.New(reg)
	if err != nil {
		return nil, err
	}
	keyHost := cfg.keyHostFunc()
	opts := spec.Options{
		Shared:         true,
		TargetedField:  cfg.Targeted,
		StaleBudget:    staleBudget(cfg.StaleBudget),
		StoreSetCookie: cfg.StoreSetCookie,
		// Off by default, as RFC 9111 §5.2.1 describes; see the README's
		// Security section for the trade-off.
		IgnoreRequestDirectives: cfg.IgnoreRequestCacheControl,
	}
	var bodyKey func(*http.Request) bool
	if len(cfg.BodyKey) > 0 {
		// --body-key: the listed methods become cacheable, keyed on the
		// hash of their body when they carry one.
		opts.CacheableMethods = []string{http.MethodGet, http.MethodHead}
		for _, m := range cfg.BodyKey {
			if !slices.Contains(opts.CacheableMethods, m) {
				opts.CacheableMethods = append(opts.CacheableMethods, m)
			}
		}
		bodyKey = func(r *http.Request) bool {
			return slices.Contains(cfg.BodyKey, r.Method) && r.Body != nil && r.Body != http.NoBody
		}
	}
	return cellar.New(cellar.Config{
		KeyHost:           keyHost,
		Spec:              opts,
		BodyKey:           bodyKey,
		Store:             st,
		Upstream:          upstream,
		Metrics:           metrics,
		Logger:            log.With("component", "cache"),
		Name:              cfg.Name,
		DetachedFillLimit: cfg.FillLimit,
		BackgroundWorkers: cfg.BackgroundWorkers,
		// 0 on the command line means none; in Config, a negative value.
		UpstreamBodyTimeout: cmp.Or(cfg.UpstreamBodyTimeout, -1),
	})
}

// staleBudget maps --stale-budget to spec.Options.StaleBudget, whose zero
// means the default: 0 on the command line turns serving stale on
// disconnection off.
func staleBudget(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// keyHostFunc is --key-host as cellar.Config.KeyHost and
// proxy.Config.KeyHost (which forwards that authority), or nil to key on
// the Host each client sent.
func (c *serveConfig) keyHostFunc() func(*http.Request) string {
	if h := c.keyHostName(); h != "" {
		return cellar.KeyOnHost(h)
	}
	return nil
}
