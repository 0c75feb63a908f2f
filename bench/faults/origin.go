package main

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
)

// origin is the upstream of every experiment, in this process:
//
//	/obj/NAME?size=N[&chunked=1][&maxage=S]
//	                              N pattern bytes, public, max-age=S (3600 by
//	                              default); with Content-Length unless chunked
//	/stall/NAME?size=N            Content-Length N, N/2 bytes, then silence
//	                              with the connection open until release
type origin struct {
	srv      *http.Server
	addr     string
	requests atomic.Int64
	stalls   atomic.Int64
	release  chan struct{}
}

func startOrigin() (*origin, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	o := &origin{addr: ln.Addr().String(), release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/obj/", o.object)
	mux.HandleFunc("/stall/", o.stall)
	o.srv = &http.Server{Handler: mux}
	go o.srv.Serve(ln)
	return o, nil
}

func (o *origin) close() {
	select {
	case <-o.release:
	default:
		close(o.release)
	}
	o.srv.Shutdown(context.Background())
}

func sizeParam(r *http.Request) int64 {
	n, _ := strconv.ParseInt(r.URL.Query().Get("size"), 10, 64)
	return n
}

func (o *origin) object(w http.ResponseWriter, r *http.Request) {
	o.requests.Add(1)
	size := sizeParam(r)
	// The kill experiment wants entries that go stale within its run, so
	// that commits keep happening between the kills.
	maxAge := 3600
	if n, err := strconv.Atoi(r.URL.Query().Get("maxage")); err == nil {
		maxAge = n
	}
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(maxAge))
	w.Header().Set("Content-Type", "application/octet-stream")
	if r.URL.Query().Get("chunked") == "" {
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	}
	writePattern(w, r.URL.Path, 0, size)
}

func (o *origin) stall(w http.ResponseWriter, r *http.Request) {
	o.requests.Add(1)
	o.stalls.Add(1)
	size := sizeParam(r)
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	writePattern(w, r.URL.Path, 0, size/2)
	http.NewResponseController(w).Flush()
	select {
	case <-o.release:
	case <-r.Context().Done():
	}
	// Returning with fewer bytes than announced: net/http closes the
	// connection, the body is truncated.
}

func writePattern(w http.ResponseWriter, path string, off, end int64) {
	seed := seedOf(path)
	buf := make([]byte, 64<<10)
	for off < end {
		n := int(min(int64(len(buf)), end-off))
		fillPattern(seed, off, buf[:n])
		if _, err := w.Write(buf[:n]); err != nil {
			return
		}
		off += int64(n)
	}
}
