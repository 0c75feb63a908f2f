package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cellar-http/cellar"
	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/breaker"
	"github.com/cellar-http/cellar/store/memory"
	"github.com/cellar-http/cellar/store/redis"
	"github.com/cellar-http/cellar/store/redis/redistest"
	"github.com/cellar-http/cellar/store/storetest"
)

// The breaker passes the store contract: it changes nothing while closed.
func TestContract(t *testing.T) {
	storetest.Run(t, storetest.Factory{
		New: func(t *testing.T, maxBytes int64) store.Store {
			s, err := memory.New(memory.Options{MaxBytes: maxBytes})
			if err != nil {
				t.Fatal(err)
			}
			return breaker.New(s, breaker.Options{})
		},
	})
}

// counting counts the calls that reach the backend, but for the breaker's
// own probes.
type counting struct {
	store.Store
	calls atomic.Int64
}

func (c *counting) Lookup(ctx context.Context, key string) ([]store.Entry, error) {
	if key != breaker.ProbeKey {
		c.calls.Add(1)
	}
	return c.Store.Lookup(ctx, key)
}

func (c *counting) Open(ctx context.Context, key, id string) (store.Body, error) {
	c.calls.Add(1)
	return c.Store.Open(ctx, key, id)
}

func (c *counting) Create(ctx context.Context, e store.Entry) (store.Writer, error) {
	c.calls.Add(1)
	return c.Store.Create(ctx, e)
}

// failing answers every call with err.
type failing struct {
	store.Store
	err atomic.Pointer[error]
}

func (f *failing) Lookup(context.Context, string) ([]store.Entry, error) { return nil, *f.err.Load() }

// TestOpensOnConsecutiveUnavailable: only Threshold failures in a row that
// mean "cannot reach the backend" open the breaker; an answer of the
// backend's, even an error (not found), starts the count again, and a
// caller that gave up counts for nothing.
func TestOpensOnConsecutiveUnavailable(t *testing.T) {
	mem, _ := memory.New(memory.Options{MaxBytes: 1 << 20})
	f := &failing{Store: mem}
	b := breaker.New(f, breaker.Options{Threshold: 3, ProbeInterval: time.Hour})
	defer b.Close()
	unavailable := fmt.Errorf("timeout: %w", store.ErrUnavailable)
	seq := []error{unavailable, unavailable, store.ErrNotFound, unavailable, context.Canceled, unavailable}
	for i, err := range seq {
		f.err.Store(&err)
		b.Lookup(context.Background(), "k")
		if b.IsOpen() {
			t.Fatalf("open after call %d (%v): only two unavailable in a row so far", i, err)
		}
	}
	f.err.Store(&unavailable)
	if _, err := b.Lookup(context.Background(), "k"); !errors.Is(err, store.ErrUnavailable) || !b.IsOpen() {
		t.Fatalf("third unavailable in a row: %v, open=%v", err, b.IsOpen())
	}
	if _, err := b.Lookup(context.Background(), "k"); !errors.Is(err, breaker.ErrOpen) || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("call while open: %v, want ErrOpen wrapping ErrUnavailable", err)
	}
	if b.Trips() != 1 {
		t.Fatalf("trips = %d", b.Trips())
	}
}

