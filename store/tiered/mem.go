package tiered

import (
	"hash/maphash"
	"net/http"
	"sync"

	"github.com/cellar-http/cellar/store"
)

// memTier is the memory tier: key metadata and bodies in one LRU list under
// one byte budget.
type memTier struct {
	mu     sync.Mutex
	max    int64
	bytes  int64
	metas  map[string]*item // by key
	bodies map[string]*item // by entry ID
	root   item             // sentinel: root.next is the most recent

	// epochs, one per shard of keys, count the changes to the keys of the
	// shard; a Lookup fills the memory tier only when its key's epoch did
	// not move while it asked the durable store.
	epochs [epochShards]uint64
}

const epochShards = 256

var seed = maphash.MakeSeed()

func shard(key string) int { return int(maphash.String(seed, key) % epochShards) }

// item is one metadata list or one body.
type item struct {
	key     string // the primary key (metadata) or the entry ID (body)
	isBody  bool
	entries []store.Entry
	body    []byte
	cost    int64

	prev, next *item
}

func (m *memTier) init(max int64) {
	m.max = max
	m.metas = make(map[string]*item)
	m.bodies = make(map[string]*item)
	m.root.next, m.root.prev = &m.root, &m.root
}

// meta returns key's variants, marking them used.
func (m *memTier) meta(key string) ([]store.Entry, bool) {
	m.mu.Lock()
	it := m.metas[key]
	if it != nil {
		m.toFront(it)
	}
	m.mu.Unlock()
	if it == nil {
		return nil, false
	}
	return it.entries, true
}

// body returns the body of entry id, marking it used.
func (m *memTier) body(id string) ([]byte, bool) {
	m.mu.Lock()
	it := m.bodies[id]
	if it != nil {
		m.toFront(it)
	}
	m.mu.Unlock()
	if it == nil {
		return nil, false
	}
	return it.body, true
}

// epoch returns the change count of key's shard.
func (m *memTier) epoch(key string) uint64 {
	m.mu.Lock()
	e := m.epochs[shard(key)]
	m.mu.Unlock()
	return e
}

// putMeta keeps key's variants, read from the durable store when key's
// shard was at epoch; a change since then makes them possibly stale, and
// they are not kept.
func (m *memTier) putMeta(key string, es []store.Entry, epoch uint64) {
	cost := int64(len(key)) + itemOverhead
	for i := range es {
		cost += entryWeight(&es[i])
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.max == 0 || m.epochs[shard(key)] != epoch || cost > m.max/4 {
		return
	}
	if old := m.metas[key]; old != nil {
		m.unlink(old)
	}
	it := &item{key: key, entries: es, cost: cost}
	m.metas[key] = it
	m.link(it)
}

// putBody keeps the body of entry id (immutable: IDs are never reused).
func (m *memTier) putBody(id string, b []byte) {
	cost := int64(len(b)+len(id)) + itemOverhead
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.max == 0 || cost > m.max/4 || m.bodies[id] != nil {
		return
	}
	it := &item{key: id, isBody: true, body: b, cost: cost}
	m.bodies[id] = it
	m.link(it)
}

// dropKey forgets key's variants and moves its shard's epoch.
func (m *memTier) dropKey(key string) {
	m.mu.Lock()
	m.epochs[shard(key)]++
	if it := m.metas[key]; it != nil {
		m.unlink(it)
	}
	m.mu.Unlock()
}

// commitMeta records in key's variants, when memory holds them, the entry
// e the durable store has just committed: it replaces the variant of the
// same Variant (RFC 9111 §4.1: one stored response per secondary key), so
// that the next Lookup of a refetched object answers from memory instead
// of the durable store's index, and the replaced variant's body leaves
// memory (dropReplacedBodies). Without a list in memory there is nothing
// to amend: the durable store may hold variants memory never saw. Either
// way the shard's epoch moves, so a Lookup that read the durable store
// before this commit does not fill memory with what it read. What the
// durable store dropped to make room (its budget, its variant bound) is
// found by Liveness at the next hit, as for any entry it evicts. When the
// shard changed since epoch (read before the durable Commit), the list is
// dropped instead: an Update of e (same ID, so Liveness cannot tell) may
// have been made and read back into memory meanwhile, and e would undo it.
func (m *memTier) commitMeta(key string, e store.Entry, epoch uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := m.epochs[shard(key)] != epoch
	m.epochs[shard(key)]++
	old := m.metas[key]
	if old == nil {
		return
	}
	m.unlink(old)
	m.dropReplacedBodies(old.entries, e)
	if changed {
		return
	}
	es := make([]store.Entry, 0, len(old.entries)+1)
	cost := int64(len(key)) + itemOverhead + entryWeight(&e)
	for i := range old.entries {
		if old.entries[i].Variant != e.Variant {
			es = append(es, old.entries[i])
			cost += entryWeight(&old.entries[i])
		}
	}
	es = append(es, e)
	if m.max == 0 || cost > m.max/4 {
		return
	}
	it := &item{key: key, entries: es, cost: cost}
	m.metas[key] = it
	m.link(it)
}

// dropReplacedBodies forgets the bodies of the entries of es that e
// replaces in the durable store (the same Variant under another ID): a
// refetched object would otherwise leave a body in memory per refetch,
// which no lookup can reach again, until the budget pushed it out past
// bodies still in use. m.mu is held.
func (m *memTier) dropReplacedBodies(es []store.Entry, e store.Entry) {
	for i := range es {
		if es[i].Variant != e.Variant || es[i].ID == e.ID {
			continue
		}
		if b := m.bodies[es[i].ID]; b != nil {
			m.unlink(b)
		}
	}
}

// dropBody forgets the body of entry id, which the durable store no longer
// holds.
func (m *memTier) dropBody(id string) {
	m.mu.Lock()
	if b := m.bodies[id]; b != nil {
		m.unlink(b)
	}
	m.mu.Unlock()
}

// dropKeyAndBodies forgets key's variants and their bodies.
func (m *memTier) dropKeyAndBodies(key string) {
	m.mu.Lock()
	m.epochs[shard(key)]++
	if it := m.metas[key]; it != nil {
		m.unlinkWithBodies(it)
	}
	m.mu.Unlock()
}

// dropWhere forgets the variants, and their bodies, of every key match
// selects, and moves every epoch (a purge may touch keys not in memory).
func (m *memTier) dropWhere(match func(key string, es []store.Entry) bool) {
	m.mu.Lock()
	for i := range m.epochs {
		m.epochs[i]++
	}
	for key, it := range m.metas {
		if match(key, it.entries) {
			m.unlinkWithBodies(it)
		}
	}
	m.mu.Unlock()
}

func (m *memTier) clear() {
	m.mu.Lock()
	for i := range m.epochs {
		m.epochs[i]++
	}
	m.init(m.max)
	m.bytes = 0
	m.mu.Unlock()
}

func (m *memTier) totals() (int, int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.metas) + len(m.bodies), m.bytes
}

