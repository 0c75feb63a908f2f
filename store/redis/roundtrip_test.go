package redis

import (
	"context"
	"testing"

	"github.com/cellar-http/cellar/store/redis/redistest"
)

func TestLookupIsOneCommand(t *testing.T) {
	srv := redistest.Start(t)
	testLookupOneCommand(t, []*redistest.Server{srv}, []string{srv.Addr})
}

// testLookupOneCommand records with MONITOR the commands that lookups send
// (leaving out those the script runs): one EVALSHA each, hit or miss.
func testLookupOneCommand(t *testing.T, nodes []*redistest.Server, addrs []string) {
	s := newTestStore(t, addrs, Options{})
	ctx := context.Background()
	const key = "https://example.com/one-rtt"
	put(t, s, testEntry(key, "a"), []byte("a"))
	put(t, s, testEntry(key, "b"), []byte("b"))
	// The first run of a script may need EVAL after a NOSCRIPT.
	if _, err := s.Lookup(ctx, key); err != nil {
		t.Fatal(err)
	}
	var mons []*redistest.Monitor
	for _, node := range nodes {
		m, err := redistest.StartMonitor(node.Addr)
		if err != nil {
			t.Fatal(err)
		}
		mons = append(mons, m)
	}
	const n = 20
	for range n {
		es, err := s.Lookup(ctx, key)
		if err != nil || len(es) != 2 {
			t.Fatalf("Lookup = %d entries, %v", len(es), err)
		}
		if es, err := s.Lookup(ctx, key+"/missing"); err != nil || len(es) != 0 {
			t.Fatalf("Lookup of a missing key = %d entries, %v", len(es), err)
		}
	}
	counts := map[string]int{}
	for _, m := range mons {
		cmds, err := m.Stop()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cmds {
			counts[c]++
		}
	}
	for cmd, calls := range counts {
		switch cmd {
		case "PING", "HMGET", "HELLO", "CLIENT":
			// Keep-alives, the cluster census, and the handshake of a
			// connection the census opened to another node.
		case "EVALSHA":
			if calls != 2*n {
				t.Errorf("%d lookups sent %d EVALSHA, want one each", 2*n, calls)
			}
		default:
			t.Errorf("%d lookups also sent %d %s", 2*n, calls, cmd)
		}
	}
	if counts["EVALSHA"] == 0 {
		t.Errorf("no EVALSHA seen: %v", counts)
	}
}
