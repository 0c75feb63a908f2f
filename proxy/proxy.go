// Package proxy is the caching reverse proxy that the cellar binary serves:
// a shared Cellar cache (its Handler) that forwards to the upstream, plus an
// access log, request metrics and the admin endpoints (metrics, health,
// purge).
//
// The proxy decides nothing about caching. It builds each request as it
// would go upstream, once, and hands it to the cache, which answers from the
// store or forwards it over the upstream transport; every response carries
// the cache's Cache-Status (RFC 9211). A hit costs no more than the lookup
// and the write. The proxy only does what an intermediary must: rewrite the
// target to the upstream, add Via (RFC 9110 §7.6.3) and X-Forwarded-*, drop
// hop-by-hop fields (RFC 9110 §7.6.1), pass Upgrade (WebSocket) through
// with an [httputil.ReverseProxy], and bound request bodies. The request
// the cache keys on carries the client's scheme, not the upstream's
// (scheme.go), so that a listener of each scheme can share a store.
//
// As a shared cache's front door it also refuses what would let one client
// decide what another receives or hold more than its share (issue 12): it
// drops unkeyed request fields origins trust ([DefaultDropRequestFields]),
// never invents a Content-Type, receives request bodies in full before
// going upstream (body.go) and bounds the requests in flight upstream
// (upstreamlimit.go); its [Listener] bounds client connections and refuses
// ambiguously framed requests (framing.go); the [Admin] handler does not
// take loopback for a trust boundary (adminguard.go).
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
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cellar-http/cellar"
	"github.com/cellar-http/cellar/spec"
)