// link adds it as the most recent item and evicts the least recent ones
// beyond the budget. m.mu is held.
func (m *memTier) link(it *item) {
	it.prev, it.next = &m.root, m.root.next
	m.root.next.prev = it
	m.root.next = it
	m.bytes += it.cost
	for m.bytes > m.max && m.root.prev != &m.root {
		m.unlink(m.root.prev)
	}
}

// unlink removes it from the list and its map. m.mu is held.
func (m *memTier) unlink(it *item) {
	if it.prev == nil {
		return // already removed
	}
	it.prev.next, it.next.prev = it.next, it.prev
	it.prev, it.next = nil, nil
	m.bytes -= it.cost
	if it.isBody {
		delete(m.bodies, it.key)
	} else {
		delete(m.metas, it.key)
	}
}

// unlinkWithBodies removes a metadata item and the bodies of its entries.
// m.mu is held.
func (m *memTier) unlinkWithBodies(it *item) {
	m.unlink(it)
	for i := range it.entries {
		if b := m.bodies[it.entries[i].ID]; b != nil {
			m.unlink(b)
		}
	}
}

func (m *memTier) toFront(it *item) {
	if m.root.next == it {
		return
	}
	it.prev.next, it.next.prev = it.next, it.prev
	it.prev, it.next = &m.root, m.root.next
	m.root.next.prev = it
	m.root.next = it
}

// itemOverhead estimates an item's memory beyond its contents: the item,
// its map slot and list links.
const itemOverhead = 160

// entryWeight estimates the memory of e's metadata: its strings and the
// maps and slices that hold them.
func entryWeight(e *store.Entry) int64 {
	n := 400 + len(e.Key) + len(e.Variant) + len(e.ID) + len(e.Pair.Request.Method)
	if u := e.Pair.Request.URL; u != nil {
		n += 96 + len(u.Host) + len(u.Path) + len(u.RawQuery)
	}
	n += headerWeight(e.Pair.Request.Header) + headerWeight(e.Pair.Response.Header)
	for _, t := range e.Tags {
		n += len(t) + 16
	}
	return int64(n)
}

func headerWeight(h http.Header) int {
	n := 0
	for k, vs := range h {
		n += len(k) + 48
		for _, v := range vs {
			n += len(v) + 16
		}
	}
	return n
}
