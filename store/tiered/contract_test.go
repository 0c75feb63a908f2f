package tiered

import (
	"testing"

	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/disk"
	"github.com/cellar-http/cellar/store/memory"
	"github.com/cellar-http/cellar/store/storetest"
)

// memBudget is the memory tier of the stores the contract suite gets: small
// enough that its own evictions are exercised too.
const memBudget = 512 << 10

func openDisk(t *testing.T, dir string, maxBytes int64) *Store {
	t.Helper()
	d, err := disk.Open(dir, disk.Options{MaxBytes: maxBytes, Fsync: disk.FsyncNone})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(d, Options{MaxBytes: memBudget})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestContractOverDisk runs the suite against a memory tier in front of the
// disk store (cellar serve's default), reopening the directory for the
// durability checks.
func TestContractOverDisk(t *testing.T) {
	type opened struct {
		dir string
		max int64
	}
	dirs := map[*Store]opened{}
	storetest.Run(t, storetest.Factory{
		New: func(t *testing.T, maxBytes int64) store.Store {
			dir := t.TempDir()
			s := openDisk(t, dir, maxBytes)
			dirs[s] = opened{dir, maxBytes}
			return s
		},
		Reopen: func(t *testing.T, s store.Store) store.Store {
			o := dirs[s.(*Store)]
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			r := openDisk(t, o.dir, o.max)
			dirs[r] = o
			return r
		},
	})
}

// TestContractOverMemory runs the suite against a memory tier in front of a
// store that cannot tell liveness (no Liveness): the composition holds for
// any store.
func TestContractOverMemory(t *testing.T) {
	storetest.Run(t, storetest.Factory{
		New: func(t *testing.T, maxBytes int64) store.Store {
			m, err := memory.New(memory.Options{MaxBytes: maxBytes})
			if err != nil {
				t.Fatal(err)
			}
			s, err := New(m, Options{MaxBytes: memBudget})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	})
}