// Config configures a Proxy.
type Config struct {
	// Upstream is the origin requests are forwarded to. Its path, if any,
	// prefixes every request's path.
	Upstream *url.URL
	// Cache answers requests before they are forwarded: a *cellar.Cache in
	// shared mode. The proxy serves its Handler, which forwards what it
	// cannot answer from storage over Transport. Nil forwards every
	// request.
	Cache Cache
	// Transport carries forwarded requests to Upstream; nil means
	// http.DefaultTransport.
	Transport http.RoundTripper
	// Name is the pseudonym this proxy adds to Via (RFC 9110 §7.6.3); it
	// should match the cache's Cache-Status name. Empty means "cellar".
	Name string
	// ResponseVia adds this proxy to the Via of the responses it sends,
	// from its cache or forwarded. A gateway MUST add itself to the Via of
	// the requests it forwards, which it always does, and MAY to responses
	// (RFC 9110 §7.6.3). Off, a response keeps the upstream's Via as it
	// was: Cache-Status (RFC 9211) names this cache already, and the
	// client learns nothing of the software in front of the origin, as
	// behind nginx, HAProxy, Envoy or Apache's default.
	ResponseVia bool
	// Logger receives the access log (one line per request at Info, when
	// AccessLog is set) and proxy errors; nil discards.
	Logger *slog.Logger
	// AccessLog turns the per-request log line on.
	AccessLog bool
	// Metrics records each request; nil records nothing.
	Metrics Observer
	// Status, when set, records each request for the status page.
	Status *Status
	// MaxBodyBytes bounds request bodies (413 past it); zero means no limit.
	// Header size is bounded by the http.Server (MaxHeaderBytes).
	MaxBodyBytes int64
	// StreamRequestBodies forwards request bodies as they arrive instead of
	// receiving them in full first (see body.go): a slow client then holds
	// an upstream connection for as long as it likes.
	StreamRequestBodies bool
	// BodyMemoryBytes is the largest body buffered in memory; larger ones
	// go to a temporary file in BodyTempDir ("" means os.TempDir). Zero
	// means DefaultBodyMemoryBytes.
	BodyMemoryBytes int64
	BodyTempDir     string
	// BodyTimeout and BodyMinRate bound the receiving of a buffered body:
	// it may take BodyTimeout plus one second per BodyMinRate bytes (408
	// past it). Zero means DefaultBodyTimeout and DefaultBodyMinRate; a
	// negative BodyTimeout means no bound.
	BodyTimeout time.Duration
	BodyMinRate int64
	// UpstreamMaxConns bounds the requests in flight to the upstream at
	// once (each holds a connection); zero means no bound. Past it,
	// requests wait up to UpstreamQueueTimeout (zero: 10s) for a slot, then
	// get 503.
	UpstreamMaxConns     int
	UpstreamQueueTimeout time.Duration
	// FlushInterval is passed to ReverseProxy: zero flushes buffered
	// responses as ReverseProxy does by default (at once for event streams
	// and responses of unknown length), -1 after every write. The cache's
	// responses are flushed like ReverseProxy's, but after every write
	// when FlushInterval is not zero.
	FlushInterval time.Duration
	// DropRequestFields are request fields removed before forwarding, on
	// top of [DefaultDropRequestFields]: fields that are not part of the
	// cache key but that origins commonly trust to rewrite the request,
	// so that one client could shape a response stored for all.
	DropRequestFields []string
	// PassRequestFields are fields of [DefaultDropRequestFields] to
	// forward anyway (an origin behind this proxy that needs one of them
	// should then list it in Vary).
	PassRequestFields []string
	// KeyHost, when set, returns the authority (host[:port]) a request
	// that goes through the cache is forwarded with, as its Host and
	// X-Forwarded-Host, in place of the client's Host; "" keeps the
	// client's. It is called with the request as it goes upstream (its URL
	// the upstream's but for its scheme, the client's: see scheme.go).
	// Give it the cache's cellar.Config.KeyHost: a stored response may
	// only answer a request for the target URI it was fetched for (RFC
	// 9111 §4), and the Host is part of it (RFC 9110 §7.2). Keyed
	// on one name but forwarded with the client's Host, the page an origin
	// builds from the Host (absolute links, script URLs) for "Host:
	// evil.example" would be stored and served to every client.
	KeyHost func(*http.Request) string
	// TrustedProxies are the peers (load balancers, TLS terminators)
	// trusted to tell the client's scheme: from a peer whose address
	// (Request.RemoteAddr) is inside one of them, an X-Forwarded-Proto of
	// exactly "http" or "https" is forwarded as it is and is the scheme of
	// the cache key. From any other peer, or with another value, the
	// field is replaced with the scheme of the connection ("https" over
	// TLS). Empty trusts no one. X-Forwarded-For is appended to, from any
	// peer, as before. An IPv4 peer is matched by its IPv4 address (also
	// when a dual-stack listener sees it IPv4-mapped): give IPv4 prefixes
	// in IPv4 form.
	TrustedProxies []netip.Prefix
}

// DefaultDropRequestFields are the request fields the proxy removes before
// forwarding unless Config.PassRequestFields lists them. Each is unkeyed
// (the cache key is the method and target, RFC 9111 §2) yet commonly
// trusted by origins and frameworks to change the target, the method, the
// host, the scheme or the port of the request (IIS and Symfony read
// X-Original-URL and X-Rewrite-URL; Rails, Express and Rack read the method
// overrides and X-Forwarded-*). Forwarded unkeyed, they let one client have
// the origin answer another resource and store it under the key of the one
// requested: web cache poisoning. X-Forwarded-For, -Host and -Proto and Via
// are set by the proxy itself.
var DefaultDropRequestFields = []string{
	"X-Original-URL", "X-Rewrite-URL", "X-Original-Host", "X-Host",
	"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override",
	"X-Forwarded-Port", "X-Forwarded-Scheme", "X-Forwarded-Server",
	"X-Forwarded-Prefix", "X-Forwarded-Ssl", "X-Url-Scheme",
}

// dropSet returns the canonical names of the request fields to drop.
func dropSet(drop, pass []string) map[string]bool {
	set := make(map[string]bool, len(DefaultDropRequestFields)+len(drop))
	for _, f := range DefaultDropRequestFields {
		set[http.CanonicalHeaderKey(f)] = true
	}
	for _, f := range drop {
		set[http.CanonicalHeaderKey(strings.TrimSpace(f))] = true
	}
	for _, f := range pass {
		delete(set, http.CanonicalHeaderKey(strings.TrimSpace(f)))
	}
	return set
}

