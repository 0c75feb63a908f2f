package redis

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cellar-http/cellar/store"
)

// Defaults for the zero fields of [Options].
const (
	DefaultPrefix         = "cellar:"
	DefaultChunkSize      = 256 << 10
	DefaultTTL            = 24 * time.Hour
	DefaultPendingTTL     = 10 * time.Minute
	DefaultGrace          = 30 * time.Second
	DefaultDialTimeout    = 300 * time.Millisecond
	DefaultCommandTimeout = 500 * time.Millisecond
)

// Options configure a [Store]. The zero value of every field but Addrs has
// a usable default.
type Options struct {
	// Addrs are the server addresses ("host:port"). With one address the
	// client asks the server whether it is part of a cluster and acts
	// accordingly; with several, they seed the cluster's topology.
	Addrs []string
	// DB selects the logical database of a standalone server. A cluster
	// has only database 0.
	DB int
	// Username and Password authenticate with AUTH (ACL user or the
	// requirepass password when Username is empty).
	Username string
	Password string
	// TLS, when set, makes connections use TLS (rediss://).
	TLS *tls.Config

	// Prefix namespaces every key this store writes (default "cellar:"),
	// so several caches can share one server.
	Prefix string
	// MaxBytes is the byte budget of the bodies stored: least recently used
	// entries are evicted to stay inside it, at once in standalone mode,
	// within a few seconds in cluster mode (see the package documentation).
	// A body larger than it fails with store.ErrTooLarge. Zero means no
	// budget: only TTLs bound the store.
	MaxBytes int64
	// ChunkSize is the size of the body chunks, each one Redis string
	// (default 256 KiB). It bounds what a writer or a reader holds in
	// memory.
	ChunkSize int
	// DefaultTTL is the lifetime of entries whose Expires is zero (default
	// 24h), so that Redis never fills without bound.
	DefaultTTL time.Duration
	// PendingTTL is the lifetime of the chunks of a body not yet committed
	// (default 10m): the chunks of a writer that crashed vanish after it.
	// A writer still streaming renews it.
	PendingTTL time.Duration
	// Grace is how long the body of a replaced or removed entry stays
	// readable by readers that opened it before (default 30s). Zero
	// defaults; a negative value removes bodies at once.
	Grace time.Duration
	// DialTimeout bounds connecting (default 300ms); CommandTimeout bounds
	// each command (default 500ms). Both keep failures fast when the server
	// is unreachable.
	DialTimeout    time.Duration
	CommandTimeout time.Duration

	// Now is the clock used for deadlines and LRU order (default
	// time.Now). Every instance sharing a server should agree on the time.
	Now func() time.Time

	// MaxVariants is how many variants of one primary key are kept; the
	// commit script drops the least recently used (committed, opened or
	// updated) ones past it. Zero means store.DefaultMaxVariants; it must
	// not be negative. Instances sharing a server should agree on it.
	MaxVariants int
}

