package cellar

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/cellar-http/cellar/store"
)

// recordingHandler keeps the WARN records logged.
type recordingHandler struct {
	mu    sync.Mutex
	warns []slog.Record
}

func (h *recordingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.warns = append(h.warns, r)
	h.mu.Unlock()
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

// TestStoreWarningsRateLimited: issue 13, item 2. A store that is down
// fails every request; the engine logged one WARN per request. Now one
// passes per interval, and the next says how many were held back.
func TestStoreWarningsRateLimited(t *testing.T) {
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte("ok"))
	})
	fs := &faultStore{Store: newMemStore(t)}
	fs.set(func(f *faultStore) { f.lookup = fmt.Errorf("down: %w", store.ErrUnavailable) })
	h := &recordingHandler{}
	c := newTestCache(t, nil, true, Config{Store: fs, Logger: slog.New(h)})
	c.storeWarn.every = time.Hour // the test must not depend on the machine's speed
	const n = 50
	for i := range n {
		if r := do(t, c, "GET", fmt.Sprintf("%s/%d", o.URL, i)); r.status != 200 {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
	h.mu.Lock()
	if len(h.warns) != 1 {
		t.Errorf("%d WARN records for %d store failures, want 1", len(h.warns), n)
	}
	h.mu.Unlock()
	// Once the interval has passed, the next failure is logged with the
	// count of those held back.
	c.storeWarn.mu.Lock()
	c.storeWarn.next = time.Time{}
	c.storeWarn.mu.Unlock()
	do(t, c, "GET", o.URL+"/last")
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.warns) != 2 {
		t.Fatalf("%d WARN records after the interval, want 2", len(h.warns))
	}
	var suppressed int64
	h.warns[1].Attrs(func(a slog.Attr) bool {
		if a.Key == "suppressed" {
			suppressed = a.Value.Int64()
		}
		return true
	})
	if suppressed != n-1 {
		t.Errorf("suppressed = %d, want %d", suppressed, n-1)
	}
}
