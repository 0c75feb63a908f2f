package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// demoPaths are the demo origin's resources, each showing one caching rule.
var demoPaths = []struct{ path, what string }{
	{"/max-age", "Cache-Control: max-age=60: fresh for a minute (RFC 9111 §5.2.2.1)"},
	{"/etag", "ETag with no-cache: stored, revalidated on every use, 304 from the origin (§5.2.2.4, §4.3)"},
	{"/last-modified", "Last-Modified only: heuristic freshness, 10% of its age (§4.2.2)"},
	{"/vary", "Vary: Accept-Language: one variant per language (§4.1)"},
	{"/swr", "max-age=5, stale-while-revalidate=30: served stale while refreshed (RFC 5861)"},
	{"/cdn", "CDN-Cache-Control: max-age=120 for shared caches, Cache-Control: max-age=10 for browsers (RFC 9213)"},
	{"/tagged", "Surrogate-Key: demo products, max-age=300: purge it by tag"},
	{"/private", "Cache-Control: private: never stored by a shared cache (§5.2.2.7)"},
	{"/no-store", "Cache-Control: no-store: never stored (§5.2.2.5)"},
	{"/slow", "a cacheable body streamed slowly over two seconds"},
	{"/events", "a server-sent event stream, never stored, streamed through as it comes"},
}

// demoOrigin is the handler of `cellar demo-origin`: a small origin whose
// paths answer with different caching headers, so the cache can be tried
// with nothing else installed. Each body says when it was generated, so a
// hit is easy to tell from a miss.
func demoOrigin() http.Handler {
	var hits atomic.Int64
	mux := http.NewServeMux()
	body := func(w http.ResponseWriter, r *http.Request, extra string) {
		n := hits.Add(1)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "%s generated at %s (origin request #%d)%s\n", r.URL.Path, time.Now().UTC().Format(time.RFC3339Nano), n, extra)
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "max-age=10")
		fmt.Fprintln(w, "Cellar demo origin. Try these through the cache (curl -si) and with `cellar explain`:")
		for _, p := range demoPaths {
			fmt.Fprintf(w, "  %-15s %s\n", p.path, p.what)
		}
	})
	mux.HandleFunc("GET /max-age", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		body(w, r, "")
	})
	// /etag changes its representation once a minute; until then every
	// revalidation gets a 304.
	mux.HandleFunc("GET /etag", func(w http.ResponseWriter, r *http.Request) {
		minute := time.Now().UTC().Truncate(time.Minute)
		sum := sha256.Sum256([]byte(minute.String()))
		etag := `"` + hex.EncodeToString(sum[:8]) + `"`
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("ETag", etag)
		if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, etag) {
			hits.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		body(w, r, ", representation of "+minute.Format(time.Kitchen))
	})
	mux.HandleFunc("GET /last-modified", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Last-Modified", time.Now().Add(-10*time.Minute).UTC().Format(http.TimeFormat))
		body(w, r, "")
	})
	mux.HandleFunc("GET /vary", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		greeting := "hello"
		if strings.HasPrefix(r.Header.Get("Accept-Language"), "fr") {
			greeting = "bonjour"
			w.Header().Set("Content-Language", "fr")
		}
		body(w, r, ": "+greeting)
	})
	mux.HandleFunc("GET /swr", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=5, stale-while-revalidate=30")
		body(w, r, "")
	})
	mux.HandleFunc("GET /cdn", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10")
		w.Header().Set("CDN-Cache-Control", "max-age=120")
		body(w, r, "")
	})
	mux.HandleFunc("GET /tagged", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300")
		w.Header().Set("Surrogate-Key", "demo products")
		body(w, r, " (purge: curl -X POST -H 'X-Cellar-Purge: 1' 'localhost:9090/purge?tag=products')")
	})
	mux.HandleFunc("GET /private", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age=60")
		body(w, r, "")
	})
	mux.HandleFunc("GET /no-store", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		body(w, r, "")
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=30")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		n := hits.Add(1)
		rc := http.NewResponseController(w)
		for i := range 5 {
			fmt.Fprintf(w, "chunk %d of 5, origin request #%d, %s\n", i+1, n, time.Now().UTC().Format(time.RFC3339Nano))
			_ = rc.Flush()
			if !sleepCtx(r.Context(), 400*time.Millisecond) {
				return
			}
		}
	})
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		rc := http.NewResponseController(w)
		for i := range 10 {
			fmt.Fprintf(w, "id: %d\ndata: tick %d at %s\n\n", i, i, time.Now().UTC().Format(time.RFC3339Nano))
			_ = rc.Flush()
			if !sleepCtx(r.Context(), 500*time.Millisecond) {
				return
			}
		}
	})
	return mux
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// startDemoOrigin listens on addr and serves the demo origin until ctx
// ends. It returns once the listener is bound, with the address it got.
func startDemoOrigin(ctx context.Context, addr string, log *slog.Logger) (string, func() error, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: demoOrigin(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	stop := func() error {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		if serr := <-done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
		return err
	}
	log.Info("demo origin listening", "addr", "http://"+ln.Addr().String())
	return ln.Addr().String(), stop, nil
}

func runDemoOrigin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo-origin", "[--listen ADDR]", stderr)
	listen := fs.String("listen", "127.0.0.1:9000", "`ADDR` to serve the demo origin on")
	if err := parseFlags(fs, args, nil); err != nil {
		return err
	}
	if err := checkAddr("listen", *listen); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	addr, stop, err := startDemoOrigin(ctx, *listen, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "demo origin on http://%s/ (Ctrl-C to stop)\n", addr)
	<-ctx.Done()
	return stop()
}
