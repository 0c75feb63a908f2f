package proxy

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"strings"
	"time"

	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
)

// AdminConfig configures the admin handler: metrics, health and purges.
type AdminConfig struct {
	// Store is the store purges act on (the cache's store).
	Store store.Store
	// Upstream is the proxy's upstream: a bare path purged is taken under
	// its host, and under its path prefix, as the cache keyed it. (Keys
	// carry the client's scheme; purges remove both schemes' copies.)
	Upstream *url.URL
	// KeyHost is the authority the cache keys every request on
	// (cellar.Config.KeyHost), or "" when it keys on the client's Host.
	// Purged URLs and paths are looked up under it when it is set.
	KeyHost string
	// Token, when set, is the bearer token the purge endpoints require
	// (Authorization: Bearer TOKEN). [CheckAdminAddr] says when it must be.
	// Without one, purges and profiles answer only requests whose Host is
	// a loopback name or Addr, and purges must not be simple cross-site
	// requests (see [Admin]).
	Token string
	// Addr is the address the admin listener was configured with
	// (--admin), accepted as a Host besides the loopback names.
	Addr string
	// Metrics serves /metrics (e.g. promhttp.HandlerFor(registry, ...));
	// nil answers 404.
	Metrics http.Handler
	// Pprof serves the runtime profiles of net/http/pprof under
	// /debug/pprof/ (behind the token, when there is one).
	Pprof bool
	// Healthy reports whether the process can serve; nil means always.
	Healthy func(context.Context) error
	// Logger receives one line per purge; nil discards.
	Logger *slog.Logger
	// PurgeTimeout bounds one purge (prefix and tag purges walk the store);
	// zero means 30s.
	PurgeTimeout time.Duration
	// Status, when set, serves the status page (/, /status.json,
	// /decisions: see statusroutes.go), guarded as the profiles are.
	Status *Status
}

// ErrAdminToken is returned by [CheckAdminAddr] when the admin listener is
// reachable from other hosts and no token protects it.
var ErrAdminToken = errors.New("the admin listener is not on loopback: a bearer token is required")

// CheckAdminAddr refuses an admin listen address that other hosts can reach
// when no token protects the purge endpoints.
func CheckAdminAddr(addr, token string) error {
	if token == "" && !IsLoopback(addr) {
		return ErrAdminToken
	}
	return nil
}

// IsLoopback reports whether the listen address addr ("host:port") accepts
// connections from this host only: its host is "localhost" or a loopback IP.
// An empty host (":9090") listens on every interface and is not loopback.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Admin returns the admin handler:
//
//	GET  /healthz                  200 "ok", or 503 with the error
//	GET  /metrics                  Prometheus metrics
//	POST /purge?url=URL            drop every variant of URL
//	POST /purge?prefix=URL         drop every entry whose URL starts with it
//	POST /purge?tag=TAG            drop every entry tagged TAG (Surrogate-Key, Cache-Tag)
//	POST /purge?path=/PATH         drop PATH under every host the cache keyed it on
//	                               (under AdminConfig.KeyHost when it is set)
//	GET  /debug/pprof/...          runtime profiles, when AdminConfig.Pprof is set
//	GET  /, /status.json           the status page and its figures, when AdminConfig.Status is set
//	GET  /decisions                recent decisions as Server-Sent Events (idem)
//
// Purges answer {"purged": N} in JSON; several url, prefix and tag
// parameters may be combined in one request, in the query, a form body or
// a JSON body ({"url": ["..."], "tag": ["..."]}).
//
// Loopback is not a trust boundary by itself: a web page in a browser on
// the same machine can post a form to 127.0.0.1, or reach it under its own
// name by DNS rebinding. So, besides the token when there is one:
// cross-site requests (Sec-Fetch-Site, Origin) to the purge endpoints are
// refused (403, http.CrossOriginProtection); without a token, purges and
// profiles need a loopback Host (or AdminConfig.Addr; 421 otherwise), and a
// POST purge needs the header [PurgeHeader] or a JSON body (403), which a
// cross-site form cannot send. /metrics and /healthz stay open. URLs are those clients use
// (http://cache.example/path): their host is the Host the cache was asked
// for. Keys carry the client's scheme, and a purge removes the copies of
// both (http and https), whichever scheme the URL has: an operator
// purging a page means every copy.
func Admin(cfg AdminConfig) http.Handler {
	a := &admin{cfg: cfg, log: cfg.Logger}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.cfg.PurgeTimeout == 0 {
		a.cfg.PurgeTimeout = 30 * time.Second
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.healthz)
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", cfg.Metrics)
	}
	guarded := func(h http.HandlerFunc) http.Handler { return a.localOnly(a.auth(h)) }
	if cfg.Pprof {
		mux.Handle("GET /debug/pprof/", guarded(pprof.Index))
		mux.Handle("GET /debug/pprof/cmdline", guarded(pprof.Cmdline))
		mux.Handle("GET /debug/pprof/profile", guarded(pprof.Profile))
		mux.Handle("GET /debug/pprof/symbol", guarded(pprof.Symbol))
		mux.Handle("GET /debug/pprof/trace", guarded(pprof.Trace))
	}
	purge := a.localOnly(http.NewCrossOriginProtection().Handler(a.auth(a.notSimple(http.HandlerFunc(a.purge)))))
	mux.Handle("POST /purge", purge)
	mux.Handle("PURGE /purge", purge)
	if cfg.Status != nil {
		a.mountStatus(mux, cfg.Status)
	}
	return mux
}

