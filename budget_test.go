package cellar

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/memory"
)

// TestMissesPastMemoryBudgetPassThrough: issue 13, item 1, through the
// engine. Concurrent misses whose bodies cannot all be buffered under the
// memory store's budget are refused by the store (at Create when their
// Content-Length says so, at the write that would exceed what the writers
// in flight may hold otherwise) and every client still gets its whole body,
// unstored, from the origin.
func TestMissesPastMemoryBudgetPassThrough(t *testing.T) {
	const budget, size = 1 << 20, 3 << 19 // 1.5 MiB bodies under 1 MiB
	body := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	for _, declared := range []bool{true, false} {
		t.Run(map[bool]string{true: "content-length", false: "chunked"}[declared], func(t *testing.T) {
			o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60")
				if declared {
					w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				}
				w.Write(body)
			})
			st, err := memory.New(memory.Options{MaxBytes: budget})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			c := newTestCache(t, nil, true, Config{Store: st})
			var wg sync.WaitGroup
			results := make([]result, 4)
			for i := range results {
				wg.Go(func() { results[i] = do(t, c, "GET", fmt.Sprintf("%s/big/%d", o.URL, i)) })
			}
			wg.Wait()
			for i, r := range results {
				if r.status != 200 || r.err != nil || r.body != string(body) {
					t.Errorf("client %d: %d, %d bytes, %v", i, r.status, len(r.body), r.err)
				}
			}
			n := 0
			st.Iterate(context.Background(), func(store.Entry) bool { n++; return true })
			if n != 0 {
				t.Errorf("%d entries stored past the budget", n)
			}
		})
	}
}
