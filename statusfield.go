package cellar

import (
	"sync/atomic"

	"github.com/cellar-http/cellar/spec"
)

// statusFields remembers the Cache-Status members last rendered, each with
// the one-value field the response headers share, so that the hits of a
// hot object (whose member changes once a second, with its TTL) render it
// and allocate it once rather than on every response: one allocation less
// per hit (BenchmarkServeHit), and no array in the exchange that a header
// map would point into once the exchange is recycled (handlerCalls). The
// shared field is read-only, as the values of a stored response copied
// into a header are. Slots are picked by TTL, so that objects whose TTLs
// differ do not evict one another.
type statusFields [16]atomic.Pointer[statusField]

type statusField struct {
	cs    spec.CacheStatus
	field [1]string
}

// statusField returns the Cache-Status field value of cs, a one-element
// slice with no spare capacity (an append copies it).
func (c *Cache) statusField(cs spec.CacheStatus) []string {
	slot := &c.statusFields[uint64(cs.TTL)%uint64(len(c.statusFields))]
	if f := slot.Load(); f != nil && f.cs == cs {
		return f.field[:]
	}
	f := &statusField{cs: cs}
	f.field[0] = cs.Value(c.name)
	slot.Store(f)
	return f.field[:]
}
