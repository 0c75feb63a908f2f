// Package proxy is the caching reverse proxy that the cellar binary serves:
// an [httputil.ReverseProxy] whose Transport is a shared Cellar cache, plus
// an access log, request metrics and the admin endpoints (metrics, health,
// purge).
//
// The proxy decides nothing about caching: every request goes through the
// cache (its Transport), which answers from the store or forwards upstream,
// and every response carries the cache's Cache-Status (RFC 9211). The proxy
// only does what an intermediary must: rewrite the target to the upstream,
// add Via (RFC 9110 §7.6.3) and X-Forwarded-*, drop hop-by-hop fields (RFC
// 9110 §7.6.1, done by ReverseProxy), pass Upgrade (WebSocket) through, and
// bound request bodies.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config configures a Proxy.
type Config struct {
	// Upstream is the origin requests are forwarded to. Its path, if any,
	// prefixes every request's path.
	Upstream *url.URL
	// Cache is the RoundTripper requests go through: a *cellar.Cache in
	// shared mode whose own upstream transport reaches Upstream.
	Cache http.RoundTripper
	// Name is the pseudonym this proxy adds to Via (RFC 9110 §7.6.3); it
	// should match the cache's Cache-Status name. Empty means "cellar".
	Name string
	// Logger receives the access log (one line per request at Info, when
	// AccessLog is set) and proxy errors; nil discards.
	Logger *slog.Logger
	// AccessLog turns the per-request log line on.
	AccessLog bool
	// Metrics records each request; nil records nothing.
	Metrics Observer
	// MaxBodyBytes bounds request bodies (413 past it); zero means no limit.
	// Header size is bounded by the http.Server (MaxHeaderBytes).
	MaxBodyBytes int64
	// FlushInterval is passed to ReverseProxy: zero flushes buffered
	// responses as ReverseProxy does by default (at once for event streams
	// and responses of unknown length), -1 after every write.
	FlushInterval time.Duration
}

// Observer records one finished request for metrics.
type Observer interface {
	// ObserveRequest is called once per request after the response is
	// written. cacheStatus is a short label from the cache's Cache-Status
	// entry (see [CacheStatusLabel]); bytes is the response body length.
	ObserveRequest(method string, status int, cacheStatus string, bytes int64, d time.Duration)
}

// Proxy is the caching reverse proxy, an http.Handler.
type Proxy struct {
	cfg Config
	rp  *httputil.ReverseProxy
	log *slog.Logger
	via string // pseudonym in Via
}

// New returns a Proxy forwarding to cfg.Upstream through cfg.Cache.
func New(cfg Config) (*Proxy, error) {
	if cfg.Upstream == nil || cfg.Upstream.Host == "" {
		return nil, errors.New("proxy: Config.Upstream must be an absolute URL")
	}
	if cfg.Upstream.Scheme != "http" && cfg.Upstream.Scheme != "https" {
		return nil, fmt.Errorf("proxy: Config.Upstream %q: scheme must be http or https", cfg.Upstream)
	}
	if cfg.Cache == nil {
		return nil, errors.New("proxy: Config.Cache is nil")
	}
	p := &Proxy{cfg: cfg, log: cfg.Logger, via: cfg.Name}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.via == "" {
		p.via = "cellar"
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      cfg.Cache,
		FlushInterval:  cfg.FlushInterval,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
		BufferPool:     copyBuffers,
	}
	return p, nil
}

// ServeHTTP proxies r through the cache.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, name: p.via}
	defer func() {
		p.finish(rec, r, start)
	}()
	if limit := p.cfg.MaxBodyBytes; limit > 0 && r.Body != nil && r.Body != http.NoBody {
		if r.ContentLength > limit {
			rec.Header().Set("Connection", "close")
			http.Error(rec, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(rec, r.Body, limit)
	}
	p.rp.ServeHTTP(rec, r)
}

// rewrite targets the upstream, keeping the client's Host (so the origin
// and the cache key see the name the client asked for), and adds
// X-Forwarded-* and Via.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(p.cfg.Upstream)
	pr.Out.Host = pr.In.Host
	pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
	pr.SetXForwarded()
	pr.Out.Header.Add("Via", viaValue(pr.In.ProtoMajor, pr.In.ProtoMinor, p.via))
}

// modifyResponse adds this proxy to the response's Via (RFC 9110 §7.6.3:
// "a proxy MUST send an appropriate Via header field ... in each message
// that it forwards").
func (p *Proxy) modifyResponse(resp *http.Response) error {
	major, minor := resp.ProtoMajor, resp.ProtoMinor
	if major == 0 {
		major, minor = 1, 1
	}
	resp.Header.Add("Via", viaValue(major, minor, p.via))
	return nil
}

// viaValue renders one Via member: received-protocol and pseudonym. The
// protocol name is omitted for HTTP (RFC 9110 §7.6.3), and HTTP/2 and later
// have no minor version.
func viaValue(major, minor int, pseudonym string) string {
	if major >= 2 {
		return strconv.Itoa(major) + " " + pseudonym
	}
	return strconv.Itoa(major) + "." + strconv.Itoa(minor) + " " + pseudonym
}

// errorHandler answers when the request could not be forwarded: 413 when
// the body was too large, 504 on an upstream timeout, 502 otherwise. A
// client that went away gets nothing.
func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	var tooLarge *http.MaxBytesError
	var netErr net.Error
	status := http.StatusBadGateway
	switch {
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		p.log.Debug("client went away", "method", r.Method, "path", r.URL.Path, "err", err)
		if rec, ok := w.(*recorder); ok {
			rec.status = 499 // nginx's "client closed request", for the log only
		}
		return
	case errors.As(err, &tooLarge):
		status = http.StatusRequestEntityTooLarge
		w.Header().Set("Connection", "close")
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		status = http.StatusGatewayTimeout
	}
	p.log.Warn("upstream request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, http.StatusText(status)+"\n")
}

// finish writes the access-log line and records metrics.
func (p *Proxy) finish(rec *recorder, r *http.Request, start time.Time) {
	d := time.Since(start)
	status := rec.status
	if status == 0 {
		status = http.StatusOK
		if rec.hijacked {
			status = http.StatusSwitchingProtocols
		}
	}
	label := CacheStatusLabel(rec.cacheStatus, p.via)
	if rec.hijacked {
		label = "upgrade"
	}
	if p.cfg.Metrics != nil {
		p.cfg.Metrics.ObserveRequest(r.Method, status, label, rec.bytes, d)
	}
	if p.cfg.AccessLog {
		p.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("host", r.Host),
			slog.String("path", r.URL.RequestURI()),
			slog.String("proto", r.Proto),
			slog.Int("status", status),
			slog.Int64("bytes", rec.bytes),
			slog.Duration("duration", d),
			slog.String("cache", label),
			slog.String("cache_status", strings.Join(rec.cacheStatus, ", ")),
			slog.String("remote", r.RemoteAddr),
		)
	}
}

// copyBuffers recycles ReverseProxy's body-copy buffers, which it would
// otherwise allocate (32 KiB) for every response.
var copyBuffers httputil.BufferPool = bufferPool{}

type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte { return *buffers.Get().(*[]byte) }

func (bufferPool) Put(b []byte) {
	if cap(b) == 32<<10 {
		b = b[:cap(b)]
		buffers.Put(&b)
	}
}
