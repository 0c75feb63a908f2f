package proxy

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSecondRing: each second counts in its own slot; a slot reused a
// window later starts from zero; seconds that saw nothing read as zero.
func TestSecondRing(t *testing.T) {
	r := newSecondRing(4)
	r.add(100, cRequests, 1)
	r.add(100, cRequests, 2)
	r.add(101, cHits, 5)
	r.add(104, cRequests, 7) // reuses 100's slot
	got := r.last(104, 4)
	want := []int64{0, 0, 0, 7} // 101..104: 101 kept its hits but no requests
	for i, s := range got {
		if s.Time != 101+int64(i) || s.Requests != want[i] {
			t.Errorf("second %d: %+v, want t=%d requests=%d", i, s, 101+i, want[i])
		}
	}
	if got[0].Hits != 5 {
		t.Errorf("second 101: %+v, want 5 hits", got[0])
	}
	if old := r.last(100, 1)[0]; old.Requests != 0 {
		t.Errorf("second 100 read after its slot was reused: %+v, want zero", old)
	}
	if n := len(r.last(104, 1000)); n != 4 {
		t.Errorf("asked for more seconds than kept: got %d, want 4", n)
	}
}

// TestTopKFloodStaysBounded: a flood of distinct URLs (a cache-busting
// query string on every request) keeps the sketch at its capacity, and
// the URLs that are truly heavy stay on top with their counts
// (Space-Saving: a key heavier than total/capacity is never lost).
func TestTopKFloodStaysBounded(t *testing.T) {
	tk := newTopK(64, maxTopKey)
	for i := range 200_000 {
		tk.add([]byte(fmt.Sprintf("cache.example/page?bust=%d", i)), 1)
		if i%10 == 0 {
			tk.add([]byte("cache.example/hot"), 1)
		}
		if i%25 == 0 {
			tk.add([]byte("cache.example/warm"), 1)
		}
	}
	if len(tk.index) != 64 || len(tk.heap) != 64 {
		t.Fatalf("tracking %d keys (%d in the heap), want the capacity 64", len(tk.index), len(tk.heap))
	}
	top := tk.top(2)
	if top[0].Key != "cache.example/hot" || top[0].Weight-top[0].Error > 20_000 || top[0].Weight < 20_000 {
		t.Errorf("first %+v: want cache.example/hot with 20000 (within its error)", top[0])
	}
	if top[1].Key != "cache.example/warm" || top[1].Weight < 8_000 {
		t.Errorf("second %+v: want cache.example/warm with 8000", top[1])
	}
	long := bytes.Repeat([]byte("a"), 10_000)
	tk.add(long, 1<<40)
	if k := tk.top(1)[0].Key; len(k) != maxTopKey {
		t.Errorf("a 10000-byte key is kept as %d bytes, want it cut to %d", len(k), maxTopKey)
	}
}

// TestTopKExactWhenItFits: below its capacity the sketch counts exactly,
// by weight (bytes).
func TestTopKExactWhenItFits(t *testing.T) {
	tk := newTopK(8, maxTopKey)
	tk.add([]byte("a"), 10)
	tk.add([]byte("b"), 30)
	tk.add([]byte("a"), 25)
	got := tk.top(5)
	if len(got) != 2 || got[0] != (TopEntry{Key: "a", Weight: 35}) || got[1] != (TopEntry{Key: "b", Weight: 30}) {
		t.Errorf("top %+v, want a=35, b=30 exactly", got)
	}
}