type admin struct {
	cfg AdminConfig
	log *slog.Logger
}

func (a *admin) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if a.cfg.Healthy != nil {
		if err := a.cfg.Healthy(r.Context()); err != nil {
			http.Error(w, "unhealthy: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// auth requires the bearer token (RFC 6750 §2.1) when one is configured.
func (a *admin) auth(next http.Handler) http.Handler {
	if a.cfg.Token == "" {
		return next
	}
	want := []byte("Bearer " + a.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cellar admin"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "a valid bearer token is required"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// purgeResult is the JSON body of a purge's answer.
type purgeResult struct {
	Purged int               `json:"purged"`
	Detail []purgeItemResult `json:"detail"`
}

type purgeItemResult struct {
	Kind  string `json:"kind"` // url, prefix or tag
	Value string `json:"value"`
	Key   string `json:"key,omitempty"`
	// Keys are the keys a purge tried (url, path) or the prefixes it
	// purged (prefix): those of both schemes.
	Keys   []string `json:"keys,omitempty"`
	Purged int      `json:"purged"`
}

func (a *admin) purge(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case isJSON(r):
		if err := readJSONPurge(r, q); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "JSON body: " + err.Error()})
			return
		}
	case r.Method == http.MethodPost && r.Header.Get("Content-Type") == "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err == nil {
			q = r.Form
		}
	}
	if len(q["url"])+len(q["prefix"])+len(q["tag"])+len(q["path"]) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "give url=, path=, prefix= or tag= (repeatable)"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.PurgeTimeout)
	defer cancel()
	var res purgeResult
	for _, kind := range []string{"url", "path", "prefix", "tag"} {
		for _, v := range q[kind] {
			item, status, err := a.purgeOne(ctx, kind, v)
			if err != nil {
				a.log.Warn("purge failed", "kind", kind, "value", v, "err", err)
				writeJSON(w, status, map[string]any{"error": err.Error(), "purged": res.Purged, "detail": res.Detail})
				return
			}
			a.log.Info("purged", "kind", kind, "value", v, "key", item.Key, "keys", item.Keys, "count", item.Purged)
			res.Purged += item.Purged
			res.Detail = append(res.Detail, item)
		}
	}
	writeJSON(w, http.StatusOK, res)
}

func (a *admin) purgeOne(ctx context.Context, kind, v string) (purgeItemResult, int, error) {
	item := purgeItemResult{Kind: kind, Value: v}
	st := a.cfg.Store
	if st == nil {
		return item, http.StatusServiceUnavailable, errors.New("no store")
	}
	var err error
	switch kind {
	case "tag":
		if strings.TrimSpace(v) == "" {
			return item, http.StatusBadRequest, errors.New("empty tag")
		}
		item.Purged, err = st.PurgeTag(ctx, v)
	case "path":
		item.Keys, item.Purged, err = purgePath(ctx, st, a.cfg.Upstream, a.cfg.KeyHost, v)
		if errors.As(err, new(badPurge)) {
			return item, http.StatusBadRequest, err
		}
	case "url", "prefix":
		key, kerr := purgeKey(v, a.cfg.Upstream, a.cfg.KeyHost)
		if kerr != nil {
			return item, http.StatusBadRequest, kerr
		}
		// Both schemes' copies go: keys carry the client's (scheme.go).
		item.Key, item.Keys = key, bothSchemes(key)
		if kind == "url" {
			item.Purged, err = deleteKeys(ctx, st, item.Keys)
			break
		}
		for _, prefix := range item.Keys {
			n, perr := st.PurgePrefix(ctx, prefix)
			item.Purged += n
			if err = perr; err != nil {
				break
			}
		}
	}
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, store.ErrUnavailable) {
			status = http.StatusServiceUnavailable
		}
		return item, status, err
	}
	return item, 0, nil
}

// PurgeKey returns the cache key of the URL clients use for a resource,
// as the cache computed it when it stored the response: the key of the
// request the proxy sent upstream, which keeps the client's Host and
// scheme (RFC 9111 §4.1, spec.Key; a bare path is taken as http). The
// key is the target as sent, so the URL must be spelled as clients spell
// it: other spellings ("/%7Ea" for "/~a", another host case) are stored
// under their own keys. A bare path ("/a/b") is taken relative to the
// upstream's own host, which matches only the entries of clients that
// sent that Host; give the full URL clients use otherwise. The admin's
// purges remove the keys of both schemes (see [Admin]).
func PurgeKey(raw string, upstream *url.URL) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("not a URL: " + err.Error())
	}
	if u.Host == "" {
		if !strings.HasPrefix(u.Path, "/") || upstream == nil {
			return "", errors.New("want an absolute URL such as http://cache.example/path, or a path starting with /")
		}
		u.Host = upstream.Host
	}
	if upstream != nil {
		// As outgoing joins them: the key is the target as forwarded
		// (spec.TargetURI), spelled as given.
		u.Path, u.RawPath = joinURLPath(upstream, u)
	}
	if u.Scheme == "" {
		u.Scheme = "http"
	}
	return spec.Key(spec.Request{Method: http.MethodGet, URL: u}), nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
