package main

import (
	"crypto/tls"
	"flag"
	"fmt"

	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cellar-http/cellar/proxy"
	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/disk"
	"github.com/cellar-http/cellar/store/redis"
)

// serveConfig is everything `cellar serve` is configured with, validated
// before anything starts (no listener, store or goroutine exists until
// parseServeConfig has accepted it all).
type serveConfig struct {
	Upstream   *url.URL
	DemoOrigin string // address of the in-process demo origin, or ""
	// DemoUpstream is set when Upstream defaulted to the demo origin, whose
	// port is only known once it listens (--demo-origin 127.0.0.1:0).
	DemoUpstream bool

	Listen      string
	Admin       string // "" or "off": no admin listener
	AdminToken  string
	Store       storeSpec
	MaxSize     int64
	MaxVariants int        // variants kept per URL (Vary), in every store
	MaxEntries  int64      // entries the disk store keeps (0: one per 2 KiB of MaxSize)
	MaxSizeText string     // --max-size as the operator wrote it, for messages
	DiskFsync   disk.Fsync // what the disk store syncs; ignored by the others
	// DiskSyncInterval is how often --disk-fsync interval syncs the log.
	DiskSyncInterval time.Duration
	HotSize          int64 // memory tier in front of the disk store (0: none)
	Name             string
	Targeted         string
	StaleBudget      time.Duration // 0: never serve stale on disconnection
	// BodyKey lists the methods whose request bodies are hashed into the
	// key (cellar.Config.BodyKey), and which are then cacheable; empty:
	// none, and a response to a request with a body is never stored.
	BodyKey []string
	// StoreSetCookie stores responses with Set-Cookie (spec.Options).
	StoreSetCookie bool
	KeyHost        string // "request", "upstream" or a fixed authority: see keyHostName
	// TrustedProxies are the peers whose X-Forwarded-Proto is kept as the
	// client's scheme (proxy.Config.TrustedProxies); empty: none.
	TrustedProxies []netip.Prefix

	BackgroundWorkers int
	FillLimit         int64

	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	DialTimeout       time.Duration
	UpstreamTimeout   time.Duration // response-header timeout upstream
	ShutdownTimeout   time.Duration
	MaxHeaderBytes    int64
	MaxBodySize       int64

	// UpstreamBodyTimeout bounds each wait for upstream body bytes once the
	// header has arrived (cellar.Config.UpstreamBodyTimeout; 0: none).
	UpstreamBodyTimeout time.Duration

	TLSCert, TLSKey string
	H2C             bool

	// DropRequestFields and PassRequestFields adjust the request fields
	// the proxy does not forward (proxy.DefaultDropRequestFields).
	DropRequestFields, PassRequestFields []string
	// IgnoreRequestCacheControl makes the cache ignore the clients'
	// Cache-Control and Pragma (spec.Options.IgnoreRequestDirectives).
	IgnoreRequestCacheControl bool

	MaxConns             int           // client connections open at once (0: none)
	UpstreamMaxConns     int           // requests in flight upstream (0: no bound)
	UpstreamQueueTimeout time.Duration // wait for an upstream slot
	StreamRequestBodies  bool
	RequestBodyTimeout   time.Duration
	RequestBodyMinRate   int64

	LogFormat string
	LogLevel  slog.Level
	AccessLog bool
	Pprof     bool
	// StatusPage serves /, /status.json and /decisions on the admin
	// listener (status.go).
	StatusPage bool
	// ResponseVia adds Via to responses too (proxy.Config.ResponseVia).
	ResponseVia bool
}

// storeSpec is a parsed --store value.
type storeSpec struct {
	Kind  string // "memory", "disk" or "redis"
	Path  string // disk directory
	Redis redis.Options
	Raw   string
}

// Defaults of `cellar serve`, named so the tests and the usage text agree.
const (
	defaultListen     = ":8080"
	defaultAdmin      = "127.0.0.1:9090"
	defaultStore      = "disk:./cellar-data"
	defaultMaxSize    = 1 << 30
	defaultHotSize    = 64 << 20
	defaultName       = "Cellar"
	defaultMaxHeaders = 1 << 20
	defaultMaxBody    = 1 << 30
	// defaultUpstreamMaxConns matches the upstream transport's idle pool.
	defaultUpstreamMaxConns = 1024
	// minMaxSize is the smallest store budget accepted: below it a cache
	// holds next to nothing, and the value is almost surely a slip.
	minMaxSize = 1 << 20
)

