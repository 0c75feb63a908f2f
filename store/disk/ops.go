package disk

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/cellar-http/cellar/store"
)

// frameBuffers hold the frames Lookup and Iterate read: what they return is
// decoded into fresh memory, so the buffer goes back at once.
var frameBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// errUnreadable marks a frame or record found damaged or not the one the
// in-memory index expects: its entry is dropped.
var errUnreadable = errors.New("disk store: unreadable index record")

// readEntry reads n's frame from the log and decodes it. It fails with an
// error wrapping errUnreadable when the frame's CRC, the record or its
// identity (index key and ID) is wrong. The caller holds s.ilog.mu shared
// or s.wmu, so that n's segment stays open.
func (s *Store) readEntry(n *node, bp *[]byte) (header, store.Entry, error) {
	payload, err := readFrame(n.seg, n.off, n.rlen, bp)
	if err != nil {
		if errors.Is(err, errBadFrame) {
			return header{}, store.Entry{}, fmt.Errorf("%w: %v", errUnreadable, err)
		}
		return header{}, store.Entry{}, fmt.Errorf("disk store: reading the index log: %w", err)
	}
	p, err := parsePut(payload)
	if err != nil || string(p.ik) != n.ikey {
		return header{}, store.Entry{}, fmt.Errorf("%w: not the put of %q", errUnreadable, n.ikey)
	}
	h, e, err := decodeRecord(p.rec)
	if err != nil || h.id != n.id {
		return h, e, fmt.Errorf("%w: record of %s: %v", errUnreadable, n.id, err)
	}
	return h, e, nil
}

// readMeta reads the marshalled entry that ends n's frame, and nothing
// else: not the header, which Open checked with the whole frame and whose
// fields are in n, nor an inline body, which Open of the body reads. The
// marshalled entry carries its own CRC-32C, which UnmarshalEntry checks,
// and must name n's Key, Variant and ID. A failure wraps errUnreadable,
// except an I/O error. The caller holds s.ilog.mu shared or s.wmu.
func (s *Store) readMeta(n *node, bp *[]byte) (store.Entry, error) {
	if n.metaLen <= 0 || n.metaLen > n.rlen {
		return store.Entry{}, fmt.Errorf("%w: no entry in the frame of %s", errUnreadable, n.id)
	}
	buf, err := n.seg.readAt(n.off+n.rlen-n.metaLen, n.metaLen, bp)
	if errors.Is(err, errBadFrame) {
		return store.Entry{}, fmt.Errorf("%w: the log ends before the record of %s", errUnreadable, n.id)
	}
	if err != nil {
		return store.Entry{}, fmt.Errorf("disk store: reading the index log: %w", err)
	}
	// UnmarshalEntry copies what it keeps: buf may alias the mapping.
	e, err := store.UnmarshalEntry(buf)
	if err != nil {
		return e, fmt.Errorf("%w: record of %s: %v", errUnreadable, n.id, err)
	}
	if e.ID != n.id || !isIndexKey(n.ikey, e.Key, e.Variant) {
		return e, fmt.Errorf("%w: the record at %s's place is another entry's", errUnreadable, n.id)
	}
	e.Pair.ID = e.ID
	return e, nil
}

// isIndexKey reports whether ik is the index key of key and variant.
func isIndexKey(ik, key, variant string) bool {
	// The first separator ends the escaped key, which hasKey matches.
	return hasKey(ik, key) && ik[len(keyPrefixOf(ik)):] == variant
}

