package proxy

import (
	_ "embed"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cellar-http/cellar"
	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
)

// StatusConfig configures a [Status]: where its figures come from and how
// much it keeps. Every bound is fixed at creation, so no traffic can grow
// it.
type StatusConfig struct {
	// Store is the cache's store, for its use and evictions (store.Stats).
	Store store.Store
	// StoreBudget is the store's byte budget (--max-size), shown against
	// its use; zero when unknown.
	StoreBudget int64
	// InFlight reports the cache's collapsed and background work
	// ((*cellar.Cache).InFlight); nil shows none.
	InFlight func() cellar.InFlight
	// Options are the cache's core options (cellar.Cache.Options), with
	// which decisions are explained.
	Options spec.Options
	// Name is the cache's name in Cache-Status (cellar.Config.Name),
	// whose member /decisions?status= filters on; empty means "Cellar".
	Name string
	// Explain renders the explanation of one decision as `cellar
	// explain` prints it; nil renders a short one. It runs only for
	// decisions a subscriber receives, off the request path.
	Explain func(req spec.Request, resp spec.Response, opts spec.Options) string
	// Version is shown on the page.
	Version string
	// Window is how many seconds of per-second counters are kept: zero
	// means 300.
	Window int
	// TopCapacity is how many URLs each top list tracks (Space-Saving):
	// zero means 256.
	TopCapacity int
	// Decisions is how many recent decisions are replayed to a new
	// subscriber of /decisions: zero means 64.
	Decisions int
	// MaxSubscribers bounds the /decisions streams open at once (503
	// past it): zero means 16.
	MaxSubscribers int
}

// Status collects what the admin listener's status page (/, /status.json,
// /decisions) and `cellar top` show: per-second counters of the last
// Window seconds, totals, the top URLs by requests and by bytes, the
// store's use and the cache's work in flight, and a stream of recent
// decisions. The proxy records every finished request into it
// (Config.Status); recording costs a few atomic additions and one short
// lock (for one request in 16 past 1,024 a second: topExact), and a
// decision trace is asked of the cache only while someone watches
// /decisions.
type Status struct {
	cfg     StatusConfig
	started time.Time
	ring    *secondRing
	totals  [nCounters]atomic.Int64

	topMu    sync.Mutex
	topReqs  *topK
	topBytes *topK

	dec *decisions
}

// NewStatus returns a Status for cfg.
func NewStatus(cfg StatusConfig) *Status {
	if cfg.Window <= 0 {
		cfg.Window = 300
	}
	if cfg.TopCapacity <= 0 {
		cfg.TopCapacity = 256
	}
	if cfg.Decisions <= 0 {
		cfg.Decisions = 64
	}
	if cfg.MaxSubscribers <= 0 {
		cfg.MaxSubscribers = 16
	}
	if cfg.Name == "" {
		cfg.Name = cellar.DefaultName
	}
	s := &Status{
		cfg: cfg, started: time.Now(),
		// One more second than shown: the current one is still filling.
		ring:     newSecondRing(cfg.Window + 1),
		topReqs:  newTopK(cfg.TopCapacity, maxTopKey),
		topBytes: newTopK(cfg.TopCapacity, maxTopKey),
	}
	s.dec = newDecisions(s, cfg.Decisions, cfg.MaxSubscribers)
	return s
}

// maxTopKey bounds the length of a URL in the top lists.
const maxTopKey = 256

// Close ends the /decisions streams, so that the admin server can shut
// down (http.Server.RegisterOnShutdown).
func (s *Status) Close() {
	if s != nil {
		s.dec.close()
	}
}

// finished is what the proxy tells the Status of a request when its
// response is done.
type finished struct {
	r           *http.Request // as the client sent it
	status      int
	outcome     string // CacheStatusLabel's label, or "upgrade"
	bytes       int64
	cacheStatus []string // the Cache-Status values sent
	end         time.Time
	d           time.Duration
	traced      *tracedDecision // non-nil when a trace was asked for
}

// record counts a finished request. It runs on the request path: no
// allocation unless a subscriber watches /decisions.
func (s *Status) record(f finished) {
	if s == nil {
		return
	}
	sec := f.end.Unix()
	thisSecond := s.count(sec, cRequests, 1)
	s.count(sec, outcomeCounter(f.outcome), 1)
	s.count(sec, cBytes, f.bytes)
	if f.status >= 500 && f.status <= 599 {
		s.count(sec, cErrors, 1)
	}
	if w, ok := topWeight(thisSecond); ok {
		var buf [maxTopKey]byte
		key := urlKey(buf[:0], f.r)
		s.topMu.Lock()
		s.topReqs.add(key, w)
		s.topBytes.add(key, f.bytes*w)
		s.topMu.Unlock()
	}
	s.dec.record(&f)
}

// topExact is how many requests a second enter the top lists one by one;
// past it, one in topSample does, weighted topSample. A request for a URL
// the lists do not hold replaces their lightest (a lock, map and heap work
// and a copy of the key, twice): 3% of cellar serve's CPU under a mixed
// workload over 16,000 URLs. The lists are for the heavy hitters, which a
// sample finds as well; a light URL's count becomes an estimate.
const (
	topExact  = 1024
	topSample = 16
)

// topWeight says whether a request that was the nth of its second enters
// the top lists, and with what weight.
func topWeight(n int64) (int64, bool) {
	if n <= topExact {
		return 1, true
	}
	return topSample, rand.Uint32N(topSample) == 0
}

