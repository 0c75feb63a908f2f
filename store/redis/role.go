package redis

import (
	"context"
	"fmt"

	"github.com/valkey-io/valkey-go"

	"github.com/cellar-http/cellar/store"
)

// roleKey holds the role of the caches that use the prefix (RoleKeeper):
// "shared" or "private". It is never evicted or purged: a prefix, once
// written by one role, is refused to the other.
func (s *Store) roleKey() string { return s.opts.Prefix + "role" }

// ClaimRole implements store.RoleKeeper: it records the role under the
// prefix when none is (SET NX), and compares it otherwise. Processes of
// a fleet start in any order; the first to claim decides, and one of the
// other role is refused whether it started before or after.
func (s *Store) ClaimRole(ctx context.Context, shared bool) error {
	if err := s.checkOpen("claim role"); err != nil {
		return err
	}
	want := store.RoleName(shared)
	k := s.roleKey()
	setErr := s.do(ctx, s.client.B().Set().Key(k).Value(want).Nx().Build()).Error()
	if valkey.IsValkeyNil(setErr) {
		setErr = nil // NX: a role was there
	}
	// Read the role even when it could not be written (a read-only
	// replica answers READONLY, wrapped as unavailable): one of the other
	// role must be refused, not taken for a store that could not be asked.
	got, err := s.do(ctx, s.client.B().Get().Key(k).Build()).ToString()
	if err != nil {
		if setErr != nil {
			return s.wrap("claim role", setErr)
		}
		return s.wrap("claim role", err)
	}
	if got != want {
		return fmt.Errorf("redis: prefix %q is used by %s caches, this one is %s: %w", s.opts.Prefix, got, want, store.ErrRole)
	}
	return nil
}