func serveFlags(stderr io.Writer) (*serveFlagValues, *flag.FlagSet) {
	fs := newFlagSet("serve", "--upstream URL [flags]", stderr)
	v := &serveFlagValues{maxSize: byteSize{n: defaultMaxSize}, maxHeaderBytes: byteSize{n: defaultMaxHeaders}, maxBodySize: byteSize{n: defaultMaxBody},
		bodyMinRate: byteSize{n: proxy.DefaultBodyMinRate}, hotSize: byteSize{n: defaultHotSize}}
	fs.StringVar(&v.upstream, "upstream", "", "origin `URL` to forward to (http or https), e.g. http://127.0.0.1:9000")
	fs.StringVar(&v.demoOrigin, "demo-origin", "", "also run the demo origin in-process on this loopback `ADDR` (e.g. 127.0.0.1:9000); --upstream then defaults to it")
	fs.StringVar(&v.listen, "listen", defaultListen, "`ADDR` to serve the proxy on")
	fs.StringVar(&v.admin, "admin", defaultAdmin, "`ADDR` of the admin listener (/metrics, /healthz, /purge); \"off\" disables it")
	fs.StringVar(&v.adminToken, "admin-token", "", "bearer `TOKEN` required by the purge and profile endpoints, at least "+strconv.Itoa(proxy.MinAdminTokenLen)+" characters; mandatory when --admin is not a loopback address (prefer $CELLAR_ADMIN_TOKEN). Without it, those endpoints answer only Host localhost/127.0.0.1/[::1] and purges need the header "+proxy.PurgeHeader+": 1 or a JSON body")
	fs.StringVar(&v.store, "store", defaultStore, "where entries live: memory | disk:PATH | redis://HOST:PORT[/DB] | redis+cluster://H1:P1,H2:P2")
	fs.Var(&v.maxSize, "max-size", "byte budget of the store, with units (e.g. 512MiB, 1GiB, 10GB)")
	fs.Int64Var(&v.maxEntries, "max-entries", 0, "entries the disk store keeps, which bounds the memory of its index (about 400 bytes each); 0: one per 2 KiB of the byte budget")
	fs.IntVar(&v.maxVariants, "max-variants", store.DefaultMaxVariants, "variants of one URL kept (one per value of the fields its Vary names); past it the least recently used goes, so that Vary: Cookie or User-Agent cannot flood the store")
	fs.TextVar(&v.diskFsync, "disk-fsync", disk.FsyncInterval, "what the disk store syncs, and when: interval (its index, in the background every --disk-sync-interval: after power loss the changes of that last interval may be lost, a purge among them undone, and recent bodies dropped) | index (its index before each change returns: a purge holds; after power loss recent bodies may be dropped) | none (nothing: after power loss the store may start empty, and recent purges may be undone) | always (bodies and index before each change returns)")
	fs.DurationVar(&v.diskSyncInterval, "disk-sync-interval", disk.DefaultSyncInterval, "how often --disk-fsync interval syncs the disk store's index: after power loss the changes of at most this long are lost")
	fs.Var(&v.hotSize, "hot-size", "memory in front of the disk store for recently used metadata and bodies up to a sixteenth of it (at most 256 KiB; larger ones are sent from their files with sendfile), so hot hits of small objects read no file (0: none)")
	fs.StringVar(&v.name, "name", defaultName, "cache `NAME` in Cache-Status (RFC 9211) and Via (RFC 9110 §7.6.3)")
	fs.BoolVar(&v.responseVia, "response-via", false, "add this cache to the Via of responses too, as Varnish and Squid do (RFC 9110 §7.6.3 lets a gateway leave it out, as nginx, HAProxy and Envoy do; requests forwarded always carry it, and Cache-Status names the cache)")
	fs.StringVar(&v.targeted, "targeted-field", "", "an RFC 9213 targeted cache-control field `NAME` honoured before CDN-Cache-Control (e.g. Cellar-Cache-Control)")
	fs.StringVar(&v.bodyKey, "body-key", "", "comma-separated `METHODS` (e.g. POST for GraphQL) whose request body is hashed into the cache key, making them cacheable; such POSTs no longer invalidate (RFC 9111 §4.4). Off by default: a response to any request with a body (a \"fat GET\") is then never stored")
	fs.DurationVar(&v.staleBudget, "stale-budget", spec.DefaultStaleBudget, "serve stale responses for up to this long past their lifetime when the origin cannot be reached (RFC 9111 §4.2.4; 0: never)")
	fs.BoolVar(&v.storeSetCookie, "store-set-cookie", false, "store responses that carry Set-Cookie (RFC 9111 §7.3 allows it; off by default so one user's cookies never reach another)")
	fs.StringVar(&v.keyHost, "key-host", "request", "the authority cache keys are formed with: request (the Host the client sent) | upstream (the upstream's host) | a fixed `NAME` such as www.example.com; requests are forwarded with that Host and X-Forwarded-Host")
	fs.StringVar(&v.trustedProxies, "trusted-proxies", "", "comma-separated `CIDRS` (e.g. 10.0.0.0/8,fd00::/8; a bare address is one host) of the peers trusted to tell the client's scheme: from them an X-Forwarded-Proto of exactly http or https is forwarded as it is and is the cache key's scheme (a load balancer that terminates TLS); from any other peer it is replaced with the connection's scheme. Empty: trust no one")
	fs.IntVar(&v.workers, "background-workers", 0, "background refreshes and detached fills run at once (0: the engine's default)")
	fs.Var(&v.fillLimit, "detached-fill-limit", "largest body a fill keeps downloading after its client left (0: the engine's default)")
	fs.DurationVar(&v.readHeaderTimeout, "read-header-timeout", 10*time.Second, "time allowed to read a request's header")
	fs.DurationVar(&v.readTimeout, "read-timeout", 0, "time allowed to read a whole request, body included (0: none)")
	fs.DurationVar(&v.writeTimeout, "write-timeout", 0, "time allowed to write a response (0: none; streams need none)")
	fs.DurationVar(&v.idleTimeout, "idle-timeout", 120*time.Second, "how long an idle keep-alive connection is kept")
	fs.DurationVar(&v.dialTimeout, "dial-timeout", 5*time.Second, "time allowed to connect to the upstream")
	fs.DurationVar(&v.upstreamTimeout, "upstream-timeout", 60*time.Second, "time allowed for the upstream's response header (0: none)")
	fs.DurationVar(&v.upstreamBodyTimeout, "upstream-body-timeout", 60*time.Second, "time an upstream body may send nothing once its header has arrived; then the fill is aborted and its clients' connections cut (0: none)")
	fs.DurationVar(&v.shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGINT/SIGTERM, how long in-flight requests may take to finish")
	fs.Var(&v.maxHeaderBytes, "max-header-bytes", "largest request header accepted (431 past it)")
	fs.Var(&v.maxBodySize, "max-body-size", "largest request body accepted (413 past it; 0: no limit, allowed only with --stream-request-bodies)")
	fs.BoolVar(&v.streamBodies, "stream-request-bodies", false, "forward request bodies as they arrive instead of receiving them in full first (in memory up to 64KiB, then in a temporary file): a slow client then holds an upstream connection")
	fs.DurationVar(&v.bodyTimeout, "request-body-timeout", proxy.DefaultBodyTimeout, "time allowed to receive a request body, plus one second per --request-body-min-rate bytes (408 past it; 0: no bound)")
	fs.Var(&v.bodyMinRate, "request-body-min-rate", "average rate, per second, a request body must arrive at past --request-body-timeout")
	fs.IntVar(&v.maxConns, "max-conns", defaultMaxConns(), "client connections open at once; past it the longest-idle keep-alive connection is closed, or the new one refused with 503 (0: no limit; the default is half the open-file limit)")
	fs.IntVar(&v.upstreamMaxConns, "upstream-max-conns", defaultUpstreamMaxConns, "requests in flight to the upstream at once; more wait up to --upstream-queue-timeout, then get 503 (0: no limit)")
	fs.DurationVar(&v.upstreamQueueTimeout, "upstream-queue-timeout", proxy.DefaultUpstreamQueueTimeout, "how long a request waits for one of --upstream-max-conns")
	fs.StringVar(&v.dropFields, "drop-request-fields", "", "comma-separated request `FIELDS` not to forward, besides the default list ("+strings.Join(proxy.DefaultDropRequestFields, ", ")+"): unkeyed fields an origin may trust to rewrite the request")
	fs.StringVar(&v.passFields, "pass-request-fields", "", "comma-separated `FIELDS` of the default drop list to forward anyway (the origin should then list them in Vary)")
	fs.BoolVar(&v.ignoreReqCC, "ignore-request-cache-control", false, "ignore the clients' Cache-Control and Pragma (no-cache, max-age=0, max-stale, min-fresh, no-store, only-if-cached), as Varnish and nginx do: no client can force a refresh or a miss")
	fs.StringVar(&v.tlsCert, "tls-cert", "", "TLS certificate `FILE` (PEM); with --tls-key serves HTTPS with HTTP/2")
	fs.StringVar(&v.tlsKey, "tls-key", "", "TLS private key `FILE` (PEM)")
	fs.BoolVar(&v.h2c, "h2c", false, "also accept HTTP/2 without TLS (h2c, prior knowledge)")
	fs.StringVar(&v.logFormat, "log-format", "text", "log format: text | json")
	fs.StringVar(&v.logLevel, "log-level", "info", "log level: debug | info | warn | error")
	fs.BoolVar(&v.accessLog, "access-log", true, "log one line per request")
	fs.BoolVar(&v.pprof, "pprof", false, "serve Go runtime profiles on the admin listener under /debug/pprof/")
	fs.BoolVar(&v.statusPage, "status-page", true, "serve the status page on the admin listener: / (HTML), /status.json (for cellar top) and /decisions (live decisions, Server-Sent Events)")
	return v, fs
}

type serveFlagValues struct {
	upstream, demoOrigin, listen, admin, adminToken, store, name, targeted string
	bodyKey, keyHost, trustedProxies                                       string
	maxSize, fillLimit, maxHeaderBytes, maxBodySize, hotSize               byteSize
	staleBudget                                                            time.Duration
	diskFsync                                                              disk.Fsync
	diskSyncInterval                                                       time.Duration
	workers                                                                int
	maxVariants                                                            int
	maxEntries                                                             int64
	readHeaderTimeout, readTimeout, writeTimeout, idleTimeout              time.Duration
	dialTimeout, upstreamTimeout, shutdownTimeout                          time.Duration
	tlsCert, tlsKey, logFormat, logLevel                                   string
	h2c, accessLog, pprof                                                  bool
	dropFields, passFields                                                 string
	ignoreReqCC, streamBodies                                              bool
	bodyMinRate                                                            byteSize
	bodyTimeout, upstreamQueueTimeout                                      time.Duration
	maxConns, upstreamMaxConns                                             int

	upstreamBodyTimeout time.Duration
	storeSetCookie      bool
	statusPage          bool
	responseVia         bool
}

// parseServeConfig reads and validates the flags of `cellar serve`. Every
// error names the flag at fault and what is wrong with it.
func parseServeConfig(args []string, getenv func(string) string, stderr io.Writer) (*serveConfig, error) {
	v, fs := serveFlags(stderr)
	fromEnv, err := parseFlagsEnv(fs, args, getenv)
	if err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	c := &serveConfig{
		DemoOrigin:        v.demoOrigin,
		Listen:            v.listen,
		Admin:             v.admin,
		AdminToken:        v.adminToken,
		MaxSize:           v.maxSize.n,
		MaxSizeText:       v.maxSize.String(),
		MaxVariants:       v.maxVariants,
		MaxEntries:        v.maxEntries,
		DiskFsync:         v.diskFsync,
		DiskSyncInterval:  v.diskSyncInterval,
		HotSize:           v.hotSize.n,
		Name:              v.name,
		Targeted:          v.targeted,
		StaleBudget:       v.staleBudget,
		StoreSetCookie:    v.storeSetCookie,
		KeyHost:           v.keyHost,
		BackgroundWorkers: v.workers,
		FillLimit:         v.fillLimit.n,
		ReadHeaderTimeout: v.readHeaderTimeout,
		ReadTimeout:       v.readTimeout,
		WriteTimeout:      v.writeTimeout,
		IdleTimeout:       v.idleTimeout,
		DialTimeout:       v.dialTimeout,
		UpstreamTimeout:   v.upstreamTimeout,
		ShutdownTimeout:   v.shutdownTimeout,
		MaxHeaderBytes:    v.maxHeaderBytes.n,
		MaxBodySize:       v.maxBodySize.n,
		TLSCert:           v.tlsCert,
		TLSKey:            v.tlsKey,
		H2C:               v.h2c,
		LogFormat:         v.logFormat,
		AccessLog:         v.accessLog,
		Pprof:             v.pprof,
		StatusPage:        v.statusPage,
		ResponseVia:       v.responseVia,

		DropRequestFields:         splitList(v.dropFields),
		PassRequestFields:         splitList(v.passFields),
		IgnoreRequestCacheControl: v.ignoreReqCC,

		MaxConns:             v.maxConns,
		UpstreamMaxConns:     v.upstreamMaxConns,
		UpstreamQueueTimeout: v.upstreamQueueTimeout,
		StreamRequestBodies:  v.streamBodies,
		RequestBodyTimeout:   v.bodyTimeout,
		RequestBodyMinRate:   v.bodyMinRate.n,
	}
	c.UpstreamBodyTimeout = v.upstreamBodyTimeout
	checks := []func() error{
		func() error { return c.setUpstream(v.upstream) },
		func() error { return checkAddr("listen", c.Listen) },
		c.checkAdmin,
		func() error { return c.setStore(v.store) },
		func() error { return c.setBodyKey(v.bodyKey) },
		func() error { return c.setTrustedProxies(v.trustedProxies) },
		func() error {
			if c.MaxSize <= 0 {
				return usagef("--max-size must be positive, got %s", c.MaxSizeText)
			}
			if c.MaxSize < minMaxSize {
				return usagef("--max-size %s is too small for a cache: give at least 1MiB (e.g. 512MiB, 10GB)", c.MaxSizeText)
			}
			return nil
		},
		func() error {
			if c.MaxVariants <= 0 {
				return usagef("--max-variants must be positive, got %d", c.MaxVariants)
			}
			return nil
		},
		func() error {
			if c.DiskSyncInterval <= 0 {
				return usagef("--disk-sync-interval must be positive, got %v", c.DiskSyncInterval)
			}
			return nil
		},
		func() error {
			if c.MaxEntries < 0 {
				return usagef("--max-entries must not be negative, got %d", c.MaxEntries)
			}
			return nil
		},
		func() error {
			if !spec.IsToken(c.Name) {
				return usagef("--name %q is not an HTTP token (RFC 9110 §5.6.2): use letters, digits and !#$%%&'*+-.^_`|~", c.Name)
			}
			return nil
		},
		func() error {
			if c.Targeted != "" && !spec.IsToken(c.Targeted) {
				return usagef("--targeted-field %q is not a field name (RFC 9110 §5.1)", c.Targeted)
			}
			return nil
		},
		func() error {
			return firstErr(
				nonNegative("stale-budget", c.StaleBudget),
				nonNegative("read-header-timeout", c.ReadHeaderTimeout),
				nonNegative("read-timeout", c.ReadTimeout),
				nonNegative("write-timeout", c.WriteTimeout),
				nonNegative("idle-timeout", c.IdleTimeout),
				nonNegative("dial-timeout", c.DialTimeout),
				nonNegative("upstream-timeout", c.UpstreamTimeout),
				nonNegative("upstream-body-timeout", c.UpstreamBodyTimeout),
				nonNegative("shutdown-timeout", c.ShutdownTimeout),
				nonNegative("request-body-timeout", c.RequestBodyTimeout),
				nonNegative("upstream-queue-timeout", c.UpstreamQueueTimeout),
			)
		},
		func() error {
			if c.BackgroundWorkers < 0 {
				return usagef("--background-workers must not be negative, got %d", c.BackgroundWorkers)
			}
			return nil
		},
		func() error {
			if c.MaxHeaderBytes < 1024 || c.MaxHeaderBytes > 1<<30 {
				return usagef("--max-header-bytes must be between 1KiB and 1GiB, got %s", v.maxHeaderBytes.String())
			}
			return nil
		},
		c.checkTLS,
		c.checkKeyHost,
		func() error {
			switch {
			case c.MaxConns < 0:
				return usagef("--max-conns must not be negative, got %d", c.MaxConns)
			case c.UpstreamMaxConns < 0:
				return usagef("--upstream-max-conns must not be negative, got %d", c.UpstreamMaxConns)
			case c.MaxBodySize == 0 && !c.StreamRequestBodies:
				return usagef("--max-body-size 0 (no limit) needs --stream-request-bodies: buffered bodies need a bound")
			case c.RequestBodyMinRate <= 0:
				return usagef("--request-body-min-rate must be positive")
			}
			return nil
		},
		func() error {
			for _, f := range append(append([]string(nil), c.DropRequestFields...), c.PassRequestFields...) {
				if !spec.IsToken(f) {
					return usagef("--drop-request-fields/--pass-request-fields: %q is not a field name (RFC 9110 §5.1)", f)
				}
			}
			return nil
		},
		func() error {
			switch c.LogFormat {
			case "text", "json":
				return nil
			}
			return usagef("--log-format must be text or json, got %q", c.LogFormat)
		},
		func() error {
			if err := c.LogLevel.UnmarshalText([]byte(v.logLevel)); err != nil {
				return usagef("--log-level must be debug, info, warn or error, got %q", v.logLevel)
			}
			return nil
		},
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return nil, withEnvNames(err, fromEnv)
		}
	}
	return c, nil
}