// Cache is the cache a Proxy serves through: *cellar.Cache.
type Cache interface {
	HandlerWith(next http.Handler, opts cellar.HandlerOptions) http.Handler
}

// Observer records one finished request for metrics.
type Observer interface {
	// ObserveRequest is called once per request after the response is
	// written. cacheStatus is a short label of the cache's Cache-Status
	// member (see [CacheStatusLabel]); bytes is the response body length.
	ObserveRequest(method string, status int, cacheStatus string, bytes int64, d time.Duration)
}

// Proxy is the caching reverse proxy, an http.Handler.
type Proxy struct {
	cfg     Config
	handler http.Handler // the cache (in front of forward), or forward
	// direct forwards what does not go through the cache (Upgrade,
	// CONNECT, or every request without a cache): the client's request,
	// and a response straight to the client.
	direct *httputil.ReverseProxy
	log    *slog.Logger
	via    string // pseudonym in Via
	// respVia is the Via member added to the cache's responses, which it
	// builds as HTTP/1.1 messages, as a field value shared read-only; nil
	// without Config.ResponseVia.
	respVia []string
	// reqVia holds the Via members of requests received as HTTP/1.0,
	// HTTP/1.1, HTTP/2 and HTTP/3.
	reqVia [4]string
	// reencodeQueries mirrors GODEBUG=urlmaxqueryparams, under which
	// ReverseProxy re-encodes every query.
	reencodeQueries bool
	// dropped holds the canonical names of the request fields not
	// forwarded (Config.DropRequestFields).
	dropped map[string]bool
	// limited bounds the requests in flight upstream, or is nil.
	limited *limitedTransport
}

// New returns a Proxy forwarding to cfg.Upstream through cfg.Cache.
func New(cfg Config) (*Proxy, error) {
	if cfg.Upstream == nil || cfg.Upstream.Host == "" {
		return nil, errors.New("proxy: Config.Upstream must be an absolute URL")
	}
	if cfg.Upstream.Scheme != "http" && cfg.Upstream.Scheme != "https" {
		return nil, fmt.Errorf("proxy: Config.Upstream %q: scheme must be http or https", cfg.Upstream)
	}
	p := &Proxy{cfg: cfg, log: cfg.Logger, via: cfg.Name}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.via == "" {
		p.via = "cellar"
	}
	if cfg.ResponseVia {
		p.respVia = []string{viaValue(1, 1, p.via)}
	}
	p.reqVia = [4]string{viaValue(1, 0, p.via), viaValue(1, 1, p.via), viaValue(2, 0, p.via), viaValue(3, 0, p.via)}
	p.reencodeQueries = godebugSet("urlmaxqueryparams")
	p.dropped = dropSet(cfg.DropRequestFields, cfg.PassRequestFields)
	p.direct = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      cfg.Transport,
		FlushInterval:  cfg.FlushInterval,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
		BufferPool:     copyBuffers,
	}
	p.handler = http.HandlerFunc(p.forward)
	if cfg.UpstreamMaxConns > 0 {
		transport := cfg.Transport
		if transport == nil {
			transport = http.DefaultTransport
		}
		timeout := cfg.UpstreamQueueTimeout
		if timeout == 0 {
			timeout = DefaultUpstreamQueueTimeout
		}
		cfg.Transport = newLimitedTransport(transport, cfg.UpstreamMaxConns, timeout)
		p.direct.Transport = cfg.Transport
		p.limited = cfg.Transport.(*limitedTransport)
	}
	if cfg.Cache != nil {
		transport := cfg.Transport
		if transport == nil {
			transport = http.DefaultTransport
		}
		p.handler = cfg.Cache.HandlerWith(p.handler, cellar.HandlerOptions{
			Upstream:     forwarder{rt: transport, scheme: cfg.Upstream.Scheme},
			ErrorHandler: p.errorHandler,
			CacheStatus: func(w http.ResponseWriter, cs spec.CacheStatus) {
				if rec, ok := w.(*recorder); ok {
					rec.setCacheStatus(cs)
				}
			},
		})
	}
	return p, nil
}