// count adds n to counter i of second sec and to its total, and returns
// the second's new count.
func (s *Status) count(sec int64, i int, n int64) int64 {
	s.totals[i].Add(n)
	return s.ring.add(sec, i, n)
}

// outcomeCounter maps the proxy's outcome label to the counter it counts
// in: the fwd reasons of RFC 9211 §2.2 that went forward for lack of a
// usable stored response are misses; bypass, method, upgrades and
// requests without this cache's Cache-Status pass through.
func outcomeCounter(outcome string) int {
	switch outcome {
	case LabelHit:
		return cHits
	case LabelHitStale:
		return cStale
	case LabelRevalidated:
		return cRevalidated
	case string(spec.FwdURIMiss), string(spec.FwdVaryMiss), string(spec.FwdMiss),
		string(spec.FwdStale), string(spec.FwdPartial), string(spec.FwdRequest):
		return cMisses
	}
	return cPass
}

// urlKey appends to buf (of capacity maxTopKey) the URL r asked for, as
// host and request target, cut to fit.
func urlKey(buf []byte, r *http.Request) []byte {
	uri := r.RequestURI
	if uri == "" && r.URL != nil {
		uri = r.URL.Path
	}
	if strings.HasPrefix(uri, "/") {
		buf = append(buf, r.Host[:min(len(r.Host), cap(buf)/2)]...)
	}
	return append(buf, uri[:min(len(uri), cap(buf)-len(buf))]...)
}

// Upstream wraps the transport the cache forwards over, to count the
// exchanges and the upstream's failures (no response, or a 5xx). A nil
// Status returns rt.
func (s *Status) Upstream(rt http.RoundTripper) http.RoundTripper {
	if s == nil {
		return rt
	}
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(r)
		sec := time.Now().Unix()
		s.count(sec, cUpstream, 1)
		if err != nil || resp.StatusCode >= 500 {
			s.count(sec, cUpstreamErrors, 1)
		}
		return resp, err
	})
}

// StatusSnapshot is what /status.json answers, and `cellar top` shows.
type StatusSnapshot struct {
	Time          time.Time `json:"time"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	Version       string    `json:"version,omitempty"`
	// Totals count since start; HitRatio is their share of requests
	// answered from the store (hits, stale and revalidated).
	Totals   SecondCounts `json:"totals"`
	HitRatio float64      `json:"hit_ratio"`
	// Seconds are the last Window seconds, oldest first; the last one is
	// still counting.
	Seconds  []SecondCounts   `json:"seconds"`
	Store    StoreStatus      `json:"store"`
	InFlight *cellar.InFlight `json:"in_flight,omitempty"`
	// TopRequests and TopBytes are the URLs with the most requests and
	// the most body bytes sent since start, estimated (Space-Saving:
	// Weight may exceed the truth by at most Error).
	TopRequests []TopEntry     `json:"top_requests"`
	TopBytes    []TopEntry     `json:"top_bytes"`
	Decisions   DecisionsState `json:"decisions"`
}

// StoreStatus is the store's use against its budget.
type StoreStatus struct {
	Entries   int64 `json:"entries"`
	Bytes     int64 `json:"bytes"`
	Budget    int64 `json:"budget,omitempty"`
	Hits      int64 `json:"hits"`
	Misses    int64 `json:"misses"`
	Evictions int64 `json:"evictions"`
}

// DecisionsState describes the /decisions streams.
type DecisionsState struct {
	Subscribers int `json:"subscribers"`
	// Dropped are decisions not sent to a subscriber too slow to take
	// them, since start.
	Dropped int64 `json:"dropped"`
}

// topShown is how many URLs each top list shows.
const topShown = 10

// Snapshot returns the figures now.
func (s *Status) Snapshot() StatusSnapshot {
	now := time.Now()
	snap := StatusSnapshot{Time: now.UTC(), UptimeSeconds: now.Sub(s.started).Seconds(), Version: s.cfg.Version}
	var c [nCounters]int64
	for i := range c {
		c[i] = s.totals[i].Load()
	}
	snap.Totals.set(&c)
	if t := snap.Totals; t.Requests > 0 {
		snap.HitRatio = float64(t.Hits+t.Stale+t.Revalidated) / float64(t.Requests)
	}
	snap.Seconds = s.ring.last(now.Unix(), s.cfg.Window)
	if st := s.cfg.Store; st != nil {
		ss := st.Stats()
		snap.Store = StoreStatus{Entries: ss.Entries, Bytes: ss.Bytes, Budget: s.cfg.StoreBudget,
			Hits: ss.Hits, Misses: ss.Misses, Evictions: ss.Evictions}
	}
	if s.cfg.InFlight != nil {
		in := s.cfg.InFlight()
		snap.InFlight = &in
	}
	s.topMu.Lock()
	snap.TopRequests = s.topReqs.top(topShown)
	snap.TopBytes = s.topBytes.top(topShown)
	s.topMu.Unlock()
	snap.Decisions = s.dec.state()
	return snap
}

// serveJSON answers /status.json, compact: the page polls it every second.
func (s *Status) serveJSON(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(s.Snapshot())
}

// servePage answers / with the status page: one HTML document, its CSS and
// script inline, that polls /status.json and follows /decisions.
func (s *Status) servePage(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// Nothing from elsewhere: the page is self-contained.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(statusPage)
}

// statusPage is the page / serves (status.html).
//
//go:embed status.html
var statusPage []byte