// TestDecisionFilter: ?prefix= matches the request target; ?status=
// matches, in this cache's Cache-Status member only (RFC 9211 §2), a
// parameter, a parameter with its value, or a value, or the outcome label.
func TestDecisionFilter(t *testing.T) {
	hit := &decision{uri: "/api/a?x=1", outcome: LabelHit, cacheStatus: []string{`Origin; fwd=miss, Cellar; hit; ttl=30`}}
	miss := &decision{uri: "/img/b", outcome: "uri-miss", cacheStatus: []string{`Cellar; fwd=uri-miss; fwd-status=200; stored`}}
	stale := &decision{uri: "/api/c", outcome: LabelHitStale, cacheStatus: []string{`Cellar; hit; ttl=-5; detail="a, b"`}}
	cases := []struct {
		q    string
		d    *decision
		want bool
	}{
		{"prefix=/api", hit, true},
		{"prefix=/api", miss, false},
		{"status=hit", hit, true},
		{"status=hit", miss, false},
		{"status=HIT", hit, true},
		{"status=fwd=uri-miss", miss, true},
		{"status=uri-miss", miss, true},
		{"status=fwd=miss", hit, false}, // the origin's member, not this cache's
		{"status=miss", hit, false},
		{"status=stored", miss, true},
		{"status=fwd-status=200", miss, true},
		{"status=stale", stale, true}, // the outcome hit-stale
		{"status=stale", hit, false},
		{"status=a, b", stale, false},
		{"status=hit,stored", miss, true}, // any of several
		{"prefix=/api&status=stale", stale, true},
		{"prefix=/img&status=stale", stale, false},
	}
	for _, tc := range cases {
		req := httptest.NewRequest("GET", "/decisions?"+strings.ReplaceAll(tc.q, " ", "%20"), nil)
		f := parseFilter(req.URL.Query())
		if got := f.match(tc.d, "cellar"); got != tc.want {
			t.Errorf("%s on %s %v: %v, want %v", tc.q, tc.d.uri, tc.d.cacheStatus, got, tc.want)
		}
	}
}

// blockingWriter is a ResponseWriter whose writes wait for open to close:
// a subscriber whose connection does not drain.
type blockingWriter struct {
	h    http.Header
	open chan struct{}
	mu   sync.Mutex
	buf  bytes.Buffer
}

func (w *blockingWriter) Header() http.Header { return w.h }
func (w *blockingWriter) WriteHeader(int)     {}
func (w *blockingWriter) Flush()              {}
func (w *blockingWriter) Write(p []byte) (int, error) {
	<-w.open
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}
func (w *blockingWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestDecisionsSlowSubscriberDrops: a subscriber that does not read never
// holds up the requests: past its buffer, decisions are dropped, counted,
// and the stream says so once it moves again.
func TestDecisionsSlowSubscriberDrops(t *testing.T) {
	s := NewStatus(StatusConfig{})
	w := &blockingWriter{h: http.Header{}, open: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.serveDecisions(w, httptest.NewRequest("GET", "/decisions", nil))
	}()
	for s.dec.subsN.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	const n = subscriberBuffer + 300
	r := httptest.NewRequest("GET", "/x", nil)
	for range n { // would block here if recording waited for the subscriber
		s.record(finished{r: r, status: 200, outcome: LabelHit, end: time.Now()})
	}
	lost := s.dec.state().Dropped
	if lost < 300 || lost > n {
		t.Fatalf("dropped %d of %d with a buffer of %d", lost, n, subscriberBuffer)
	}
	close(w.open)
	s.record(finished{r: r, status: 200, outcome: LabelHit, end: time.Now()}) // wakes the stream
	want := "event: dropped\ndata: {\"dropped\":"
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(w.String(), want); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the stream never said %q; it sent:\n%.600s", want, w.String())
		}
	}
	var said int64
	_, after, _ := strings.Cut(w.String(), want)
	if _, err := fmt.Sscanf(after, "%d}", &said); err != nil || said < lost {
		t.Errorf("the stream said %d dropped (%v), want at least the %d lost before it moved", said, err, lost)
	}
	s.Close()
	<-done
}

// TestRecordWithoutSubscriberAllocatesNothing: while nobody watches
// /decisions, recording a request (counters, top URLs, the replay ring)
// allocates nothing, and no trace is asked of the cache.
func TestRecordWithoutSubscriberAllocatesNothing(t *testing.T) {
	s := NewStatus(StatusConfig{})
	r := httptest.NewRequest("GET", "http://cache.example/some/page?q=1", nil)
	w := httptest.NewRecorder()
	if out, tr := s.trace(r, w); out != r || tr != nil {
		t.Fatal("a trace was asked for with nobody subscribed")
	}
	cs := []string{"Cellar; hit; ttl=10"}
	s.record(finished{r: r, status: 200, outcome: LabelHit, bytes: 10, cacheStatus: cs, end: time.Now()})
	end := time.Now()
	allocs := testing.AllocsPerRun(1000, func() {
		s.record(finished{r: r, status: 200, outcome: LabelHit, bytes: 10, cacheStatus: cs, end: end})
	})
	if allocs != 0 {
		t.Errorf("recording allocates %v times per request, want 0", allocs)
	}
	sub := s.dec.subscribe(filter{})
	defer s.dec.unsubscribe(sub)
	if out, tr := s.trace(r, w); out == r || tr == nil {
		t.Error("no trace asked for with a subscriber")
	}
}