// call is what one request needs, in one allocation: the writer that
// records the response, the request as it goes upstream, its header map,
// and the backing arrays of the header values the proxy adds to it.
type call struct {
	rec                recorder
	out                http.Request
	url                url.URL
	body               noopCloseBody
	header             http.Header // out's, kept (cleared) when the call is recycled
	xff, xfh, xfp, via [1]string
	ua                 [1]string
	traced             *tracedDecision // set while /decisions has a subscriber
}

// calls recycles the calls of requests the cache answered from storage
// with nothing left holding them: about 0.9 KB and, with the header map
// kept, three allocations less per hit (BenchmarkServeHit). Only the cache
// knows when nothing holds the request it was handed (a miss, a
// revalidation or a background refresh may keep it, its header map and
// the arrays here past ServeHTTP): it says so through the recorder
// (ReleaseCellarRequest), and only then, once the request is logged and
// recorded, is the call zeroed and put back. A traced request is never
// recycled: its decision keeps the header map. Nothing that outlives the
// request points into a call: the response's Via and Cache-Status fields
// are shared read-only values, not arrays in it.
var calls sync.Pool

// maxKeptFields bounds the outgoing header map a recycled call keeps: a
// request with more fields leaves a map that large to the GC.
const maxKeptFields = 32

// newCall returns a zeroed call, a recycled one if there is one.
func newCall() *call {
	if c, _ := calls.Get().(*call); c != nil {
		return c
	}
	return new(call)
}

// recycle zeroes c, but for its cleared header map, and puts it back.
func (c *call) recycle() {
	h := c.header
	*c = call{}
	if len(h) <= maxKeptFields {
		clear(h)
		c.header = h
	}
	calls.Put(c)
}

// ServeHTTP proxies r through the cache.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	c := newCall()
	c.rec = recorder{ResponseWriter: w, client: r, flushInterval: p.cfg.FlushInterval != 0}
	rec := &c.rec
	defer func() {
		p.finish(rec, r, start, c.traced)
		if rec.released && c.traced == nil {
			c.recycle()
		}
	}()
	if !p.framingOK(rec, r) {
		return
	}
	hasBody := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	if limit := p.cfg.MaxBodyBytes; limit > 0 && hasBody {
		if r.ContentLength > limit {
			if p.cfg.Cache != nil {
				// Every response carries Cache-Status (RFC 9211), this
				// refusal too: it never went forward.
				cs := spec.CacheStatus{Detail: cellar.DetailRequestTooLarge}
				rec.Header()["Cache-Status"] = []string{cs.Value(p.via)}
				rec.setCacheStatus(cs)
			}
			rec.Header().Set("Connection", "close")
			http.Error(rec, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(rec, r.Body, limit)
	}
	if hasBody && !p.cfg.StreamRequestBodies && !bypassed(r) {
		b, ok := p.bufferBody(rec, r)
		if !ok {
			return
		}
		defer b.release()
	}
	if p.cfg.Cache == nil || bypassed(r) {
		// The cache hands these to forward as they are.
		p.handler.ServeHTTP(rec, r)
		return
	}
	rec.cached, rec.via = true, p.respVia
	out := p.outgoing(c, r)
	out, c.traced = p.cfg.Status.trace(out, rec)
	if out.Body != nil {
		defer c.body.Close()
	}
	p.handler.ServeHTTP(rec, out)
}

// framingOK applies the verdict of the Listener's framing scanner to an
// HTTP/1 request: a request framed ambiguously (Content-Length with
// Transfer-Encoding, Transfer-Encoding in HTTP/1.0, obs-fold) is answered
// 400 and its connection closed (RFC 9112 §6.3: "the server MUST close
// the connection after responding to such a request"), so that the bytes
// another parser would frame differently are never served as a request.
// A request the scanner could not judge is served, and its connection
// closed after it.
func (p *Proxy) framingOK(w http.ResponseWriter, r *http.Request) bool {
	if r.ProtoMajor != 1 {
		return true
	}
	s, _ := r.Context().Value(framingKey{}).(*framingScanner)
	if s == nil {
		return true
	}
	switch v := s.next(); v {
	case verdictOK:
		return true
	case verdictUnknown:
		w.Header().Set("Connection", "close")
		return true
	default:
		p.log.Warn("refused an ambiguously framed request", "method", r.Method, "path", r.URL.Path,
			"remote", r.RemoteAddr, "reason", v.reason())
		if refuseAndClose(w, v.reason()) {
			return false
		}
		w.Header().Set("Connection", "close")
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "bad request: "+v.reason(), http.StatusBadRequest)
		return false
	}
}

