package cellar

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/cellar-http/cellar/store"
)

// ErrStoreRole is returned by New for a store that a Cache of the other
// role (shared or private) in this process already uses.
//
// A private cache stores responses a shared cache must not reuse: to
// requests with Authorization (RFC 9111 §3.5), marked private (§5.2.2.7),
// with Set-Cookie (§7.3). A stored pair keeps of its request only the
// fields its Vary names, so a shared cache reading a private cache's
// entries could not tell them apart, and would serve one user's response
// to everyone. New refuses the mix within a process, and across processes
// for a store that records its role (store.RoleKeeper: a Redis prefix, a
// disk directory); the error then also wraps store.ErrRole.
var ErrStoreRole = errors.New("cellar: a shared and a private cache cannot use the same store")

// roleClaimTimeout bounds New's claim of the store's role.
const roleClaimTimeout = 5 * time.Second

// claimRole records the cache's role in a store that outlives the process
// (store.RoleKeeper), or refuses the store when it keeps the other one. A
// store that cannot be reached is used anyway, with a warning: a store
// behind a breaker (cellar serve's Redis) claims the role itself before
// it is used, when it answers.
func (c *Cache) claimRole() error {
	rk, ok := c.store.(store.RoleKeeper)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), roleClaimTimeout)
	defer cancel()
	err := rk.ClaimRole(ctx, c.opts.Shared)
	switch {
	case errors.Is(err, store.ErrRole):
		if c.releaseStore != nil {
			c.releaseStore()
		}
		return fmt.Errorf("%w: %w", ErrStoreRole, err)
	case err != nil:
		c.log.Warn("could not record the store's role (shared or private): a cache of the other role using it would not be noticed",
			"role", store.RoleName(c.opts.Shared), "err", err)
	}
	return nil
}

// storeRoles records the role of the Caches using each store, while they
// are open.
var storeRoles struct {
	mu sync.Mutex
	m  map[store.Store]storeRole
}

type storeRole struct {
	shared bool
	caches int
}

// claimStore records that a Cache of the given role uses st, or refuses
// with ErrStoreRole when a Cache of the other role does. The returned
// release ends the claim (Close); it may be called more than once. A store
// whose type is not comparable (a non-pointer struct) cannot be told
// apart from a copy, and is not checked.
func claimStore(st store.Store, shared bool) (release func(), err error) {
	if !reflect.TypeOf(st).Comparable() {
		return func() {}, nil
	}
	storeRoles.mu.Lock()
	defer storeRoles.mu.Unlock()
	r, used := storeRoles.m[st]
	if used && r.shared != shared {
		return nil, ErrStoreRole
	}
	if storeRoles.m == nil {
		storeRoles.m = make(map[store.Store]storeRole)
	}
	storeRoles.m[st] = storeRole{shared: shared, caches: r.caches + 1}
	var once sync.Once
	return func() { once.Do(func() { unclaimStore(st) }) }, nil
}

func unclaimStore(st store.Store) {
	storeRoles.mu.Lock()
	defer storeRoles.mu.Unlock()
	r := storeRoles.m[st]
	if r.caches <= 1 {
		delete(storeRoles.m, st)
		return
	}
	r.caches--
	storeRoles.m[st] = r
}