// FuzzDecisionFilter: any Cache-Status value and any ?status= filter are
// matched without a panic, and a parameter this cache's member carries
// (a token, RFC 9211 §2) is always found by its own name.
func FuzzDecisionFilter(f *testing.F) {
	f.Add(`Cellar; hit; ttl=30`, "hit")
	f.Add(`Origin; fwd=miss, Cellar; fwd=uri-miss; detail="a, \"b\""; stored`, "fwd=uri-miss")
	f.Add(`"Cellar"; hit,,`, "stale")
	f.Fuzz(func(t *testing.T, value, want string) {
		d := &decision{uri: "/", outcome: LabelNone, cacheStatus: []string{value}}
		q := make(map[string][]string)
		q["status"] = []string{want}
		flt := parseFilter(q)
		_ = flt.match(d, "Cellar")
		tok := strings.ToLower(strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r == '-' {
				return r
			}
			return -1
		}, want))
		if tok == "" {
			return
		}
		d.cacheStatus = []string{"Other; x=\"" + strings.ReplaceAll(strings.ReplaceAll(value, `\`, ""), `"`, "") + "\", Cellar; " + tok}
		if !statusHas(d.cacheStatus, "Cellar", tok) {
			t.Errorf("%q not found in %q", tok, d.cacheStatus)
		}
	})
}

// TestTopListsSampledPastTopExact: within one second, the first topExact
// requests count exactly in the top lists; past them one in topSample
// counts, weighted topSample, so a heavy URL's count stays an unbiased
// estimate and still leads, and the per-second and total counters stay
// exact.
func TestTopListsSampledPastTopExact(t *testing.T) {
	s := NewStatus(StatusConfig{})
	heavy := httptest.NewRequest("GET", "http://cache.example/heavy", nil)
	end := time.Unix(1_800_000_000, 0)
	rec := func(r *http.Request) {
		s.record(finished{r: r, status: 200, outcome: LabelHit, bytes: 100, end: end})
	}
	for range topExact {
		rec(heavy)
	}
	if got := s.topReqs.top(1)[0]; got.Weight != topExact {
		t.Fatalf("after %d requests the heavy URL counts %d, want exactly %d", topExact, got.Weight, topExact)
	}
	const more = 64_000
	for i := range more {
		if i%4 == 0 {
			rec(heavy)
			continue
		}
		rec(httptest.NewRequest("GET", fmt.Sprintf("http://cache.example/light/%d", i), nil))
	}
	want := float64(topExact + more/4)
	top := s.topReqs.top(1)[0]
	if !strings.HasSuffix(top.Key, "/heavy") || float64(top.Weight) < 0.9*want || float64(top.Weight) > 1.1*want+float64(top.Error) {
		t.Errorf("top URL %q counts %d (error %d), want /heavy near %.0f", top.Key, top.Weight, top.Error, want)
	}
	if b := s.topBytes.top(1)[0]; !strings.HasSuffix(b.Key, "/heavy") || b.Weight%(100*topSample) != topExact*100%(100*topSample) {
		t.Errorf("top URL by bytes %q with %d bytes: want /heavy, in steps of %d past the first %d requests", b.Key, b.Weight, 100*topSample, topExact)
	}
	if n := s.ring.last(end.Unix(), 1)[0].Requests; n != topExact+more {
		t.Errorf("the second counts %d requests, want %d: the counters are not sampled", n, topExact+more)
	}
	taken := 0
	for range more {
		if w, ok := topWeight(topExact + 1); ok {
			taken++
			if w != topSample {
				t.Fatalf("a sampled request weighs %d, want %d", w, topSample)
			}
		}
	}
	if lo, hi := more/topSample*8/10, more/topSample*12/10; taken < lo || taken > hi {
		t.Errorf("%d of %d requests past topExact entered the lists, want about %d", taken, more, more/topSample)
	}
}