// refuseAndClose answers 400 on the hijacked connection and closes it:
// net/http would otherwise read (discard) what it takes for the rest of
// the body before closing, which may be the smuggled bytes or never come.
// The connection is half-closed first and drained briefly, so that the
// client reads the answer rather than a reset.
func refuseAndClose(w http.ResponseWriter, reason string) bool {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false
	}
	if rec, ok := w.(*recorder); ok {
		rec.hijacked, rec.status = false, http.StatusBadRequest
	}
	body := "bad request: " + reason + "\n"
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = brw.WriteString("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Cache-Control: no-store\r\nConnection: close\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	_ = brw.Flush()
	go func() {
		if cw, ok := conn.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
			_ = conn.SetReadDeadline(time.Now().Add(time.Second))
			_, _ = io.Copy(io.Discard, io.LimitReader(conn, 256<<10))
		}
		_ = conn.Close()
	}()
	return true
}

// bypassed reports whether the cache passes r to its handler untouched
// (spec.Bypasses: protocol switches and tunnels): the upgrade must then
// reach ReverseProxy with its Connection and Upgrade fields.
func bypassed(r *http.Request) bool {
	return spec.Bypasses(r.Method, r.Header)
}

// forward is the handler behind the cache, for the requests it bypasses;
// without a cache, the proxy's handler.
func (p *Proxy) forward(w http.ResponseWriter, _ *http.Request) {
	rec, ok := w.(*recorder)
	if !ok {
		http.Error(w, "proxy: forward called with another writer", http.StatusInternalServerError)
		return
	}
	// The client's request is forwarded as it came (even if the cache was
	// given outgoing's, to bypass it for another reason), and the response
	// goes to the client as it comes: direct adds Via and flushes, and the
	// Cache-Status of a bypass goes after the upstream's own members (RFC
	// 9211 §2), as for any forwarded response.
	r := rec.client
	rec.cached, rec.via = false, nil
	if cs := rec.Header()["Cache-Status"]; len(cs) > 0 {
		rec.pendingStatus = cs
		delete(rec.Header(), "Cache-Status")
		r = r.WithContext(context.WithValue(r.Context(), recorderKey{}, rec))
	}
	p.direct.ServeHTTP(w, r)
}

type recorderKey struct{}

// rewrite targets the upstream, keeping the client's Host (so the origin
// and the cache key see the name the client asked for), and adds
// X-Forwarded-* and Via.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(p.cfg.Upstream)
	pr.Out.Host = pr.In.Host
	for k := range p.dropped {
		delete(pr.Out.Header, k)
	}
	pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
	pr.SetXForwarded()
	if len(p.cfg.TrustedProxies) > 0 {
		// A trusted peer's, or the connection's, as outgoing does.
		pr.Out.Header.Set("X-Forwarded-Proto", p.clientScheme(pr.In))
	}
	pr.Out.Header.Add("Via", p.requestVia(pr.In.ProtoMajor, pr.In.ProtoMinor))
}