// TestHungRedisPassesThrough: issue 13, item 2. A Redis stopped with
// SIGSTOP made every lookup wait for the command timeout. Behind the
// breaker, after Threshold timeouts requests are served from the origin
// without asking the store at all; once the server runs again, a probe
// closes the breaker and responses are stored and served from it again.
func TestHungRedisPassesThrough(t *testing.T) {
	srv := redistest.Start(t)
	t.Cleanup(srv.Resume) // never leave it stopped
	rs, err := redis.New(redis.Options{Addrs: []string{srv.Addr}, Prefix: fmt.Sprintf("breaker-%d:", time.Now().UnixNano()), CommandTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cnt := &counting{Store: rs}
	b := breaker.New(cnt, breaker.Options{Threshold: 3, ProbeInterval: 20 * time.Millisecond, ProbeTimeout: 200 * time.Millisecond})
	defer b.Close()
	var originHits atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		originHits.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "body of "+r.URL.Path)
	}))
	defer origin.Close()
	c, err := cellar.New(cellar.Config{Store: b, Spec: cellarShared()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	get := func(path string) (string, string) {
		t.Helper()
		resp, err := (&http.Client{Transport: c}).Get(origin.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 || string(body) != "body of "+path {
			t.Fatalf("GET %s: %d %q %v", path, resp.StatusCode, body, err)
		}
		return string(body), resp.Header.Get("Cache-Status")
	}

	srv.Pause()
	for i := 0; !b.IsOpen(); i++ {
		if i == 3 {
			t.Fatalf("the breaker is still closed after %d requests to a stopped Redis", i)
		}
		get(fmt.Sprintf("/before-open/%d", i))
	}
	reached := cnt.calls.Load()
	const during = 20
	for i := range during {
		_, cs := get(fmt.Sprintf("/open/%d", i))
		if !strings.Contains(cs, "fwd=bypass") {
			t.Errorf("request %d while open: Cache-Status %q, want a bypass", i, cs)
		}
	}
	if got := cnt.calls.Load(); got != reached {
		t.Errorf("%d calls reached the stopped store while the breaker was open, want 0", got-reached)
	}

	srv.Resume()
	deadline := time.Now().Add(30 * time.Second)
	for b.IsOpen() {
		if time.Now().After(deadline) {
			t.Fatal("the breaker did not close after the server resumed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	before := originHits.Load()
	get("/after")
	if _, cs := get("/after"); !strings.Contains(cs, "hit") {
		t.Errorf("second request after the breaker closed: Cache-Status %q, want a hit", cs)
	}
	if originHits.Load() != before+1 {
		t.Errorf("origin hits %d, want 1 after the breaker closed", originHits.Load()-before)
	}
}

// TestDownAtStart: a Redis that is down when the process starts does not
// stop it: Connect returns an open breaker, and connects in the background
// once the server is up.
func TestDownAtStart(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	opts := redis.Options{Addrs: []string{srv.Addr}, Prefix: fmt.Sprintf("breaker-%d:", time.Now().UnixNano())}
	var attempts atomic.Int64
	b, err := breaker.Connect(func(context.Context) (store.Store, error) {
		attempts.Add(1)
		return redis.New(opts)
	}, breaker.Options{ProbeInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatalf("Connect with the server down: %v, want an open breaker", err)
	}
	defer b.Close()
	if !b.IsOpen() {
		t.Fatal("the breaker is closed with the server down")
	}
	if _, err := b.Lookup(context.Background(), "k"); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("Lookup before connecting: %v", err)
	}
	srv.Restart()
	deadline := time.Now().Add(30 * time.Second)
	for b.IsOpen() {
		if time.Now().After(deadline) {
			t.Fatalf("the breaker did not connect after the server started (%d attempts)", attempts.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := b.Lookup(context.Background(), "k"); err != nil {
		t.Fatalf("Lookup once connected: %v", err)
	}
}

func cellarShared() spec.Options { return spec.Options{Shared: true} }

// countingClaims is a Redis store that counts the role claims it answers.
type countingClaims struct {
	*redis.Store
	claims *atomic.Int64
}

func (c countingClaims) ClaimRole(ctx context.Context, shared bool) error {
	c.claims.Add(1)
	return c.Store.ClaimRole(ctx, shared)
}

// A process started while its Redis was down cannot claim its role then;
// the breaker claims it before it closes, and a prefix that shared caches
// wrote stays unused by a private cache (RFC 9111 §3.5): every probe is
// refused, calls keep failing fast, nothing is read.
func TestRoleClaimedBeforeClosing_RFC9111_3_5(t *testing.T) {
	srv := redistest.Start(t)
	prefix := fmt.Sprintf("role-%d:", time.Now().UnixNano())
	if _, err := srv.Do("SET", prefix+"role", "shared"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Do("SAVE"); err != nil { // the test server does not save by itself
		t.Fatal(err)
	}
	srv.Stop()
	var claims atomic.Int64
	b, err := breaker.Connect(func(context.Context) (store.Store, error) {
		s, err := redis.New(redis.Options{Addrs: []string{srv.Addr}, Prefix: prefix, CommandTimeout: 10 * time.Second})
		if err != nil {
			return nil, err
		}
		return countingClaims{s, &claims}, nil
	}, breaker.Options{ProbeInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.ClaimRole(t.Context(), false); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("ClaimRole with the server down: %v, want ErrUnavailable", err)
	}
	srv.Restart()
	deadline := time.Now().Add(30 * time.Second)
	for claims.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d role claims after the server started, want 3 probes' worth", claims.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !b.IsOpen() {
		t.Fatal("the breaker closed on a prefix of the other role")
	}
	if _, err := b.Lookup(t.Context(), "k"); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("Lookup: %v, want ErrOpen", err)
	}
	// The same role is accepted: the breaker closes.
	if _, err := srv.Do("SET", prefix+"role", "private"); err != nil {
		t.Fatal(err)
	}
	for b.IsOpen() {
		if time.Now().After(deadline) {
			t.Fatal("the breaker stayed open once the prefix had this cache's role")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
