package redis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/redis/redistest"
)

// testClusterLayout checks that the slot computed here is the server's, and
// that every key of an entry (and its budget keys) is in one slot.
func testClusterLayout(t *testing.T, c *redistest.Cluster) {
	n := c.Nodes[0]
	slot := func(key string) int {
		t.Helper()
		out, err := n.Do("CLUSTER", "KEYSLOT", key)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := strconv.Atoi(out)
		return v
	}
	for range 50 {
		tag := strconv.FormatUint(rand.Uint64(), 16)
		if got, want := keySlot(tag), slot(tag); got != want {
			t.Fatalf("keySlot(%q) = %d, server says %d", tag, got, want)
		}
	}
	tags := slotTags()
	for range 50 {
		sl := rand.IntN(numSlots)
		if got := slot("x{" + tags[sl] + "}y"); got != sl {
			t.Fatalf("slot tag %q of slot %d is in slot %d", tags[sl], sl, got)
		}
	}

	// One seed address is enough: the client discovers the cluster.
	s := newTestStore(t, c.Addrs()[:1], Options{ChunkSize: 100})
	if !s.Cluster() {
		t.Fatal("the store did not detect the cluster")
	}
	e := put(t, s, testEntry("https://example.com/layout", "v"), pattern(250))
	h := hashTag(e.Key)
	want := slot(s.metaKey(h))
	keys := append(s.scriptKeys(h), s.chunkKey(h, e.ID, 0), s.chunkKey(h, e.ID, 2))
	for _, k := range keys {
		if got := slot(k); got != want {
			t.Errorf("key %s is in slot %d, the meta hash in %d", k, got, want)
		}
	}
}

// testClusterLRU: the evictor keeps the budget across slots, evicting the
// globally least recently used key.
func testClusterLRU(t *testing.T, c *redistest.Cluster) {
	clock := time.Now()
	var mu = make(chan struct{}, 1)
	s := newTestStore(t, c.Addrs(), Options{
		MaxBytes: 1000,
		Now: func() time.Time {
			mu <- struct{}{}
			defer func() { <-mu }()
			clock = clock.Add(time.Millisecond)
			return clock
		},
	})
	ctx := context.Background()
	key := func(i int) string { return "https://example.com/clru/" + strconv.Itoa(i) }
	slots := map[int]bool{}
	for i := range 4 {
		put(t, s, testEntry(key(i), ""), pattern(250))
		slots[keySlot(hashTag(key(i)))] = true
	}
	if len(slots) < 2 {
		t.Fatalf("the keys share a slot; pick others")
	}
	if es, _ := s.Lookup(ctx, key(0)); len(es) != 1 {
		t.Fatal("key 0 missing")
	}
	put(t, s, testEntry(key(4), ""), pattern(250))
	deadline := time.Now().Add(15 * time.Second)
	for s.Stats().Bytes > 1000 {
		if time.Now().After(deadline) {
			t.Fatalf("Stats = %+v, still over the budget", s.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i, want := range []bool{true, false, true, true, true} {
		es, err := s.Lookup(ctx, key(i))
		if err != nil {
			t.Fatal(err)
		}
		if (len(es) == 1) != want {
			t.Errorf("key %d stored = %v, want %v", i, len(es) == 1, want)
		}
	}
	if st := s.Stats(); st.Evictions != 1 || st.Entries != 4 {
		t.Errorf("Stats = %+v, want 4 entries and 1 eviction", st)
	}
	// A second instance sees the shared totals, at the latest after its
	// first census (every 5 s); the wait is generous for a loaded machine.
	s2 := newTestStore(t, c.Addrs(), s.opts)
	deadline = time.Now().Add(15 * time.Second)
	for st := s2.Stats(); st.Bytes != 1000 || st.Entries != 4; st = s2.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("a second instance's Stats = %+v, want 1000 bytes in 4 entries", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testClusterPurgePrefix purges keys spread over many slots.
func testClusterPurgePrefix(t *testing.T, c *redistest.Cluster) {
	s := newTestStore(t, c.Addrs(), Options{})
	ctx := context.Background()
	for i := range 30 {
		put(t, s, testEntry(fmt.Sprintf("https://example.com/a/%d", i), ""), []byte("a"))
	}
	for i := range 5 {
		put(t, s, testEntry(fmt.Sprintf("https://example.com/b/%d", i), ""), []byte("b"))
	}
	n, err := s.PurgePrefix(ctx, "https://example.com/a/")
	if err != nil || n != 30 {
		t.Fatalf("PurgePrefix = %d, %v; want 30", n, err)
	}
	left := 0
	if err := s.Iterate(ctx, func(store.Entry) bool { left++; return true }); err != nil {
		t.Fatal(err)
	}
	if left != 5 {
		t.Fatalf("%d entries left, want 5", left)
	}
}

// testClusterNodeKilled kills the master that owns a key: operations on it
// fail fast with ErrUnavailable, and work again once the node is back.
func testClusterNodeKilled(t *testing.T, c *redistest.Cluster) {
	s := newTestStore(t, c.Addrs(), Options{})
	ctx := context.Background()
	// Find a key that node 0 serves, from its CLUSTER NODES line "myself".
	nodes, err := c.Nodes[0].Do("CLUSTER", "NODES")
	if err != nil {
		t.Fatal(err)
	}
	var lo, hi int
	for _, line := range strings.Split(nodes, "\n") {
		if !strings.Contains(line, "myself") {
			continue
		}
		f := strings.Fields(line)
		if _, err := fmt.Sscanf(f[len(f)-1], "%d-%d", &lo, &hi); err != nil {
			t.Fatalf("cannot read the slots of %q", line)
		}
	}
	var key string
	for i := 0; key == ""; i++ {
		k := "https://example.com/node0/" + strconv.Itoa(i)
		if sl := keySlot(hashTag(k)); sl >= lo && sl <= hi {
			key = k
		}
	}
	put(t, s, testEntry(key, ""), []byte("x"))

	c.Nodes[0].Stop()
	start := time.Now()
	_, err = s.Lookup(ctx, key)
	failFast(t, "Lookup on a dead node", start, err)
	start = time.Now()
	w, err := s.Create(ctx, testEntry(key, "v"))
	if err == nil {
		_, err = w.Commit()
	}
	failFast(t, "Create+Commit on a dead node", start, err)

	c.Nodes[0].Restart() // same port and cluster config, no data
	waitRecovered(t, s, key)
	put(t, s, testEntry(key, ""), []byte("y"))
}