// modifyResponse adds the Cache-Status of a bypass and, with
// Config.ResponseVia, this proxy to the response's Via (RFC 9110 §7.6.3).
func (p *Proxy) modifyResponse(resp *http.Response) error {
	if resp.Request != nil {
		if rec, _ := resp.Request.Context().Value(recorderKey{}).(*recorder); rec != nil {
			resp.Header["Cache-Status"] = append(resp.Header["Cache-Status"], rec.pendingStatus...)
		}
	}
	if !p.cfg.ResponseVia {
		return nil
	}
	major, minor := resp.ProtoMajor, resp.ProtoMinor
	if major == 0 {
		major, minor = 1, 1
	}
	resp.Header.Add("Via", viaValue(major, minor, p.via))
	return nil
}

// requestVia returns the Via member for a request received over HTTP
// major.minor.
func (p *Proxy) requestVia(major, minor int) string {
	switch {
	case major == 1 && (minor == 0 || minor == 1):
		return p.reqVia[minor]
	case major == 2 || major == 3:
		return p.reqVia[major]
	}
	return viaValue(major, minor, p.via)
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
// client that went away gets nothing. The answer is this proxy's own: it
// carries no Via.
func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	var tooLarge *http.MaxBytesError
	var netErr net.Error
	var upErr *cellar.UpstreamError
	status := http.StatusBadGateway
	rec, _ := w.(*recorder)
	if rec != nil {
		rec.via = nil
	}
	switch {
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		p.log.Debug("client went away", "method", r.Method, "path", r.URL.Path, "err", err)
		if rec != nil {
			rec.status = 499 // nginx's "client closed request", for the log only
		}
		return
	case errors.As(err, &tooLarge):
		status = http.StatusRequestEntityTooLarge
		w.Header().Set("Connection", "close")
	case errors.Is(err, ErrUpstreamBusy):
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "1")
		// The engine handed over its Cache-Status for the failed
		// exchange; the detail says why it failed: the bound.
		cs := spec.CacheStatus{Fwd: spec.FwdMiss}
		if rec != nil && rec.hasCS {
			cs = rec.cs
		}
		cs.Detail = "upstream-busy"
		w.Header().Set("Cache-Status", cs.Value(p.via))
		if rec != nil {
			rec.setCacheStatus(cs)
		}
	case errors.As(err, &upErr):
		// The cache's core chose it: 504 when it is disconnected and may
		// not serve what it holds stale (RFC 9111 §5.2.2.2).
		status = upErr.Status()
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		status = http.StatusGatewayTimeout
	}
	p.log.Warn("upstream request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	if rec != nil && len(w.Header()["Cache-Status"]) == 0 && len(rec.pendingStatus) > 0 {
		// A request the cache bypassed: its Cache-Status (fwd=bypass)
		// waited for the upstream's response; it goes on the error
		// answer, with what failed (RFC 9211 §2.8).
		w.Header()["Cache-Status"] = rec.withDetail(cellar.UpstreamDetail(err), p.via)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, http.StatusText(status)+"\n")
}

// withDetail returns the Cache-Status members of a bypassed request
// (pendingStatus), the cache's own, last, given detail when it has none.
func (r *recorder) withDetail(detail, name string) []string {
	out := append([]string(nil), r.pendingStatus...)
	if r.hasCS && r.cs.Detail == "" {
		r.cs.Detail = detail
		out[len(out)-1] = r.cs.Value(name)
	}
	return out
}

// finish writes the access-log line and records metrics.
func (p *Proxy) finish(rec *recorder, r *http.Request, start time.Time, traced *tracedDecision) {
	if p.cfg.Metrics == nil && !p.cfg.AccessLog && p.cfg.Status == nil {
		return
	}
	d := time.Since(start)
	status := rec.status
	if status == 0 {
		status = http.StatusOK
		if rec.hijacked {
			status = http.StatusSwitchingProtocols
		}
	}
	label := CacheStatusLabel(rec.cs)
	if rec.hijacked {
		label = "upgrade"
	}
	if p.cfg.Metrics != nil {
		p.cfg.Metrics.ObserveRequest(r.Method, status, label, rec.bytes, d)
	}
	p.cfg.Status.record(finished{r: r, status: status, outcome: label, bytes: rec.bytes,
		cacheStatus: rec.cacheStatus, end: start.Add(d), d: d, traced: traced})
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
