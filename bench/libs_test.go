package bench

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gregjones/httpcache"

	"github.com/cellar-http/cellar"
	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/disk"
	"github.com/cellar-http/cellar/store/memory"
)

// origin is a loopback upstream that counts the requests it answers.
//
//	/obj/SIZE[/anything]  SIZE bytes held in memory, public, max-age=3600
//	/big/SIZE[/anything]  SIZE bytes generated on the fly in 32 KiB writes
//	/slow/MS[/anything]   1 KiB after sleeping MS milliseconds
type origin struct {
	*httptest.Server
	requests atomic.Int64
	bodies   map[int][]byte
}

func newOrigin(tb testing.TB) *origin {
	o := &origin{bodies: map[int][]byte{}}
	for _, n := range []int{1 << 10, 100 << 10} {
		o.bodies[n] = bytes.Repeat([]byte("cellar!\n"), n/8)
	}
	chunk := bytes.Repeat([]byte{'x'}, 32<<10)
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.requests.Add(1)
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if len(parts) < 2 {
			http.NotFound(w, r)
			return
		}
		n, err := strconv.Atoi(parts[1])
		if err != nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("Content-Type", "application/octet-stream")
		h.Set("ETag", `"`+parts[0]+parts[1]+`"`)
		switch parts[0] {
		case "obj":
			body, ok := o.bodies[n]
			if !ok {
				http.NotFound(w, r)
				return
			}
			h.Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body)
		case "big":
			h.Set("Content-Length", strconv.Itoa(n))
			for left := n; left > 0; left -= len(chunk) {
				if _, err := w.Write(chunk[:min(left, len(chunk))]); err != nil {
					return
				}
			}
		case "slow":
			time.Sleep(time.Duration(n) * time.Millisecond)
			body := o.bodies[1<<10]
			h.Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body)
		default:
			http.NotFound(w, r)
		}
	}))
	tb.Cleanup(o.Close)
	return o
}

// upstreamTransport is the plain transport every library sends through.
func upstreamTransport(tb testing.TB) *http.Transport {
	t := &http.Transport{
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     30 * time.Second,
	}
	tb.Cleanup(t.CloseIdleConnections)
	return t
}

// lib builds one client-side cache (or none) in front of an upstream.
type lib struct {
	name string
	// open returns the cache as a RoundTripper and a function that closes it
	// and drops every reference to it, so that its memory can be reclaimed.
	open func(tb testing.TB, up http.RoundTripper) (http.RoundTripper, func())
}

// make opens l for the rest of the benchmark or test.
func (l lib) make(tb testing.TB, up http.RoundTripper) http.RoundTripper {
	rt, closeFn := l.open(tb, up)
	tb.Cleanup(closeFn)
	return rt
}

func cellarWith(tb testing.TB, up http.RoundTripper, st store.Store) (http.RoundTripper, func()) {
	c, err := cellar.NewTransport(cellar.Config{Store: st, Upstream: up, SpoolDir: tb.TempDir()})
	if err != nil {
		st.Close()
		tb.Fatal(err)
	}
	return c, func() { c.Close(); st.Close() }
}

func cellarMemory(maxBytes int64) func(testing.TB, http.RoundTripper) (http.RoundTripper, func()) {
	return func(tb testing.TB, up http.RoundTripper) (http.RoundTripper, func()) {
		st, err := memory.New(memory.Options{MaxBytes: maxBytes})
		if err != nil {
			tb.Fatal(err)
		}
		return cellarWith(tb, up, st)
	}
}

func cellarDisk(tb testing.TB, up http.RoundTripper) (http.RoundTripper, func()) {
	st, err := disk.Open(tb.TempDir(), disk.Options{MaxBytes: 1 << 30})
	if err != nil {
		tb.Fatal(err)
	}
	return cellarWith(tb, up, st)
}

func httpcacheMemory(tb testing.TB, up http.RoundTripper) (http.RoundTripper, func()) {
	t := httpcache.NewMemoryCacheTransport()
	t.Transport = up
	return t, func() {}
}

func noCache(tb testing.TB, up http.RoundTripper) (http.RoundTripper, func()) { return up, func() {} }

var (
	libCellar    = lib{"cellar", cellarMemory(256 << 20)}
	libHTTPCache = lib{"httpcache", httpcacheMemory}
	libNoCache   = lib{"nocache", noCache}
)