// Lookup returns every live variant of key, in index-key order: the
// variants are found in memory and each one's entry is read from the log
// with one pread (readMeta) and checked against its CRC. Entries past their
// horizon are left out and handed to the sweeper, as are unreadable ones.
func (s *Store) Lookup(ctx context.Context, key string) ([]store.Entry, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.release()
	now := s.now().UnixNano()
	var vbuf [4]node
	// The shared lock keeps the segments the nodes name open until the
	// reads are done (compaction closes them under the exclusive lock).
	s.ilog.mu.RLock()
	vs := s.idx.variants(string(keyPrefix(key)), vbuf[:0])
	if len(vs) > 1 {
		slices.SortFunc(vs, func(a, b node) int { return strings.Compare(a.ikey, b.ikey) })
	}
	out := make([]store.Entry, 0, len(vs))
	var drops []drop
	var ioErr error
	bp := frameBuffers.Get().(*[]byte)
	for i := range vs {
		n := &vs[i]
		if n.expires != 0 && n.expires <= now {
			drops = append(drops, drop{id: n.id})
			continue
		}
		e, err := s.readMeta(n, bp)
		switch {
		case errors.Is(err, errUnreadable):
			s.log.Warn("dropping unreadable index record", "key", key, "err", err)
			drops = append(drops, drop{id: n.id, corrupt: true})
		case err != nil:
			ioErr = err
		default:
			out = append(out, e)
		}
	}
	frameBuffers.Put(bp)
	s.ilog.mu.RUnlock()
	if ioErr != nil {
		return nil, fmt.Errorf("disk store: lookup: %w", ioErr)
	}
	for _, d := range drops {
		select {
		case s.drops <- d:
		default: // the periodic sweep will get it
		}
	}
	if len(out) == 0 {
		s.misses.Add(1)
		return nil, nil
	}
	s.hits.Add(1)
	ids := make([]string, len(out))
	for i := range out {
		ids[i] = out[i].ID
	}
	s.idx.touch(ids, now)
	return out, nil
}

// Update replaces Pair and Expires of the stored entries of key whose IDs
// match those given, keeping their bodies, in one append to the log.
func (s *Store) Update(ctx context.Context, key string, entries []store.Entry) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	want := make(map[string]store.Entry, len(entries))
	for _, e := range entries {
		want[e.ID] = e
	}
	type change struct {
		n             node
		off, metaLen  int64 // of the frame in buf
		expires, cost int64
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var changes []change
	var buf []byte
	bp := frameBuffers.Get().(*[]byte)
	defer frameBuffers.Put(bp)
	for _, n := range s.idx.variants(string(keyPrefix(key)), nil) {
		nw, ok := want[n.id]
		if !ok {
			continue
		}
		h, old, err := s.readEntry(&n, bp)
		if err != nil {
			continue // Lookup drops it
		}
		old.Pair = nw.Pair
		old.Pair.ID = old.ID
		old.Expires = nw.Expires
		off := int64(len(buf))
		var metaLen int
		buf, metaLen = appendRecordFrame(buf, []byte(n.ikey), old, h.stored, h.inlineBody())
		frame := buf[off:]
		changes = append(changes, change{n: n, off: off, metaLen: int64(metaLen), expires: unixNano(old), cost: costOf(old.Size, h.inline, frame)})
	}
	if len(changes) == 0 {
		return nil
	}
	seg, off, err := s.appendLog(buf)
	if err != nil {
		return fmt.Errorf("disk store: update: %w", err)
	}
	now := s.now().UnixNano()
	for i, ch := range changes {
		end := int64(len(buf))
		if i+1 < len(changes) {
			end = changes[i+1].off
		}
		loc := node{seg: seg, off: off + ch.off, rlen: end - ch.off, metaLen: ch.metaLen}
		s.idx.update(ch.n.id, ch.expires, ch.cost, loc, now)
	}
	s.maybeCompact()
	return nil
}

// Delete removes every variant of key.
func (s *Store) Delete(ctx context.Context, key string) error {
	pre := string(keyPrefix(key))
	_, err := s.removeWhere(ctx, "delete", func() []node { return s.idx.variants(pre, nil) })
	return err
}

// PurgePrefix removes every entry whose key starts with prefix. It scans
// every key in memory: fine for an administrative operation, not for a
// request path.
func (s *Store) PurgePrefix(ctx context.Context, prefix string) (int, error) {
	p := string(appendEscaped(nil, prefix))
	return s.removeWhere(ctx, "purge prefix", func() []node { return s.idx.withPrefix(p) })
}

