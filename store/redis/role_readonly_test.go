package redis

import (
	"errors"
	"testing"

	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/redis/redistest"
)

// A Redis that answers but cannot record a role (a read-only replica, as
// after a failover that left the client on one) still says which role the
// prefix has: the claim of the other role is refused with ErrRole (RFC 9111
// §3.5). It failed with the replica's READONLY error instead, which New
// (and the breaker) take for a store that could not be asked, and a shared
// cache read on, serving a private cache's entries (Authorization,
// private) to everyone.
func TestClaimRoleOnReadOnlyReplica_RFC9111_3_5(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, []string{srv.Addr}, Options{})
	if _, err := srv.Do("SET", s.opts.Prefix+"role", "private"); err != nil {
		t.Fatal(err)
	}
	// A replica of a master that is not there: read-only, serving the
	// data it has.
	if _, err := srv.Do("REPLICAOF", "127.0.0.1", "1"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Do("REPLICAOF", "NO", "ONE") })
	if _, err := srv.Do("SET", s.opts.Prefix+"probe", "x"); err == nil {
		t.Skip("the server accepts writes as a replica")
	}
	if err := s.ClaimRole(t.Context(), true); !errors.Is(err, store.ErrRole) {
		t.Fatalf("shared claim of a private prefix on a read-only replica: %v, want ErrRole", err)
	}
	if err := s.ClaimRole(t.Context(), false); err != nil {
		t.Fatalf("private claim of a private prefix on a read-only replica: %v, want nil", err)
	}
}
