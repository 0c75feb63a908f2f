//go:build storetest

package disk

import (
	"testing"

	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/storetest"
)

// openTest opens a store in a fresh temporary directory.
func openTest(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, storetest.Factory{
		New: func(t *testing.T, maxBytes int64) store.Store {
			return openTest(t, Options{MaxBytes: maxBytes, Fsync: FsyncNone})
		},
		Reopen: func(t *testing.T, s store.Store) store.Store {
			d := s.(*Store)
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			s2, err := Open(d.Dir(), d.opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s2.Close() })
			return s2
		},
	})
}
