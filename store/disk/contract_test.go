package disk

import (
	"testing"

	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/storetest"
)

// TestContract runs the suite every backend must pass, reopening the same
// directory for the durability checks.
func TestContract(t *testing.T) {
	storetest.Run(t, storetest.Factory{
		New: func(t *testing.T, maxBytes int64) store.Store {
			return openTest(t, Options{MaxBytes: maxBytes, Fsync: FsyncNone})
		},
		Reopen: func(t *testing.T, s store.Store) store.Store {
			return reopen(t, s.(*Store))
		},
	})
}
