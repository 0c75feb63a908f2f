package main

import (
	"crypto/tls"
	"flag"
	"fmt"

	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cellar-http/cellar/proxy"
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
	MaxSizeText string     // --max-size as the operator wrote it, for messages
	DiskFsync   disk.Fsync // what the disk store syncs; ignored by the others
	Name        string
	Targeted    string
	StaleBudget time.Duration
	KeyHost     string // "request", "upstream" or a fixed authority: see keyHostName

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

	TLSCert, TLSKey string
	H2C             bool

	LogFormat string
	LogLevel  slog.Level
	AccessLog bool
	Pprof     bool
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
	defaultName       = "Cellar"
	defaultMaxHeaders = 1 << 20
	// minMaxSize is the smallest store budget accepted: below it a cache
	// holds next to nothing, and the value is almost surely a slip.
	minMaxSize = 1 << 20
)

func serveFlags(stderr io.Writer) (*serveFlagValues, *flag.FlagSet) {
	fs := newFlagSet("serve", "--upstream URL [flags]", stderr)
	v := &serveFlagValues{maxSize: byteSize{n: defaultMaxSize}, maxHeaderBytes: byteSize{n: defaultMaxHeaders}}
	fs.StringVar(&v.upstream, "upstream", "", "origin `URL` to forward to (http or https), e.g. http://127.0.0.1:9000")
	fs.StringVar(&v.demoOrigin, "demo-origin", "", "also run the demo origin in-process on this loopback `ADDR` (e.g. 127.0.0.1:9000); --upstream then defaults to it")
	fs.StringVar(&v.listen, "listen", defaultListen, "`ADDR` to serve the proxy on")
	fs.StringVar(&v.admin, "admin", defaultAdmin, "`ADDR` of the admin listener (/metrics, /healthz, /purge); \"off\" disables it")
	fs.StringVar(&v.adminToken, "admin-token", "", "bearer `TOKEN` required by the purge endpoints; mandatory when --admin is not a loopback address (prefer $CELLAR_ADMIN_TOKEN)")
	fs.StringVar(&v.store, "store", defaultStore, "where entries live: memory | disk:PATH | redis://HOST:PORT[/DB] | redis+cluster://H1:P1,H2:P2")
	fs.Var(&v.maxSize, "max-size", "byte budget of the store, with units (e.g. 512MiB, 1GiB, 10GB)")
	fs.TextVar(&v.diskFsync, "disk-fsync", disk.FsyncIndex, "what the disk store syncs before a commit returns: index (the index; after power loss recent bodies may be lost, and are then dropped) | none (nothing: fastest; after power loss the store may start empty) | always (bodies and index)")
	fs.StringVar(&v.name, "name", defaultName, "cache `NAME` in Cache-Status (RFC 9211) and Via (RFC 9110 §7.6.3)")
	fs.StringVar(&v.targeted, "targeted-field", "", "an RFC 9213 targeted cache-control field `NAME` honoured before CDN-Cache-Control (e.g. Cellar-Cache-Control)")
	fs.StringVar(&v.keyHost, "key-host", "request", "the authority cache keys are formed with: request (the Host the client sent) | upstream (the upstream's host) | a fixed `NAME` such as www.example.com; what is forwarded does not change")
	fs.DurationVar(&v.staleBudget, "stale-budget", 0, "serve stale responses for up to this long past their lifetime when the origin cannot be reached (RFC 9111 §4.2.4)")
	fs.IntVar(&v.workers, "background-workers", 0, "background refreshes and detached fills run at once (0: the engine's default)")
	fs.Var(&v.fillLimit, "detached-fill-limit", "largest body a fill keeps downloading after its client left (0: the engine's default)")
	fs.DurationVar(&v.readHeaderTimeout, "read-header-timeout", 10*time.Second, "time allowed to read a request's header")
	fs.DurationVar(&v.readTimeout, "read-timeout", 0, "time allowed to read a whole request, body included (0: none)")
	fs.DurationVar(&v.writeTimeout, "write-timeout", 0, "time allowed to write a response (0: none; streams need none)")
	fs.DurationVar(&v.idleTimeout, "idle-timeout", 120*time.Second, "how long an idle keep-alive connection is kept")
	fs.DurationVar(&v.dialTimeout, "dial-timeout", 5*time.Second, "time allowed to connect to the upstream")
	fs.DurationVar(&v.upstreamTimeout, "upstream-timeout", 60*time.Second, "time allowed for the upstream's response header (0: none)")
	fs.DurationVar(&v.shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGINT/SIGTERM, how long in-flight requests may take to finish")
	fs.Var(&v.maxHeaderBytes, "max-header-bytes", "largest request header accepted (431 past it)")
	fs.Var(&v.maxBodySize, "max-body-size", "largest request body accepted (413 past it; 0: no limit)")
	fs.StringVar(&v.tlsCert, "tls-cert", "", "TLS certificate `FILE` (PEM); with --tls-key serves HTTPS with HTTP/2")
	fs.StringVar(&v.tlsKey, "tls-key", "", "TLS private key `FILE` (PEM)")
	fs.BoolVar(&v.h2c, "h2c", false, "also accept HTTP/2 without TLS (h2c, prior knowledge)")
	fs.StringVar(&v.logFormat, "log-format", "text", "log format: text | json")
	fs.StringVar(&v.logLevel, "log-level", "info", "log level: debug | info | warn | error")
	fs.BoolVar(&v.accessLog, "access-log", true, "log one line per request")
	fs.BoolVar(&v.pprof, "pprof", false, "serve Go runtime profiles on the admin listener under /debug/pprof/")
	return v, fs
}

type serveFlagValues struct {
	upstream, demoOrigin, listen, admin, adminToken, store, name, targeted string
	keyHost                                                                string
	maxSize, fillLimit, maxHeaderBytes, maxBodySize                        byteSize
	staleBudget                                                            time.Duration
	diskFsync                                                              disk.Fsync
	workers                                                                int
	readHeaderTimeout, readTimeout, writeTimeout, idleTimeout              time.Duration
	dialTimeout, upstreamTimeout, shutdownTimeout                          time.Duration
	tlsCert, tlsKey, logFormat, logLevel                                   string
	h2c, accessLog, pprof                                                  bool
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
		DiskFsync:         v.diskFsync,
		Name:              v.name,
		Targeted:          v.targeted,
		StaleBudget:       v.staleBudget,
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
	}
	checks := []func() error{
		func() error { return c.setUpstream(v.upstream) },
		func() error { return checkAddr("listen", c.Listen) },
		c.checkAdmin,
		func() error { return c.setStore(v.store) },
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
			if !validToken(c.Name) {
				return usagef("--name %q is not an HTTP token (RFC 9110 §5.6.2): use letters, digits and !#$%%&'*+-.^_`|~", c.Name)
			}
			return nil
		},
		func() error {
			if c.Targeted != "" && !validToken(c.Targeted) {
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
				nonNegative("shutdown-timeout", c.ShutdownTimeout),
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
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		return usagef("--admin-token is too short: use at least 16 characters")
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

// validToken reports whether s is an RFC 9110 §5.6.2 token.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
