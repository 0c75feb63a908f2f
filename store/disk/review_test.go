package disk

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
)

// What the store counts (Stats: entries and bytes, the budget's view) and
// holds (IDs) must be what the log rebuilds at the next Open: commits,
// metadata updates (whose record may change length), deletes, evictions
// for MaxEntries and compactions (whose copies restamp the record) all
// change a node's cost, and a drift would make the budget wrong after a
// restart. Readers of inline bodies and lookups run throughout, over
// segments being compacted away.
func TestStatsSurviveReopenAfterChurnAndCompaction(t *testing.T) {
	s := openTest(t, Options{Fsync: FsyncNone, MaxBytes: 8 << 20, MaxEntries: 50})
	s.compactMin = 8 << 10
	ctx := context.Background()
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 3))
			for !stop.Load() {
				key := fmt.Sprintf("k%d", r.IntN(80))
				for _, e := range lookup(t, s, key) {
					b, err := s.Open(ctx, key, e.ID)
					if err != nil {
						continue // replaced or evicted meanwhile
					}
					var buf bytes.Buffer
					buf.ReadFrom(b)
					b.Close()
					if buf.Len() > 0 && !bytes.HasPrefix(buf.Bytes(), []byte(key+".")) {
						t.Errorf("body of %s (%s) is %.20q", key, e.ID, buf.Bytes())
					}
				}
			}
		}()
	}
	r := rand.New(rand.NewPCG(7, 7))
	for i := range 3000 {
		key := fmt.Sprintf("k%d", r.IntN(80))
		switch r.IntN(6) {
		case 0:
			if err := s.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
		case 1:
			es := lookup(t, s, key)
			for j := range es {
				es[j].Pair.Response.Header = http.Header{"Etag": {fmt.Sprintf(`"%d-%s"`, i, bytes.Repeat([]byte("x"), r.IntN(400)))}}
			}
			if err := s.Update(ctx, key, es); err != nil {
				t.Fatal(err)
			}
		default:
			n := 1 + r.IntN(200)
			if r.IntN(4) == 0 {
				n = 20 << 10 // a body file
			}
			put(t, s, testEntry(key, fmt.Sprint(r.IntN(2))), append([]byte(key+"."), bytes.Repeat([]byte("b"), n)...))
		}
	}
	stop.Store(true)
	wg.Wait()
	s.compactWait.Wait()
	compactNow(t, s)
	if s.compactions.Load() < 2 {
		t.Fatalf("%d compactions", s.compactions.Load())
	}
	before, ids := s.Stats(), checkAtRest(t, s)
	if before.Entries > 50 {
		t.Fatalf("%d entries, MaxEntries 50", before.Entries)
	}
	s = reopen(t, s)
	after, ids2 := s.Stats(), checkAtRest(t, s)
	if before.Entries != after.Entries || before.Bytes != after.Bytes {
		t.Fatalf("before Close %d entries, %d bytes; after Open %d entries, %d bytes", before.Entries, before.Bytes, after.Entries, after.Bytes)
	}
	for id := range ids {
		if !ids2[id] {
			t.Fatalf("entry %s lost by the reopen", id)
		}
	}
}
