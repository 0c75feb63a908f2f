package cellar

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/memory"
	"github.com/cellar-http/cellar/store/redis"
	"github.com/cellar-http/cellar/store/redis/redistest"
)

// RFC 9111 §3.5, §5.2.2.7, §7.3: a shared cache must not reuse what a
// private cache stores, and a stored pair does not show it, so New refuses
// a store that an open Cache of the other role uses; caches of one role
// share a store freely, and Close ends the claim.
func TestStoreRoleRFC9111_3_5(t *testing.T) {
	st, err := memory.New(memory.Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	private, err := NewTransport(Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	private2, err := New(Config{Store: st})
	if err != nil {
		t.Fatalf("a second private cache on the store: %v", err)
	}
	if _, err := Middleware(Config{Store: st}); !errors.Is(err, ErrStoreRole) {
		t.Fatalf("Middleware on a private cache's store: %v, want ErrStoreRole", err)
	}
	private.Close()
	if _, err := New(Config{Store: st, Spec: spec.Options{Shared: true}}); !errors.Is(err, ErrStoreRole) {
		t.Fatalf("a shared cache while one private cache is still open: %v, want ErrStoreRole", err)
	}
	private2.Close()
	private2.Close() // a second Close releases nothing more
	shared, err := New(Config{Store: st, Spec: spec.Options{Shared: true}})
	if err != nil {
		t.Fatalf("a shared cache once the private ones are closed: %v", err)
	}
	defer shared.Close()
	shared2, err := New(Config{Store: st, Spec: spec.Options{Shared: true}})
	if err != nil {
		t.Fatalf("a second shared cache on the store: %v", err)
	}
	defer shared2.Close()
	if _, err := NewTransport(Config{Store: st}); !errors.Is(err, ErrStoreRole) {
		t.Fatalf("a private cache on a shared cache's store: %v, want ErrStoreRole", err)
	}
	// Other stores are not concerned.
	other, err := memory.New(memory.Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	c, err := NewTransport(Config{Store: other})
	if err != nil {
		t.Fatalf("a private cache on another store: %v", err)
	}
	c.Close()
}

// RFC 9111 §3.5 across processes: two processes open the same Redis
// prefix (two stores here), one with a shared cache; New refuses the
// other's private cache, and the error says which role the prefix keeps.
func TestStoreRoleAcrossProcessesRFC9111_3_5(t *testing.T) {
	srv := redistest.Start(t)
	prefix := fmt.Sprintf("role-%d:", time.Now().UnixNano())
	open := func() store.Store {
		s, err := redis.New(redis.Options{Addrs: []string{srv.Addr}, Prefix: prefix, CommandTimeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	shared, err := New(Config{Store: open(), Spec: spec.Options{Shared: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	if _, err := New(Config{Store: open()}); !errors.Is(err, ErrStoreRole) || !errors.Is(err, store.ErrRole) {
		t.Fatalf("private cache on a shared prefix: %v, want ErrStoreRole wrapping store.ErrRole", err)
	}
	again, err := New(Config{Store: open(), Spec: spec.Options{Shared: true}})
	if err != nil {
		t.Fatalf("another shared cache on the prefix: %v", err)
	}
	again.Close()
}
