package disk

import (
	"slices"
	"strings"
	"sync"
)

// node is the in-memory index entry of one Key+Variant: what Open, eviction
// and the expiry sweep need, and where its record is in the log (Lookup
// reads the rest from there).
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
	// lastAt is the time of the last use (or commit) in Unix nanoseconds,
	// kept up to date, for compaction to carry it into the rewritten record.
	lastAt int64
	tags   []string // Entry.Tags, for PurgeTag

	// Where the entry's frame is in the log: seg is nil only while the
	// node is not yet indexed.
	seg  *segment
	off  int64
	rlen int64
	// metaLen is the length of the marshalled entry that ends the frame
	// (with its own CRC-32C): Lookup reads only that, and an inline body
	// is the size bytes just before it.
	metaLen int64

	prev, next *node
}

// keyPrefixOf returns the index-key prefix (escaped Key and separator) of
// index key ik; it shares ik's memory.
func keyPrefixOf(ik string) string {
	i := strings.Index(ik, sep)
	if i < 0 {
		return ik
	}
	return ik[:i+len(sep)]
}

// lru maps entry IDs to nodes and keeps them in recency order. Its mutex is
// held only briefly: readers touch nodes, and changes are applied by holders
// of Store.wmu after the matching append to the log.
type lru struct {
	mu   sync.Mutex
	byID map[string]*node
	// keys maps an index-key prefix (see keyPrefixOf) to the variants of
	// that Key: Lookup's index. tags maps a tag to the entries carrying it.
	keys map[string][]*node
	tags map[string]map[*node]struct{}
	// frames is the log bytes of the live entries' frames: the rest of
	// the log is dead, for compaction to reclaim.
	frames int64
	root   node // sentinel: root.next is the most recent, root.prev the least
	bytes  int64
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
	l.keys = make(map[string][]*node)
	l.tags = make(map[string]map[*node]struct{})
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
		p.lastAt = now
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
			p.lastAt = now
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
	l.link(p)
	p.used = p.stored
	p.lastAt = p.stored
	l.lastUse = max(l.lastUse, p.stored)
}

// remove drops the entry with the given ID, if present.
func (l *lru) remove(id string) {
	l.mu.Lock()
	l.removeLocked(id)
	l.mu.Unlock()
}

func (l *lru) removeLocked(id string) {
	if p := l.byID[id]; p != nil {
		l.unlink(p)
		delete(l.used, id)
		p.prev.next = p.next
		p.next.prev = p.prev
		p.prev, p.next = nil, nil
	}
}

// replace drops the entries with the given IDs and inserts p as the most
// recent entry, at once: a Lookup never sees a Key between its old version
// and its new one, without either.
func (l *lru) replace(gone []string, p *node) {
	l.mu.Lock()
	for _, id := range gone {
		l.removeLocked(id)
	}
	l.link(p)
	p.lastAt = p.stored
	l.pushFront(p)
	l.use(p)
	l.mu.Unlock()
}

// update sets the expiry, cost and record of id after a metadata update (a
// use, at now).
func (l *lru) update(id string, expires, cost int64, loc node, now int64) {
	l.mu.Lock()
	if p := l.byID[id]; p != nil {
		l.bytes += cost - p.cost
		p.cost = cost
		p.expires = expires
		l.frames += loc.rlen - p.rlen
		p.seg, p.off, p.rlen, p.metaLen = loc.seg, loc.off, loc.rlen, loc.metaLen
		l.moveToFront(p)
		l.use(p)
		l.used[id] = now
		p.lastAt = now
	}
	l.mu.Unlock()
}

// link enters p in the maps (not the recency list) and counts its cost.
// l.mu is held, or the lru is not yet shared.
func (l *lru) link(p *node) {
	l.byID[p.id] = p
	l.bytes += p.cost
	l.frames += p.rlen
	pre := keyPrefixOf(p.ikey)
	l.keys[pre] = append(l.keys[pre], p)
	for _, t := range p.tags {
		set := l.tags[t]
		if set == nil {
			set = make(map[*node]struct{}, 1)
			l.tags[t] = set
		}
		set[p] = struct{}{}
	}
}

// unlink removes p from the maps and its cost from the total. l.mu is held.
func (l *lru) unlink(p *node) {
	delete(l.byID, p.id)
	l.bytes -= p.cost
	l.frames -= p.rlen
	pre := keyPrefixOf(p.ikey)
	vs := l.keys[pre]
	if i := slices.Index(vs, p); i >= 0 {
		vs = slices.Delete(vs, i, i+1)
	}
	if len(vs) == 0 {
		delete(l.keys, pre)
	} else {
		l.keys[pre] = vs
	}
	for _, t := range p.tags {
		if set := l.tags[t]; set != nil {
			delete(set, p)
			if len(set) == 0 {
				delete(l.tags, t)
			}
		}
	}
}

// variants appends copies of the nodes of the Key whose index-key prefix
// is pre to out.
func (l *lru) variants(pre string, out []node) []node {
	l.mu.Lock()
	for _, p := range l.keys[pre] {
		out = append(out, *p)
	}
	l.mu.Unlock()
	return out
}

// at returns a copy of the node at index key ik.
func (l *lru) at(ik string) (node, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.keys[keyPrefixOf(ik)] {
		if p.ikey == ik {
			return *p, true
		}
	}
	return node{}, false
}

// tagged returns copies of the nodes carrying tag.
func (l *lru) tagged(tag string) []node {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]node, 0, len(l.tags[tag]))
	for p := range l.tags[tag] {
		out = append(out, *p)
	}
	return out
}

// withPrefix returns copies of the nodes whose index key starts with p: a
// scan of every Key in memory, which PurgePrefix (an administrative
// operation) can afford.
func (l *lru) withPrefix(p string) []node {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []node
	for pre, vs := range l.keys {
		// p is an escaped key prefix: it holds no separator.
		if !strings.HasPrefix(pre, p) {
			continue
		}
		for _, n := range vs {
			if strings.HasPrefix(n.ikey, p) {
				out = append(out, *n)
			}
		}
	}
	return out
}

// move points id's node at a new copy of its frame (compaction), if the
// node is still at (from, off); cost changes with the frame's length.
func (l *lru) move(id string, from *segment, off int64, to node, cost int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.byID[id]
	if p == nil || p.seg != from || p.off != off {
		return false
	}
	l.bytes += cost - p.cost
	p.cost = cost
	l.frames += to.rlen - p.rlen
	p.seg, p.off, p.rlen = to.seg, to.off, to.rlen
	return true
}

// victims returns the least recent entries, skipping those in skip, whose
// costs add up to at least need and that are at least count in number.
func (l *lru) victims(need, count int64, skip map[string]bool) []node {
	var out []node
	l.mu.Lock()
	for p := l.root.prev; p != &l.root && (need > 0 || count > 0); p = p.prev {
		if skip[p.id] {
			continue
		}
		out = append(out, *p)
		need -= p.cost
		count--
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

// indexKeys returns the index key of every entry.
func (l *lru) indexKeys() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.byID))
	for _, p := range l.byID {
		out = append(out, p.ikey)
	}
	return out
}

// inSegments returns copies of the nodes whose frame is in one of segs.
func (l *lru) inSegments(segs []*segment) []node {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []node
	for _, p := range l.byID {
		if slices.Contains(segs, p.seg) {
			out = append(out, *p)
		}
	}
	return out
}

// liveFrames returns the log bytes of the live entries' frames.
func (l *lru) liveFrames() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.frames
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
