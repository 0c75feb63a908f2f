package cellar

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cellar-http/cellar/store/memory"
)

// TestZeroConfigCachesInMemory: NewTransport(Config{}) is a working private
// cache on a memory store of DefaultMemoryBytes (as store/memory's doc
// says), which Close closes; a store the caller gave is left open.
func TestZeroConfigCachesInMemory(t *testing.T) {
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "hello")
	})
	c, err := NewTransport(Config{})
	if err != nil {
		t.Fatal(err)
	}
	do(t, c, "GET", o.URL+"/a")
	if r := do(t, c, "GET", o.URL+"/a"); r.body != "hello" || !strings.Contains(r.cacheStatus(), "hit") || o.hits.Load() != 1 {
		t.Errorf("second GET: %q %q, origin hit %d times", r.body, r.cacheStatus(), o.hits.Load())
	}
	st, ok := c.Store().(*memory.Store)
	if !ok {
		t.Fatalf("default store %T", c.Store())
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := st.Lookup(t.Context(), "http://x/"); err == nil {
		t.Error("the default store is still open after Close")
	}

	given := newMemStore(t)
	c2, err := New(Config{Store: given})
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := given.Lookup(t.Context(), "http://x/"); err != nil {
		t.Errorf("a given store was closed by Close: %v", err)
	}
}