// PurgeTag removes every entry carrying tag.
func (s *Store) PurgeTag(ctx context.Context, tag string) (int, error) {
	return s.removeWhere(ctx, "purge tag", func() []node { return s.idx.tagged(tag) })
}

// removeWhere deletes, in one append, the entries collect returns (it runs
// with s.wmu held), and reports how many it removed.
func (s *Store) removeWhere(ctx context.Context, op string, collect func() []node) (int, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.release()
	s.wmu.Lock()
	nodes := collect()
	err := s.removeNodes(nodes)
	s.wmu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("disk store: %s: %w", op, err)
	}
	s.unlinkBodies(fileIDs(nodes))
	return len(nodes), nil
}

// removeNodes records the removal of nodes in one append, then drops them
// from memory. Their body files are the caller's to remove, once s.wmu is
// released. s.wmu is held.
func (s *Store) removeNodes(nodes []node) error {
	if len(nodes) == 0 {
		return nil
	}
	var buf []byte
	for _, n := range nodes {
		buf = appendDelete(buf, n.ikey, n.id)
	}
	if _, _, err := s.appendLog(buf); err != nil {
		return err
	}
	for _, n := range nodes {
		s.idx.remove(n.id)
	}
	s.maybeCompact()
	return nil
}

// fileIDs returns the IDs of the nodes whose body is in a file of its own.
func fileIDs(nodes []node) []string {
	var ids []string
	for _, n := range nodes {
		if !n.inline {
			ids = append(ids, n.id)
		}
	}
	return ids
}

// drop asks for the removal of one entry: an expired one (removed only if
// still expired) or a corrupt one.
type drop struct {
	id      string
	corrupt bool
}

// removeIDs removes the given entries, if still present, and counts the
// expired ones as evictions.
func (s *Store) removeIDs(ds []drop) {
	if s.acquire() != nil {
		return
	}
	defer s.release()
	now := s.now().UnixNano()
	s.wmu.Lock()
	var gone []node
	var expired int64
	for _, d := range ds {
		n, ok := s.idx.peek(d.id)
		if !ok || slices.ContainsFunc(gone, func(g node) bool { return g.id == d.id }) {
			continue
		}
		isExpired := n.expires != 0 && n.expires <= now
		if !d.corrupt && !isExpired {
			continue
		}
		gone = append(gone, n)
		if !d.corrupt {
			expired++
		}
	}
	err := s.removeNodes(gone)
	s.wmu.Unlock()
	if err != nil {
		s.log.Warn("removing entries", "err", err)
		return
	}
	s.evictions.Add(expired)
	s.unlinkBodies(fileIDs(gone))
}

// iterateBatch is how many entries Iterate reads from the log at a time. fn
// runs outside any lock, so it may call the store.
const iterateBatch = 256

// Iterate calls fn for every live entry, in index-key order.
func (s *Store) Iterate(ctx context.Context, fn func(store.Entry) bool) error {
	if err := s.acquire(); err != nil {
		return err
	}
	iks := s.idx.indexKeys()
	s.release()
	slices.Sort(iks)
	for len(iks) > 0 {
		if err := ctxErr(ctx); err != nil {
			return err
		}
		n := min(len(iks), iterateBatch)
		batch, err := s.readKeys(iks[:n])
		if err != nil {
			return err
		}
		iks = iks[n:]
		for _, e := range batch {
			if !fn(e) {
				return nil
			}
		}
	}
	return nil
}

// readKeys returns the live entries at the given index keys (those still
// indexed, readable and within their horizon).
func (s *Store) readKeys(iks []string) ([]store.Entry, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.release()
	now := s.now().UnixNano()
	var out []store.Entry
	bp := frameBuffers.Get().(*[]byte)
	defer frameBuffers.Put(bp)
	s.ilog.mu.RLock()
	defer s.ilog.mu.RUnlock()
	for _, ik := range iks {
		n, ok := s.idx.at(ik)
		if !ok || n.expires != 0 && n.expires <= now {
			continue
		}
		e, err := s.readMeta(&n, bp)
		if errors.Is(err, errUnreadable) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("disk store: iterate: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}
