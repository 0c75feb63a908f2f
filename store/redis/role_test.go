package redis

import (
	"errors"
	"testing"

	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/redis/redistest"
)

// A prefix written by shared caches is refused to a private one, and the
// other way round, whichever process claims first (RFC 9111 §3.5: a shared
// cache must not reuse what a private cache stored for one user); each
// prefix keeps its own role.
func TestClaimRole_RFC9111_3_5(t *testing.T) {
	srv := redistest.Start(t)
	a := newTestStore(t, []string{srv.Addr}, Options{})
	b := newTestStore(t, []string{srv.Addr}, Options{Prefix: a.opts.Prefix}) // another process, same prefix
	other := newTestStore(t, []string{srv.Addr}, Options{})
	ctx := t.Context()

	if err := a.ClaimRole(ctx, true); err != nil {
		t.Fatalf("first claim (shared): %v", err)
	}
	if err := b.ClaimRole(ctx, true); err != nil {
		t.Fatalf("same role again: %v", err)
	}
	if err := b.ClaimRole(ctx, false); !errors.Is(err, store.ErrRole) {
		t.Fatalf("private claim of a shared prefix: %v, want ErrRole", err)
	}
	if err := other.ClaimRole(ctx, false); err != nil {
		t.Fatalf("private claim of another prefix: %v", err)
	}
	if err := a.ClaimRole(ctx, true); err != nil {
		t.Fatalf("the refused claim changed the role: %v", err)
	}
	// The role survives purges: it is not an entry.
	if _, err := a.PurgePrefix(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if err := b.ClaimRole(ctx, false); !errors.Is(err, store.ErrRole) {
		t.Fatalf("private claim after a purge of everything: %v, want ErrRole", err)
	}
}