func (c *serveConfig) setUpstream(raw string) error {
	if c.DemoOrigin != "" {
		if err := checkAddr("demo-origin", c.DemoOrigin); err != nil {
			return err
		}
		if !isLoopback(c.DemoOrigin) {
			return usagef("--demo-origin %q must be a loopback address such as 127.0.0.1:9000", c.DemoOrigin)
		}
		if raw == "" {
			raw = "http://" + c.DemoOrigin
			c.DemoUpstream = true
		}
	}
	if raw == "" {
		return usagef("--upstream is required: the origin URL to forward to, e.g. --upstream http://127.0.0.1:9000 (or try --demo-origin 127.0.0.1:9000)")
	}
	lower := strings.ToLower(raw)
	if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
		return usagef("--upstream %q must start with http:// or https://", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return usagef("--upstream %q is not a URL: %v", raw, err)
	}
	if u.Host == "" {
		return usagef("--upstream %q has no host", raw)
	}
	if u.User != nil {
		return usagef("--upstream %q must not carry credentials", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return usagef("--upstream %q must not have a query or fragment", raw)
	}
	c.Upstream = u
	return nil
}

func (c *serveConfig) checkAdmin() error {
	if c.Admin == "" || c.Admin == "off" {
		c.Admin = ""
		return nil
	}
	if err := checkAddr("admin", c.Admin); err != nil {
		return err
	}
	if _, port, _ := net.SplitHostPort(c.Admin); c.Admin == c.Listen && port != "0" {
		return usagef("--admin %q must differ from --listen", c.Admin)
	}
	if !proxy.IsLoopback(c.Admin) && c.AdminToken == "" {
		return usagef("--admin %q is not a loopback address: set --admin-token (or $CELLAR_ADMIN_TOKEN) so purges need a bearer token", c.Admin)
	}
	if c.AdminToken != "" && len(c.AdminToken) < proxy.MinAdminTokenLen {
		return usagef("--admin-token is too short: use at least %d characters", proxy.MinAdminTokenLen)
	}
	return nil
}

func (c *serveConfig) setStore(raw string) error {
	s := storeSpec{Raw: raw}
	switch {
	case raw == "memory":
		s.Kind = "memory"
	case strings.HasPrefix(raw, "disk:"):
		s.Kind, s.Path = "disk", strings.TrimPrefix(raw, "disk:")
		if s.Path == "" {
			return usagef("--store %q: the disk store needs a directory, e.g. disk:./cellar-data", raw)
		}
	case strings.Contains(raw, "://") && !isRedisScheme(raw):
		scheme, rest, _ := strings.Cut(raw, "://")
		hint := ""
		if strings.EqualFold(scheme, "file") {
			hint = fmt.Sprintf(" (for a directory, write disk:%s)", rest)
		}
		return usagef("--store %q: unknown store %q%s: want memory, disk:PATH, redis://HOST:PORT[/DB] or redis+cluster://H1:P1,H2:P2", raw, scheme, hint)
	case strings.Contains(raw, "://"):
		opts, err := redis.ParseURL(raw)
		if err != nil {
			return usagef("--store %q: %v", raw, err)
		}
		if opts.MaxBytes == 0 {
			opts.MaxBytes = c.MaxSize
		}
		s.Kind, s.Redis = "redis", opts
	default:
		return usagef("--store %q: want memory, disk:PATH, redis://HOST:PORT[/DB] or redis+cluster://H1:P1,H2:P2", raw)
	}
	c.Store = s
	return nil
}

// setBodyKey reads --body-key: method tokens (RFC 9110 §9.1, compared
// case-sensitively), of methods whose responses may be stored at all.
func (c *serveConfig) setBodyKey(raw string) error {
	for m := range strings.SplitSeq(raw, ",") {
		m = strings.TrimSpace(m)
		switch {
		case m == "":
			continue
		case !spec.IsToken(m):
			return usagef("--body-key: %q is not a method token (RFC 9110 §9.1)", m)
		case m == http.MethodConnect || m == http.MethodOptions || m == http.MethodTrace:
			return usagef("--body-key: responses to %s are not cached", m)
		}
		if !slices.Contains(c.BodyKey, m) {
			c.BodyKey = append(c.BodyKey, m)
		}
	}
	return nil
}

func (c *serveConfig) checkTLS() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return usagef("--tls-cert and --tls-key must be given together")
	}
	if c.TLSCert != "" {
		if _, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey); err != nil {
			return usagef("--tls-cert/--tls-key: %v", err)
		}
	}
	return nil
}

