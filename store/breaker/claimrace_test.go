package breaker_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/breaker"
	"github.com/cellar-http/cellar/store/memory"
)

// gatedProbe is a role-keeping backend whose probe lookups wait for a gate
// once it is armed, and that counts the role claims it answers.
type gatedProbe struct {
	store.Store
	down    atomic.Bool
	armed   atomic.Bool
	inProbe chan struct{}
	gate    chan struct{}
	claims  atomic.Int64
}

func (g *gatedProbe) Lookup(ctx context.Context, key string) ([]store.Entry, error) {
	if key == breaker.ProbeKey && g.armed.CompareAndSwap(true, false) {
		g.inProbe <- struct{}{}
		<-g.gate
		return nil, nil
	}
	if g.down.Load() {
		return nil, fmt.Errorf("down: %w", store.ErrUnavailable)
	}
	return g.Store.Lookup(ctx, key)
}

func (g *gatedProbe) ClaimRole(context.Context, bool) error {
	g.claims.Add(1)
	return nil
}

// A role asked for while a probe is between its claim (none was asked yet)
// and closing the breaker must still be claimed before the breaker closes
// (RFC 9111 §3.5): ClaimRole, seeing the breaker open, leaves the claim to
// the probe, and the probe, having claimed nothing, closed the breaker on a
// backend that never heard of the role: a private cache then wrote to a
// prefix a shared fleet reads.
func TestRoleAskedDuringProbeIsClaimedBeforeClosing_RFC9111_3_5(t *testing.T) {
	mem, _ := memory.New(memory.Options{MaxBytes: 1 << 20})
	g := &gatedProbe{Store: mem, inProbe: make(chan struct{}), gate: make(chan struct{})}
	b := breaker.New(g, breaker.Options{Threshold: 1, ProbeInterval: 5 * time.Millisecond})
	defer b.Close()
	g.down.Store(true)
	g.armed.Store(true)
	b.Lookup(t.Context(), "k") // opens the breaker; its probe starts
	if !b.IsOpen() {
		t.Fatal("breaker not open")
	}
	g.down.Store(false)
	<-g.inProbe // the probe claimed (nothing) and is asking the backend
	if err := b.ClaimRole(t.Context(), false); err == nil {
		t.Fatal("ClaimRole succeeded with the breaker open")
	}
	close(g.gate)
	deadline := time.Now().Add(10 * time.Second)
	for b.IsOpen() {
		if time.Now().After(deadline) {
			t.Fatal("the breaker never closed")
		}
		time.Sleep(time.Millisecond)
	}
	if g.claims.Load() == 0 {
		t.Fatal("the breaker closed without the role ClaimRole was asked for being claimed")
	}
}
