package redis

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/redis/redistest"
)

// failFast checks that op failed with ErrUnavailable rather than hanging.
// The bound is loose on purpose: the store's own timeouts are hundreds of
// milliseconds, and a shared CI machine must not turn scheduling delays into
// failures; a hung client would take far longer.
func failFast(t *testing.T, op string, start time.Time, err error) {
	t.Helper()
	took := time.Since(start)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("%s with the server down: %v, want ErrUnavailable", op, err)
	}
	if took > 5*time.Second {
		t.Errorf("%s took %v to fail, want it to fail fast", op, took)
	}
}

// waitRecovered polls Lookup until the store works again. A cluster client
// rediscovers a restarted node in its own time, slower on a loaded machine:
// the wait is generous, and a store that never recovers still fails.
func waitRecovered(t *testing.T, s *Store, key string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := s.Lookup(context.Background(), key)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store did not recover: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServerKilled kills the server mid-run: every operation fails fast
// with ErrUnavailable, and the store works again once a server is back on
// the same address.
func TestServerKilled(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, []string{srv.Addr}, Options{CommandTimeout: DefaultCommandTimeout}) // the production bound: it must fail fast
	ctx := context.Background()
	const key = "https://example.com/killed"
	e := put(t, s, testEntry(key, "", "tag"), []byte("before"))
	w, err := s.Create(ctx, testEntry(key, "late"))
	if err != nil {
		t.Fatal(err)
	}

	srv.Stop()

	start := time.Now()
	_, err = s.Lookup(ctx, key)
	failFast(t, "Lookup", start, err)
	start = time.Now()
	_, err = s.Create(ctx, testEntry(key, "x"))
	failFast(t, "Create", start, err)
	start = time.Now()
	_, err = w.Write(make([]byte, DefaultChunkSize)) // fills a chunk: a SET
	failFast(t, "Write", start, err)
	start = time.Now()
	_, err = s.Open(ctx, key, e.ID)
	failFast(t, "Open", start, err)
	start = time.Now()
	failFast(t, "Update", start, s.Update(ctx, key, []store.Entry{e}))
	start = time.Now()
	failFast(t, "Delete", start, s.Delete(ctx, key))
	start = time.Now()
	_, err = s.PurgeTag(ctx, "tag")
	failFast(t, "PurgeTag", start, err)
	start = time.Now()
	_, err = s.PurgePrefix(ctx, "https://")
	failFast(t, "PurgePrefix", start, err)
	start = time.Now()
	failFast(t, "Iterate", start, s.Iterate(ctx, func(store.Entry) bool { return true }))

	srv.Restart() // same port, empty
	waitRecovered(t, s, key)
	got := put(t, s, testEntry(key, ""), []byte("after"))
	if b, err := readAll(t, s, got); err != nil || string(b) != "after" {
		t.Fatalf("after recovery read %q, %v", b, err)
	}
	if _, err := s.Create(ctx, testEntry(key, "y")); err != nil {
		t.Fatalf("Create after recovery: %v", err)
	}
}

// TestServerHung pauses the server: operations time out after
// CommandTimeout with ErrUnavailable instead of hanging, and a body being
// read fails the same way; all works again once the server resumes.
func TestServerHung(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, []string{srv.Addr}, Options{CommandTimeout: 200 * time.Millisecond, ChunkSize: 10})
	ctx := context.Background()
	const key = "https://example.com/hung"
	e := put(t, s, testEntry(key, ""), pattern(100))
	b, err := s.Open(ctx, key, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := io.ReadFull(b, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}

	srv.Pause()
	start := time.Now()
	_, err = s.Lookup(ctx, key)
	failFast(t, "Lookup", start, err)
	start = time.Now()
	_, err = io.ReadFull(b, make([]byte, 10))
	failFast(t, "Read", start, err)
	srv.Resume()

	waitRecovered(t, s, key)
	if got, err := readAll(t, s, e); err != nil || len(got) != 100 {
		t.Fatalf("after the pause read %d bytes, %v", len(got), err)
	}
}