// setTrustedProxies reads --trusted-proxies: comma-separated CIDR
// prefixes, or bare addresses (one host each).
func (c *serveConfig) setTrustedProxies(raw string) error {
	for _, f := range splitList(raw) {
		p, err := parseTrustedProxy(f)
		if err != nil {
			return usagef("--trusted-proxies: %q: want a CIDR prefix such as 10.0.0.0/8 or fd00::/8, or an address (%v)", f, err)
		}
		if !slices.Contains(c.TrustedProxies, p) {
			c.TrustedProxies = append(c.TrustedProxies, p)
		}
	}
	return nil
}

// parseTrustedProxy parses one member of --trusted-proxies: a prefix
// (its host bits cleared: 10.1.2.3/8 is 10.0.0.0/8) or an address, as a
// prefix of its full length. A zone (fe80::1%eth0) is refused: a peer's
// address is matched without it. An IPv4-mapped IPv6 prefix is taken as
// the IPv4 one, as peers are matched (proxy.Config.TrustedProxies).
func parseTrustedProxy(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if a := p.Addr(); a.Is4In6() {
			if p.Bits() < 96 {
				return netip.Prefix{}, fmt.Errorf("%s: an IPv4-mapped prefix shorter than /96", s)
			}
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%s has a zone: peers are matched without one", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// checkKeyHost accepts request, upstream, or an authority (host[:port],
// RFC 3986 §3.2) with nothing else: no scheme, path or credentials.
func (c *serveConfig) checkKeyHost() error {
	switch c.KeyHost {
	case "request", "upstream":
		return nil
	case "":
		return usagef("--key-host is empty: want request, upstream or a host name such as www.example.com")
	}
	u, err := url.Parse("http://" + c.KeyHost)
	if err != nil || u.Host != c.KeyHost || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Hostname() == "" {
		return usagef("--key-host %q: want request, upstream or a host[:port] such as www.example.com (no scheme or path)", c.KeyHost)
	}
	return nil
}

// keyHostName is the authority every request is keyed on, or "" to key on
// the Host each client sent.
func (c *serveConfig) keyHostName() string {
	switch c.KeyHost {
	case "request", "":
		return ""
	case "upstream":
		return c.Upstream.Host
	}
	return c.KeyHost
}

// isRedisScheme reports whether raw is a URL of a scheme the Redis store
// takes (redis.ParseURL).
func isRedisScheme(raw string) bool {
	scheme, _, _ := strings.Cut(raw, "://")
	switch strings.ToLower(scheme) {
	case "redis", "rediss", "redis+cluster", "rediss+cluster",
		"valkey", "valkeys", "valkey+cluster", "valkeys+cluster":
		return true
	}
	return false
}

// checkAddr validates a host:port listen address.
func checkAddr(flagName, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("--%s %q is not HOST:PORT: %v", flagName, addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return usagef("--%s %q: bad port %q", flagName, addr, port)
	}
	return nil
}

func isLoopback(addr string) bool { return proxy.IsLoopback(addr) }

func nonNegative(name string, d time.Duration) error {
	if d < 0 {
		return usagef("--%s must not be negative, got %v", name, d)
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// splitList splits a comma-separated flag value, dropping empty members.
func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
