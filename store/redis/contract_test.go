package redis

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/redis/redistest"
	"github.com/cellar-http/cellar/store/storetest"
)

// prefixes gives every store of a test run a namespace of its own, so that
// one server serves many independent stores.
var prefixes atomic.Int64

func uniquePrefix() string { return fmt.Sprintf("t%d:", prefixes.Add(1)) }

// newTestStore opens a store on addrs with a fresh prefix and closes it at
// the end of the test.
func newTestStore(t testing.TB, addrs []string, opts Options) *Store {
	t.Helper()
	opts.Addrs = addrs
	if opts.Prefix == "" {
		opts.Prefix = uniquePrefix()
	}
	if opts.CommandTimeout == 0 {
		// The default 500ms is a production bound; a -race run of a
		// three-node cluster on two loaded cores has passed it
		// ("context deadline exceeded" in Contract/Reopen). Tests of
		// the timeout itself set their own.
		opts.CommandTimeout = 10 * time.Second
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func contractFactory(addrs []string) storetest.Factory {
	return storetest.Factory{
		New: func(t *testing.T, maxBytes int64) store.Store {
			// Small chunks, so that the suite's bodies span many of them.
			return newTestStore(t, addrs, Options{MaxBytes: maxBytes, ChunkSize: 16 << 10})
		},
		Reopen: func(t *testing.T, s store.Store) store.Store {
			r := s.(*Store)
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			return newTestStore(t, addrs, r.opts)
		},
	}
}

func TestContractStandalone(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, contractFactory([]string{srv.Addr}))
}

// TestCluster runs the contract suite and the cluster-specific tests against
// one three-node cluster (starting one takes a few seconds).
func TestCluster(t *testing.T) {
	c := redistest.StartCluster(t)
	t.Run("Contract", func(t *testing.T) {
		storetest.Run(t, contractFactory(c.Addrs()))
	})
	t.Run("Layout", func(t *testing.T) { testClusterLayout(t, c) })
	t.Run("LookupIsOneCommand", func(t *testing.T) { testLookupOneCommand(t, c.Nodes, c.Addrs()) })
	t.Run("GlobalLRU", func(t *testing.T) { testClusterLRU(t, c) })
	t.Run("PurgePrefix", func(t *testing.T) { testClusterPurgePrefix(t, c) })
	// Last: it kills a node.
	t.Run("NodeKilled", func(t *testing.T) { testClusterNodeKilled(t, c) })
}
