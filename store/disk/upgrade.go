package disk

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// upgrade handles an index.db left by an earlier release (a bbolt index):
// its entries are not imported; it is removed, and the bodies it named are
// swept as orphans by reconcile.
func (s *Store) upgrade() error {
	path := filepath.Join(s.dir, "index.db")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	s.log.Warn("removing the index of an earlier release; the store starts empty", "path", path)
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("disk store: %w", err)
	}
	return nil
}
