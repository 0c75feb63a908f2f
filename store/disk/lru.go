package disk

import "sync"

// node is the in-memory shadow of one indexed entry: what Open, eviction and
// the expiry sweep need without reading bbolt.
type node struct {
	id      string
	ikey    string // index key: escaped Key, separator, Variant
	size    int64  // body bytes
	cost    int64  // size plus the index record, counted against the budget
	crc     uint32 // CRC-32C of the body
	expires int64  // Entry.Expires in Unix nanoseconds; 0 for none
	used    int64  // last commit, open or update: orders a key's variants (see lru.use)
	inline  bool   // the body is in the index record, not a file
	// verified: the body file matched its checksum when written or since
	// the store was opened, and may be served unchecked (sendfile).
	verified bool
	stored   int64 // last use (or commit) in Unix nanoseconds, as of Open: the initial recency order

	prev, next *node
}

// lru maps entry IDs to nodes and keeps them in recency order. Its mutex is
// held only briefly: readers touch nodes, and changes are applied by holders
// of Store.wmu after the matching bbolt transaction has committed.
type lru struct {
	mu    sync.Mutex
	byID  map[string]*node
	root  node // sentinel: root.next is the most recent, root.prev the least
	bytes int64
	// lastUse is the latest node.used handed out. Uses after a restart
	// count up from the latest commit time, so they order after every
	// recovered entry, whose used is its commit time.
	lastUse int64
	// used holds the IDs used since the last flush of recency to the
	// index (see recency.go), with the time of their last use.
	used map[string]int64
}

func (l *lru) init() {
	l.byID = make(map[string]*node)
	l.used = make(map[string]int64)
	l.root.next = &l.root
	l.root.prev = &l.root
}

// get returns the node of id, marking it used at now.
func (l *lru) get(id string, now int64) (n node, ok bool) {
	l.mu.Lock()
	p := l.byID[id]
	if p != nil {
		l.moveToFront(p)
		l.use(p)
		l.used[id] = now
		n = *p
	}
	l.mu.Unlock()
	return n, p != nil
}

// use marks p as its key's most recently used variant; l.mu is held. Only
// Open, Update and Commit use a variant: a Lookup returns all of a key's
// variants and touches them all in the list, but uses none.
func (l *lru) use(p *node) {
	l.lastUse++
	p.used = l.lastUse
}

// peek returns a copy of the node of id without touching its recency.
func (l *lru) peek(id string) (n node, ok bool) {
	l.mu.Lock()
	p := l.byID[id]
	if p != nil {
		n = *p
	}
	l.mu.Unlock()
	return n, p != nil
}

// touch marks the entries with the given IDs as used at now.
func (l *lru) touch(ids []string, now int64) {
	l.mu.Lock()
	for _, id := range ids {
		if p := l.byID[id]; p != nil {
			l.moveToFront(p)
			l.used[id] = now
		}
	}
	l.mu.Unlock()
}

func (l *lru) moveToFront(p *node) {
	if l.root.next == p {
		return
	}
	p.prev.next = p.next
	p.next.prev = p.prev
	l.pushFront(p)
}

func (l *lru) pushFront(p *node) {
	p.prev = &l.root
	p.next = l.root.next
	l.root.next.prev = p
	l.root.next = p
}

// pushBackLocked appends p as the least recent entry (used when rebuilding
// the list at Open, oldest last).
func (l *lru) pushBackLocked(p *node) {
	p.next = &l.root
	p.prev = l.root.prev
	l.root.prev.next = p
	l.root.prev = p
	l.byID[p.id] = p
	l.bytes += p.cost
	p.used = p.stored
	l.lastUse = max(l.lastUse, p.stored)
}

// add inserts p as the most recent entry.
func (l *lru) add(p *node) {
	l.mu.Lock()
	l.byID[p.id] = p
	l.bytes += p.cost
	l.pushFront(p)
	l.use(p)
	l.mu.Unlock()
}

// remove drops the entry with the given ID, if present.
func (l *lru) remove(id string) {
	l.mu.Lock()
	if p := l.byID[id]; p != nil {
		delete(l.byID, id)
		delete(l.used, id)
		l.bytes -= p.cost
		p.prev.next = p.next
		p.next.prev = p.prev
		p.prev, p.next = nil, nil
	}
	l.mu.Unlock()
}

// update sets the expiry and cost of id after a metadata update (a use,
// at now).
func (l *lru) update(id string, expires, cost, now int64) {
	l.mu.Lock()
	if p := l.byID[id]; p != nil {
		l.bytes += cost - p.cost
		p.cost = cost
		p.expires = expires
		l.moveToFront(p)
		l.use(p)
		l.used[id] = now
	}
	l.mu.Unlock()
}

// victims returns the least recent entries, skipping those in skip, whose
// costs add up to at least need.
func (l *lru) victims(need int64, skip map[string]bool) []node {
	var out []node
	l.mu.Lock()
	for p := l.root.prev; p != &l.root && need > 0; p = p.prev {
		if skip[p.id] {
			continue
		}
		out = append(out, *p)
		need -= p.cost
	}
	l.mu.Unlock()
	return out
}

// expiredBefore returns the entries whose horizon is at or before now.
func (l *lru) expiredBefore(now int64) []node {
	var out []node
	l.mu.Lock()
	for _, p := range l.byID {
		if p.expires != 0 && p.expires <= now {
			out = append(out, *p)
		}
	}
	l.mu.Unlock()
	return out
}

func (l *lru) totals() (entries, bytes int64) {
	l.mu.Lock()
	entries, bytes = int64(len(l.byID)), l.bytes
	l.mu.Unlock()
	return entries, bytes
}

// takeUsed returns the uses recorded since the last call, oldest unknown,
// and starts a new record.
func (l *lru) takeUsed() map[string]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	u := l.used
	if len(u) == 0 {
		// Not the map itself: touch goes on writing it, and the caller
		// reads what it is given without the lock.
		return nil
	}
	l.used = make(map[string]int64, len(u))
	return u
}

// putBackUsed merges uses that could not be flushed into the record, keeping
// the later time of each.
func (l *lru) putBackUsed(u map[string]int64) {
	l.mu.Lock()
	for id, t := range u {
		if _, live := l.byID[id]; live && t > l.used[id] {
			l.used[id] = t
		}
	}
	l.mu.Unlock()
}

// setVerified records that the body of id matched its checksum.
func (l *lru) setVerified(id string) {
	l.mu.Lock()
	if p := l.byID[id]; p != nil {
		p.verified = true
	}
	l.mu.Unlock()
}
