package disk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cellar-http/cellar/store"
)

// roleFile holds the role of the caches that use the directory
// (store.RoleKeeper): "shared" or "private", and a newline.
const roleFile = "role"

// ClaimRole implements store.RoleKeeper: the directory's role file is
// written by the first claim; later claims compare. One process holds the
// directory at a time (its lock), so no other claim races it; but a
// directory used
// by a private cache yesterday must not serve its entries to a shared
// cache today. A role file left empty by a crash during the first claim
// counts as none.
func (s *Store) ClaimRole(ctx context.Context, shared bool) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	want := store.RoleName(shared)
	path := filepath.Join(s.dir, roleFile)
	got, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) || err == nil && len(bytes.TrimSpace(got)) == 0:
		if err := writeRole(path, want, s.opts.Fsync != FsyncNone); err != nil {
			return fmt.Errorf("disk store: recording the role: %w", err)
		}
		return syncDirIf(s.dir, s.opts.Fsync != FsyncNone)
	case err != nil:
		return fmt.Errorf("disk store: reading the role: %w", err)
	}
	if r := string(bytes.TrimSpace(got)); r != want {
		return fmt.Errorf("disk store: %s is used by %s caches, this one is %s: %w", s.dir, r, want, store.ErrRole)
	}
	return nil
}

// writeRole writes role to path, replacing an empty file.
func writeRole(path, role string, sync bool) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(role + "\n")
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDirIf(dir string, sync bool) error {
	if !sync {
		return nil
	}
	return syncDir(dir)
}
