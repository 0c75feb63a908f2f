package cellar

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/memory"
)

// fakeClock is the cache's and the origin's clock, moved by tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Now().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// origin is an httptest server that counts requests and dates its
// responses with the fake clock.
type origin struct {
	*httptest.Server
	hits  atomic.Int64
	clock *fakeClock
}

func newOrigin(t testing.TB, clock *fakeClock, h http.HandlerFunc) *origin {
	o := &origin{clock: clock}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.hits.Add(1)
		if clock != nil {
			w.Header().Set("Date", clock.Now().UTC().Format(http.TimeFormat))
		}
		h(w, r)
	}))
	t.Cleanup(o.Close)
	return o
}

func newMemStore(t testing.TB) store.Store {
	s, err := memory.New(memory.Options{MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newTestCache returns a Cache on a memory store (unless cfg has one) with
// the fake clock, closed at the end of the test.
func newTestCache(t testing.TB, clock *fakeClock, shared bool, cfg Config) *Cache {
	if cfg.Store == nil {
		cfg.Store = newMemStore(t)
	}
	cfg.Spec.Shared = shared
	if clock != nil && cfg.Spec.Clock == nil {
		cfg.Spec.Clock = clock.Now
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// result is a response read whole.
type result struct {
	status int
	header http.Header
	body   string
	err    error // from reading the body
	trace  *Trace
}

func (r result) cacheStatus() string { return strings.Join(r.header["Cache-Status"], ", ") }

func do(t testing.TB, rt http.RoundTripper, method, url string, hdr ...string) result {
	t.Helper()
	return doCtx(t, context.Background(), rt, method, url, hdr...)
}

func doCtx(t testing.TB, ctx context.Context, rt http.RoundTripper, method, url string, hdr ...string) result {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, rerr := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: string(b), err: rerr, trace: TraceFrom(resp)}
}

// faultStore wraps a store and fails the operations it is told to.
type faultStore struct {
	store.Store
	mu                                       sync.Mutex
	lookup, open, create, write, update, del error
	lookups                                  atomic.Int64
}

func (f *faultStore) set(fn func(*faultStore)) {
	f.mu.Lock()
	fn(f)
	f.mu.Unlock()
}

func (f *faultStore) get(p *error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *p
}

func (f *faultStore) Lookup(ctx context.Context, key string) ([]store.Entry, error) {
	f.lookups.Add(1)
	if err := f.get(&f.lookup); err != nil {
		return nil, err
	}
	return f.Store.Lookup(ctx, key)
}

func (f *faultStore) Open(ctx context.Context, key, id string) (store.Body, error) {
	if err := f.get(&f.open); err != nil {
		return nil, err
	}
	return f.Store.Open(ctx, key, id)
}

func (f *faultStore) Create(ctx context.Context, e store.Entry) (store.Writer, error) {
	if err := f.get(&f.create); err != nil {
		return nil, err
	}
	w, err := f.Store.Create(ctx, e)
	if err != nil {
		return nil, err
	}
	return &faultWriter{Writer: w, f: f}, nil
}

func (f *faultStore) Update(ctx context.Context, key string, es []store.Entry) error {
	if err := f.get(&f.update); err != nil {
		return err
	}
	return f.Store.Update(ctx, key, es)
}

func (f *faultStore) Delete(ctx context.Context, key string) error {
	if err := f.get(&f.del); err != nil {
		return err
	}
	return f.Store.Delete(ctx, key)
}

type faultWriter struct {
	store.Writer
	f *faultStore
}

func (w *faultWriter) Write(p []byte) (int, error) {
	if err := w.f.get(&w.f.write); err != nil {
		return 0, err
	}
	return w.Writer.Write(p)
}

// entries returns what the store holds for url's key.
func entries(t testing.TB, s store.Store, url string) []store.Entry {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	es, err := s.Lookup(context.Background(), spec.Key(spec.Request{Method: "GET", URL: req.URL}))
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// eventually polls cond for up to 5 seconds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// modes runs f in a private and a shared cache.
func modes(t *testing.T, f func(t *testing.T, shared bool)) {
	for _, shared := range []bool{false, true} {
		name := "private"
		if shared {
			name = "shared"
		}
		t.Run(name, func(t *testing.T) { f(t, shared) })
	}
}

// countingMetrics records Metrics calls.
type countingMetrics struct {
	mu        sync.Mutex
	served    map[Outcome]int
	coalesced int
	stored    int
	aborted   map[string]int
	bytes     map[Source]int64
	reval     map[bool]int
	refreshed int
}

func newCountingMetrics() *countingMetrics {
	return &countingMetrics{served: map[Outcome]int{}, aborted: map[string]int{}, bytes: map[Source]int64{}, reval: map[bool]int{}}
}

func (m *countingMetrics) Served(o Outcome) { m.mu.Lock(); m.served[o]++; m.mu.Unlock() }
func (m *countingMetrics) Revalidated(nm bool) {
	m.mu.Lock()
	m.reval[nm]++
	m.mu.Unlock()
}
func (m *countingMetrics) Coalesced()       { m.mu.Lock(); m.coalesced++; m.mu.Unlock() }
func (m *countingMetrics) Stored(int64)     { m.mu.Lock(); m.stored++; m.mu.Unlock() }
func (m *countingMetrics) Aborted(r string) { m.mu.Lock(); m.aborted[r]++; m.mu.Unlock() }
func (m *countingMetrics) Bytes(s Source, n int64) {
	m.mu.Lock()
	m.bytes[s] += n
	m.mu.Unlock()
}
func (m *countingMetrics) Refreshed(error) { m.mu.Lock(); m.refreshed++; m.mu.Unlock() }

func (m *countingMetrics) snapshot(f func(m *countingMetrics)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m)
}

func specWithBudget() spec.Options { return spec.Options{StaleBudget: time.Hour} }

func specMethods(m ...string) spec.Options { return spec.Options{CacheableMethods: m} }