func (o Options) withDefaults() (Options, error) {
	if len(o.Addrs) == 0 {
		return o, errors.New("redis: no address")
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.DefaultTTL <= 0 {
		o.DefaultTTL = DefaultTTL
	}
	if o.PendingTTL <= 0 {
		o.PendingTTL = DefaultPendingTTL
	}
	if o.Grace == 0 {
		o.Grace = DefaultGrace
	}
	if o.Grace < 0 {
		o.Grace = 0
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = DefaultCommandTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if strings.ContainsAny(o.Prefix, "{}") {
		// A brace would change the hash tag of every key.
		return o, fmt.Errorf("redis: Prefix %q contains a brace", o.Prefix)
	}
	if o.MaxBytes < 0 {
		return o, fmt.Errorf("redis: negative MaxBytes %d", o.MaxBytes)
	}
	if o.MaxVariants < 0 {
		return o, fmt.Errorf("redis: negative MaxVariants %d", o.MaxVariants)
	}
	if o.MaxVariants == 0 {
		o.MaxVariants = store.DefaultMaxVariants
	}
	return o, nil
}

// ParseURL turns a server URL into Options, for command-line flags:
//
//	redis://[user:password@]host[:port][/db][?options]
//	rediss://...                      the same over TLS
//	redis+cluster://host:port,host:port[?options]
//	rediss+cluster://...              a cluster over TLS
//
// valkey:// and valkeys:// are accepted for redis:// and rediss://. The port
// defaults to 6379. Query options: prefix, max_bytes, chunk_size (bytes;
// the suffixes KiB, MiB, GiB are accepted), default_ttl, pending_ttl, grace,
// dial_timeout, command_timeout (Go durations), db, and addr (repeatable,
// more seed addresses).
func ParseURL(raw string) (Options, error) {
	var o Options
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return o, fmt.Errorf("redis: URL %q has no scheme", raw)
	}
	cluster := false
	switch strings.ToLower(scheme) {
	case "redis", "valkey":
	case "rediss", "valkeys":
		o.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	case "redis+cluster", "valkey+cluster":
		cluster = true
	case "rediss+cluster", "valkeys+cluster":
		cluster = true
		o.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	default:
		return o, fmt.Errorf("redis: URL %q: unknown scheme %q", raw, scheme)
	}

	// The authority may list several hosts, which net/url rejects: split it
	// off by hand and parse the rest as a URL path and query.
	authority, pathQuery := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, pathQuery = rest[:i], rest[i:]
	}
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		userinfo := authority[:at]
		authority = authority[at+1:]
		user, pass, hasPass := strings.Cut(userinfo, ":")
		var err error
		if o.Username, err = url.PathUnescape(user); err != nil {
			return o, fmt.Errorf("redis: URL user: %w", err)
		}
		if hasPass {
			if o.Password, err = url.PathUnescape(pass); err != nil {
				return o, fmt.Errorf("redis: URL password: %w", err)
			}
		}
		// redis://:password@host is the classic requirepass form.
	}
	hosts := strings.Split(authority, ",")
	if len(hosts) > 1 && !cluster {
		return o, fmt.Errorf("redis: URL %q lists several hosts: use redis+cluster://", raw)
	}
	for _, h := range hosts {
		addr, err := hostPort(h)
		if err != nil {
			return o, fmt.Errorf("redis: URL %q: %w", raw, err)
		}
		o.Addrs = append(o.Addrs, addr)
	}

	u, err := url.Parse(pathQuery)
	if err != nil {
		return o, fmt.Errorf("redis: URL %q: %w", raw, err)
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		if o.DB, err = strconv.Atoi(p); err != nil || o.DB < 0 {
			return o, fmt.Errorf("redis: URL %q: bad database %q", raw, p)
		}
	}
	q := u.Query()
	for name, vals := range q {
		v := vals[len(vals)-1]
		switch name {
		case "prefix":
			o.Prefix = v
		case "db":
			if o.DB, err = strconv.Atoi(v); err != nil || o.DB < 0 {
				return o, fmt.Errorf("redis: URL %q: bad database %q", raw, v)
			}
		case "max_bytes":
			o.MaxBytes, err = parseBytes(v)
		case "chunk_size":
			var n int64
			n, err = parseBytes(v)
			o.ChunkSize = int(n)
		case "default_ttl":
			o.DefaultTTL, err = time.ParseDuration(v)
		case "pending_ttl":
			o.PendingTTL, err = time.ParseDuration(v)
		case "grace":
			o.Grace, err = time.ParseDuration(v)
		case "dial_timeout":
			o.DialTimeout, err = time.ParseDuration(v)
		case "command_timeout":
			o.CommandTimeout, err = time.ParseDuration(v)
		case "addr":
			for _, h := range vals {
				addr, err := hostPort(h)
				if err != nil {
					return o, fmt.Errorf("redis: URL %q: %w", raw, err)
				}
				o.Addrs = append(o.Addrs, addr)
			}
		default:
			return o, fmt.Errorf("redis: URL %q: unknown option %q", raw, name)
		}
		if err != nil {
			return o, fmt.Errorf("redis: URL %q: option %s: %w", raw, name, err)
		}
	}
	if cluster && o.DB != 0 {
		return o, fmt.Errorf("redis: URL %q: a cluster has only database 0", raw)
	}
	if o.TLS != nil {
		if host, _, err := net.SplitHostPort(o.Addrs[0]); err == nil {
			o.TLS.ServerName = host
		}
	}
	return o, nil
}

// hostPort validates a host[:port] and adds the default port.
func hostPort(h string) (string, error) {
	if h == "" {
		return "", errors.New("empty host")
	}
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		// No port (or a bare IPv6 address in brackets).
		host, port = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), "6379"
	}
	if host == "" {
		return "", fmt.Errorf("empty host in %q", h)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return "", fmt.Errorf("bad port in %q", h)
	}
	return net.JoinHostPort(host, port), nil
}

// parseBytes reads a byte count with an optional KiB/MiB/GiB suffix.
func parseBytes(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad byte count %q", s)
	}
	return n * mult, nil
}
