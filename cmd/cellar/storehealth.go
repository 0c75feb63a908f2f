package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/breaker"
	"github.com/cellar-http/cellar/store/redis"
)

// openRedis opens the Redis store behind a circuit breaker: a server that
// hangs costs each request its command timeout, so after a few timeouts in a
// row the proxy stops asking it and passes requests through until a probe
// finds it answering (issue 13). A server that is down at start does not
// stop the proxy either: it starts in pass-through and connects when the
// server is up.
func openRedis(cfg *serveConfig, log *slog.Logger) (store.Store, error) {
	storeLog := log.With("component", "store")
	b, err := breaker.Connect(func(context.Context) (store.Store, error) {
		opts := cfg.Store.Redis
		opts.MaxVariants = cfg.MaxVariants
		return redis.New(opts)
	}, breaker.Options{Logger: storeLog})
	if err != nil {
		return nil, fmt.Errorf("--store %s: %w", cfg.Store.Raw, err)
	}
	if b.IsOpen() {
		_, _, cause := b.State()
		storeLog.Warn("the store cannot be reached at start: serving without the cache, connecting in the background", "store", cfg.Store.Raw, "err", cause)
	}
	return b, nil
}

// withReadyz adds GET /readyz to the admin handler: "ok", then the store's
// state. It answers 200 even while a store breaker is open, because the
// proxy still serves (passing requests through): a 503 would take every
// instance sharing one Redis out of rotation at once and turn a slower
// origin into an outage. The state is there for humans and probes that read
// the body; alerts should use cellar_store_breaker_open.
func withReadyz(st store.Store, admin http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		state := "store: available\n"
		if b, ok := st.(*breaker.Breaker); ok {
			if open, since, cause := b.State(); open {
				state = fmt.Sprintf("store: unavailable since %s (circuit breaker open: requests pass through without the cache): %v\n",
					since.UTC().Format(time.RFC3339), cause)
			}
		}
		fmt.Fprint(w, "ok\n"+state)
	})
	mux.Handle("/", admin)
	return mux
}
