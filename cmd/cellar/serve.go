package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cellar-http/cellar/prommetrics"
	"github.com/cellar-http/cellar/proxy"
	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/breaker"
	"github.com/cellar-http/cellar/store/disk"
	"github.com/cellar-http/cellar/store/memory"
	"github.com/cellar-http/cellar/store/tiered"
)

func runServe(ctx context.Context, args []string, _, stderr io.Writer) error {
	cfg, err := parseServeConfig(args, nil, stderr)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, newLogger(cfg, stderr))
}

func newLogger(cfg *serveConfig, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs the proxy until ctx ends, then shuts down in order: stop
// accepting and let in-flight requests finish (up to --shutdown-timeout),
// stop the cache's background work, close the store.
func serve(ctx context.Context, cfg *serveConfig, log *slog.Logger) (err error) {
	if cfg.DemoOrigin != "" {
		addr, stopDemo, err := startDemoOrigin(ctx, cfg.DemoOrigin, log.With("component", "demo-origin"))
		if err != nil {
			return fmt.Errorf("--demo-origin %s: %w", cfg.DemoOrigin, err)
		}
		if cfg.DemoUpstream {
			u := *cfg.Upstream
			u.Host = addr
			cfg.Upstream = &u
		}
		defer func() { _ = stopDemo() }()
	}

	st, err := openStore(cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); cerr != nil {
			log.Warn("closing the store", "err", cerr)
		}
	}()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	upstream, err := newUpstream(cfg, reg)
	if err != nil {
		return err
	}
	cache, err := newCache(cfg, st, log, reg, upstream)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := cache.Close(); cerr != nil {
			log.Warn("stopping the cache", "err", cerr)
		}
	}()

	m, err := proxy.NewMetrics(reg)
	if err != nil {
		return err
	}
	if err := registerStoreCollector(reg, st); err != nil {
		return err
	}
	if b, ok := st.(*breaker.Breaker); ok {
		reg.MustRegister(prommetrics.NewBreakerCollector(b))
	}
	status := newStatus(cfg, st, cache)
	p, err := proxy.New(proxy.Config{
		// Forwarded as the key's authority (RFC 9111 §4).
		KeyHost: cfg.keyHostFunc(),
		// Peers whose X-Forwarded-Proto is the key's scheme.
		TrustedProxies: cfg.TrustedProxies,
		Upstream:       cfg.Upstream,
		Cache:          cache,
		Transport:      status.Upstream(upstream),
		Status:         status,
		Name:           cfg.Name,
		ResponseVia:    cfg.ResponseVia,
		Logger:         log,
		AccessLog:      cfg.AccessLog,
		Metrics:        m,
		MaxBodyBytes:   cfg.MaxBodySize,

		DropRequestFields: cfg.DropRequestFields,
		PassRequestFields: cfg.PassRequestFields,

		StreamRequestBodies:  cfg.StreamRequestBodies,
		BodyTimeout:          bodyTimeout(cfg.RequestBodyTimeout),
		BodyMinRate:          cfg.RequestBodyMinRate,
		UpstreamMaxConns:     cfg.UpstreamMaxConns,
		UpstreamQueueTimeout: cfg.UpstreamQueueTimeout,
	})
	if err != nil {
		return err
	}

	// Bind every listener before serving on any, so that a port in use is
	// reported at start.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", cfg.Listen, err)
	}
	defer ln.Close()
	// The listener bounds the open connections and frames plain-text
	// requests to refuse smuggling (RFC 9112 §6.3); over TLS the bytes
	// it sees are encrypted, and net/http's own framing applies.
	pl := proxy.NewListener(ln, proxy.ListenerConfig{MaxConns: cfg.MaxConns, CheckFraming: cfg.TLSCert == ""})
	if err := proxy.RegisterListenerMetrics(reg, pl, p); err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           p,
		ConnState:         pl.ConnState,
		ConnContext:       pl.ConnContext,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    int(cfg.MaxHeaderBytes),
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		Protocols:         new(http.Protocols),
	}
	conns := newConnTracker()
	// Both the listener (--max-conns) and the shutdown tracker follow
	// connection states.
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		pl.ConnState(c, st)
		conns.state(c, st)
	}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetHTTP2(cfg.TLSCert != "")
	srv.Protocols.SetUnencryptedHTTP2(cfg.H2C)

	var adminSrv *http.Server
	adminConns := newConnTracker()
	var adminLn net.Listener
	if cfg.Admin != "" {
		if adminLn, err = net.Listen("tcp", cfg.Admin); err != nil {
			return fmt.Errorf("--admin %s: %w", cfg.Admin, err)
		}
		defer adminLn.Close()
		adminSrv = &http.Server{
			Handler: withReadyz(st, proxy.Admin(proxy.AdminConfig{
				Store:    st,
				Upstream: cfg.Upstream,
				KeyHost:  cfg.keyHostName(),
				Token:    cfg.AdminToken,
				Addr:     cfg.Admin,
				Metrics:  promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}),
				Logger:   log.With("component", "admin"),
				Pprof:    cfg.Pprof,
				Status:   status,
			})),
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
			ConnState:         adminConns.state,
		}
		adminSrv.RegisterOnShutdown(status.Close) // ends the /decisions streams
	}

	errc := make(chan error, 2)
	go func() {
		if cfg.TLSCert != "" {
			errc <- srv.ServeTLS(pl, cfg.TLSCert, cfg.TLSKey)
		} else {
			errc <- srv.Serve(pl)
		}
	}()
	adminAddr := ""
	if adminSrv != nil {
		adminAddr = adminLn.Addr().String()
		go func() { errc <- adminSrv.Serve(adminLn) }()
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	log.Info("listening",
		"addr", ln.Addr().String(), "scheme", scheme, "admin", adminAddr,
		"upstream", cfg.Upstream.String(), "key_host", cfg.KeyHost, "trusted_proxies", cfg.TrustedProxies, "store", cfg.Store.Raw, "max_size", cfg.MaxSizeText,
		"protocols", srv.Protocols.String(), "version", versionString())

	select {
	case <-ctx.Done():
		log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	case err = <-errc:
		log.Error("server failed", "err", err)
	}

	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if serr := shutdownServer(sctx, srv, conns); serr != nil {
		log.Warn("in-flight requests did not finish in time; closing their connections", "err", serr)
		_ = srv.Close()
	}
	if adminSrv != nil {
		if serr := shutdownServer(sctx, adminSrv, adminConns); serr != nil {
			_ = adminSrv.Close()
		}
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	log.Info("stopped")
	return err
}

// bodyTimeout maps --request-body-timeout 0 (none) to the proxy's "no
// bound".
func bodyTimeout(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// openStore opens the store --store names, with --max-size as its budget
// and --max-variants as its bound on the variants of one URL.
func openStore(cfg *serveConfig, log *slog.Logger) (store.Store, error) {
	switch cfg.Store.Kind {
	case "memory":
		s, err := memory.New(memory.Options{MaxBytes: cfg.MaxSize, MaxVariants: cfg.MaxVariants})
		if err != nil {
			return nil, fmt.Errorf("--store memory: %w", err)
		}
		return s, nil
	case "disk":
		s, err := disk.Open(cfg.Store.Path, disk.Options{MaxBytes: cfg.MaxSize, Fsync: cfg.DiskFsync, SyncInterval: cfg.DiskSyncInterval, MaxVariants: cfg.MaxVariants, MaxEntries: cfg.MaxEntries, Logger: log.With("component", "store")})
		if err != nil {
			return nil, fmt.Errorf("--store %s: %w", cfg.Store.Raw, err)
		}
		if cfg.HotSize == 0 {
			return s, nil
		}
		// Hot hits from memory, misses and large bodies from the disk.
		t, err := tiered.New(s, tiered.Options{MaxBytes: cfg.HotSize})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("--hot-size: %w", err)
		}
		return t, nil
	case "redis":
		return openRedis(cfg, log)
	}
	return nil, fmt.Errorf("--store %q: unknown kind", cfg.Store.Raw)
}

// registerStoreCollector exports the store's counters unless the engine's
// metrics already do.
func registerStoreCollector(reg *prometheus.Registry, st store.Store) error {
	err := reg.Register(prommetrics.NewStoreCollector(st))
	if errors.As(err, new(prometheus.AlreadyRegisteredError)) {
		return nil
	}
	return err
}
