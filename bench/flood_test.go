package bench

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cellar-http/cellar"
	"github.com/cellar-http/cellar/proxy"
	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/disk"
	"github.com/cellar-http/cellar/store/memory"
	"github.com/cellar-http/cellar/store/redis"
	"github.com/cellar-http/cellar/store/redis/redistest"
)

// TestVariantFlood measures issue 12 item 6: an attacker requests one URL
// whose response says "Vary: Cookie" with a new Cookie each time, so that
// every request is a miss that stores one more variant. For each store
// (memory, disk, and Redis when redis-server is installed) it builds three
// fresh caches behind proxy.Proxy (what cellar serve runs) and times each
// request on its own, two caches at a time, request by request, so that
// both sides of a ratio see the same machine:
//
//	during   $CELLAR_FLOOD_VARIANTS rounds (1,000 by default, so that the
//	         module's tests stay quick; 500 under -short) of:
//	         a miss on /flood with Cookie s=i then a hit on one of 100
//	         unrelated URLs, in the flooded cache; and in the distinct
//	         cache, a miss on a new URL, with the same Cookie, then a hit
//	         (the same load, but no variants piling up)
//	after    as many rounds of: a hit in the flooded cache, and a hit in
//	         the quiet cache, which saw nothing but its hits
//
// It prints the p50 (and p90) of each, and the ratios: hits after the flood
// against quiet hits (issue 12 asks for at most 1.2×), hits during the
// flood against hits during distinct misses, and flood misses against
// distinct misses. $CELLAR_FLOOD_UNBOUNDED=N adds a fourth cache with the
// bound lifted (MaxVariants 1<<20), as every store was before it, flooded
// with N variants: the figure the bound removes.
//
// The figure issue 12 asks for is a flood of 10,000 variants:
//
//	CELLAR_FLOOD_VARIANTS=10000 go test -run TestVariantFlood -v .
//
// Nothing is asserted on times (the machine is shared); the test fails only
// if a request is not the hit or miss it should be, or if a store keeps
// more variants than its bound.
func TestVariantFlood(t *testing.T) {
	variants := envInt(t, "CELLAR_FLOOD_VARIANTS", 1000)
	if testing.Short() {
		variants = min(variants, 500)
	}
	unbounded := envInt(t, "CELLAR_FLOOD_UNBOUNDED", 0)
	o := newFloodOrigin(t)
	var redisSrv *redistest.Server
	backends := []struct {
		name string
		open func(t *testing.T, maxVariants int) store.Store
	}{
		{"memory", func(t *testing.T, mv int) store.Store {
			s, err := memory.New(memory.Options{MaxBytes: 512 << 20, MaxVariants: mv})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
		// FsyncNone: the figure is the index's work, not the VM's fdatasync.
		{"disk", func(t *testing.T, mv int) store.Store {
			s, err := disk.Open(t.TempDir(), disk.Options{MaxBytes: 1 << 30, Fsync: disk.FsyncNone, MaxVariants: mv})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
		{"redis", func(t *testing.T, mv int) store.Store {
			if redisSrv == nil {
				redisSrv = redistest.Start(t) // one server for the subtest
			}
			s, err := redis.New(redis.Options{Addrs: []string{redisSrv.Addr}, Prefix: fmt.Sprintf("flood%d:", floodPrefix.Add(1)), MaxBytes: 1 << 30, MaxVariants: mv})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
	}
	var report strings.Builder
	fmt.Fprintf(&report, "\n%d variants of one URL (Vary: Cookie); p50 (p90) per request, µs\n", variants)
	fmt.Fprintf(&report, "%-7s %-11s %-11s %-11s %-11s %-11s %-11s %s\n", "store", "hit quiet", "hit after", "hit distinct", "hit flood", "miss distinct", "miss flood", "(last 1000)")
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			rig := func(mv int) *floodRig {
				f := newFloodRig(t, o, be.open(t, mv))
				t.Cleanup(f.close)
				f.warm(t)
				return f
			}
			quiet, distinct, flooded := rig(0), rig(0), rig(0)
			var r floodRound
			for i := range variants {
				r.missDistinct = append(r.missDistinct, distinct.serve(t, "/other/"+strconv.Itoa(i), "s="+strconv.Itoa(i), true))
				r.hitDistinct = append(r.hitDistinct, distinct.hit(t, i))
				r.missFlood = append(r.missFlood, flooded.serve(t, "/flood", "s="+strconv.Itoa(i), true))
				r.hitFlood = append(r.hitFlood, flooded.hit(t, i))
			}
			flooded.checkBound(t, store.DefaultMaxVariants, variants)
			for i := range variants {
				r.hitQuiet = append(r.hitQuiet, quiet.hit(t, i))
				r.hitAfter = append(r.hitAfter, flooded.hit(t, i))
			}
			hq, ha, hd, hf := percentiles(r.hitQuiet), percentiles(r.hitAfter), percentiles(r.hitDistinct), percentiles(r.hitFlood)
			md, mf, ml := percentiles(r.missDistinct), percentiles(r.missFlood), percentiles(last(r.missFlood, 1000))
			fmt.Fprintf(&report, "%-7s %-11s %-11s %-11s %-11s %-11s %-11s %s\n", be.name, hq, ha, hd, hf, md, mf, ml)
			fmt.Fprintf(&report, "%-7s hit p50 after/quiet %.2f×, flood/distinct %.2f× (flood/quiet %.2f×, but each flood hit follows a miss); miss p50 flood/distinct %.2f× (last 1000: %.2f×)\n", "",
				ha.ratio(hq), hf.ratio(hd), hf.ratio(hq), mf.ratio(md), ml.ratio(md))
			if unbounded > 0 {
				old := rig(1 << 20)
				var miss, during, after, q []time.Duration
				for i := range unbounded {
					miss = append(miss, old.serve(t, "/flood", "s="+strconv.Itoa(i), true))
					during = append(during, old.hit(t, i))
				}
				old.checkBound(t, 1<<20, unbounded)
				for i := range unbounded {
					q = append(q, quiet.hit(t, i))
					after = append(after, old.hit(t, i))
				}
				hq, ha, hf, mf, ml := percentiles(q), percentiles(after), percentiles(during), percentiles(miss), percentiles(last(miss, 1000))
				fmt.Fprintf(&report, "%-7s unbounded, %d variants: hit quiet %s after %s (%.2f×), during %s (%.2f× distinct); miss %s, last 1000 %s (%.2f× distinct)\n", "",
					unbounded, hq, ha, ha.ratio(hq), hf, hf.ratio(hd), mf, ml, ml.ratio(md))
			}
		})
	}
	t.Log(report.String())
}

// floodRound is what TestVariantFlood times, one slice per kind of request.
type floodRound struct {
	hitQuiet, hitAfter, hitDistinct, hitFlood, missDistinct, missFlood []time.Duration
}

func last(ds []time.Duration, n int) []time.Duration { return ds[len(ds)-min(n, len(ds)):] }

var floodPrefix atomic.Int64

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("$%s=%q: want a number", name, v)
	}
	return n
}

// floodOrigin answers /flood with Vary: Cookie and every other path
// without, all fresh for an hour, 1 KiB each.
type floodOrigin struct {
	*httptest.Server
	requests atomic.Int64
}

func newFloodOrigin(t *testing.T) *floodOrigin {
	o := &floodOrigin{}
	body := bytes.Repeat([]byte("cellar!\n"), 128)
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.requests.Add(1)
		h := w.Header()
		h["Cache-Control"] = []string{"public, max-age=3600"}
		h["Content-Type"] = []string{"text/plain"}
		if r.URL.Path == "/flood" {
			h["Vary"] = []string{"Cookie"}
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(o.Close)
	return o
}

// floodRig is one cache (a fresh store) behind proxy.Proxy.
type floodRig struct {
	o     *floodOrigin
	st    store.Store
	c     *cellar.Cache
	p     http.Handler
	close func()
}

func newFloodRig(t *testing.T, o *floodOrigin, st store.Store) *floodRig {
	u, _ := url.Parse(o.URL)
	tr := upstreamTransport(t)
	c, err := cellar.New(cellar.Config{Spec: spec.Options{Shared: true}, Store: st, Upstream: tr})
	if err != nil {
		t.Fatal(err)
	}
	p, err := proxy.New(proxy.Config{Upstream: u, Cache: c, Transport: tr, Name: "Cellar"})
	if err != nil {
		t.Fatal(err)
	}
	return &floodRig{o: o, st: st, c: c, p: p, close: func() { c.Close(); st.Close() }}
}

// floodPages is how many unrelated URLs the hits cycle through.
const floodPages = 100

// warm stores the unrelated pages and hits each once.
func (f *floodRig) warm(t *testing.T) {
	for i := range floodPages {
		f.serve(t, "/page/"+strconv.Itoa(i), "", true)
		f.serve(t, "/page/"+strconv.Itoa(i), "", false)
	}
}

// hit times a hit on the i-th unrelated page (cycling).
func (f *floodRig) hit(t *testing.T, i int) time.Duration {
	return f.serve(t, "/page/"+strconv.Itoa(i%floodPages), "", false)
}

// checkBound fails unless the flooded URL keeps min(bound, n) variants.
func (f *floodRig) checkBound(t *testing.T, bound, n int) {
	es, err := f.st.Lookup(t.Context(), floodKey(f.o))
	if err != nil {
		t.Fatal(err)
	}
	if want := min(bound, n); len(es) != want {
		t.Fatalf("after %d variants the store keeps %d, want %d", n, len(es), want)
	}
}

// floodKey is the primary key the proxy stores /flood under.
func floodKey(o *floodOrigin) string {
	u, _ := url.Parse(o.URL + "/flood")
	return spec.Key(spec.Request{Method: http.MethodGet, URL: u})
}

// serve sends one GET through the proxy and returns how long it took,
// failing unless the origin was asked exactly when miss says.
func (f *floodRig) serve(t *testing.T, path, cookie string, miss bool) time.Duration {
	r, err := http.NewRequest(http.MethodGet, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Host = f.o.Listener.Addr().String()
	r.RequestURI = path
	r.RemoteAddr = "127.0.0.1:40000"
	if cookie != "" {
		r.Header["Cookie"] = []string{cookie}
	}
	before := f.o.requests.Load()
	w := &discardWriter{h: http.Header{}}
	start := time.Now()
	f.p.ServeHTTP(w, r)
	d := time.Since(start)
	if w.status != http.StatusOK || w.n != 1024 {
		t.Fatalf("GET %s: status %d, %d bytes", path, w.status, w.n)
	}
	if went := f.o.requests.Load() != before; went != miss {
		t.Fatalf("GET %s (Cookie %q): reached the origin %v, want %v (Cache-Status %q)", path, cookie, went, miss, w.h.Get("Cache-Status"))
	}
	return d
}

// pcts are the p50 and p90 of a set of durations.
type pcts struct{ p50, p90 time.Duration }

func percentiles(ds []time.Duration) pcts {
	if len(ds) == 0 {
		return pcts{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return pcts{p50: s[len(s)/2], p90: s[len(s)*9/10]}
}

func (p pcts) String() string {
	return fmt.Sprintf("%.0f (%.0f)", float64(p.p50)/1e3, float64(p.p90)/1e3)
}

func (p pcts) ratio(base pcts) float64 {
	if base.p50 == 0 {
		return 0
	}
	return float64(p.p50) / float64(base.p50)
}
