package redis

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cellar-http/cellar/store"
)

// hashTag returns the hash tag of a primary key: 16 hex digits of its
// SHA-256. Every key of one primary key contains "{h}", so Redis Cluster puts
// them in one slot and a script can change them atomically. Two primary keys
// with one tag (about one chance in 2^64 per pair) share a meta hash; lookups
// compare the stored Key, so they never see each other's entries.
func hashTag(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:8])
}

// metaKey is the hash that maps each variant of one primary key to its
// metadata.
func (s *Store) metaKey(h string) string { return s.opts.Prefix + "{" + h + "}:m" }

// chunkKey is the n-th chunk of body id.
func (s *Store) chunkKey(h, id string, n int) string {
	return s.opts.Prefix + "{" + h + "}:b:" + id + ":" + strconv.Itoa(n)
}

// tagKey is the set of the primary keys that stored an entry carrying tag.
func (s *Store) tagKey(tag string) string { return s.opts.Prefix + "tag:" + tag }

// The budget keys of one "budget base": in standalone mode there is one
// base, the prefix itself, so the keys are global; in cluster mode there is
// one base per slot, "<prefix>{<slot tag>}:", whose hash tag maps to that
// slot, so a script on an entry reaches its slot's budget keys atomically and
// no key is hot for the whole cache.
//
//	lru   sorted set: hash tag → last lookup or commit (unix ms)
//	sz    hash: hash tag → "<bytes> <entries> <primary key>"
//	idx   sorted set, all scores 0: primary keys, for prefix purge by range
//	stat  hash: bytes, entries (totals of sz), seq (orders replies)
func budgetKeys(base string) []string {
	return []string{base + "lru", base + "sz", base + "idx", base + "stat"}
}

// budgetBase returns the budget base of hash tag h.
func (s *Store) budgetBase(h string) string {
	if !s.cluster {
		return s.opts.Prefix
	}
	return s.opts.Prefix + "{" + slotTags()[keySlot(h)] + "}:"
}

// baseIndex returns the index of h's budget base in bases().
func (s *Store) baseIndex(h string) int {
	if !s.cluster {
		return 0
	}
	return keySlot(h)
}

// bases returns every budget base.
func (s *Store) bases() []string {
	if !s.cluster {
		return []string{s.opts.Prefix}
	}
	tags := slotTags()
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = s.opts.Prefix + "{" + t + "}:"
	}
	return out
}

// scriptKeys returns the KEYS of a script on hash tag h: its meta hash,
// then its budget keys.
func (s *Store) scriptKeys(h string) []string {
	return append([]string{s.metaKey(h)}, budgetKeys(s.budgetBase(h))...)
}

// numSlots is the number of Redis Cluster hash slots.
const numSlots = 16384

// keySlot is the cluster slot of a hash tag: CRC-16/XMODEM mod 16384.
func keySlot(tag string) int {
	var crc uint16
	for i := 0; i < len(tag); i++ {
		crc ^= uint16(tag[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % numSlots
}

// slotTags maps each slot to a short hash tag ("s" and a number) in it.
var slotTags = sync.OnceValue(func() []string {
	tags := make([]string, numSlots)
	left := numSlots
	for i := 0; left > 0; i++ {
		t := "s" + strconv.Itoa(i)
		if sl := keySlot(t); tags[sl] == "" {
			tags[sl] = t
			left--
		}
	}
	return tags
})

// scriptArgs returns the common ARGV of a script on key, then extra.
func (s *Store) scriptArgs(key, h string, now time.Time, extra ...string) []string {
	args := make([]string, 0, 5+len(extra))
	args = append(args, s.opts.Prefix, h, key,
		strconv.FormatInt(now.UnixMilli(), 10),
		strconv.FormatInt(s.opts.Grace.Milliseconds(), 10))
	return append(args, extra...)
}

// header is the part of a meta value the scripts read: what they need to
// find a version's chunks, account for its size, expire it and match tags.
type header struct {
	id        string
	chunkSize int
	chunks    int
	size      int64
	deadline  int64 // unix ms: past it the version is not served
}

// encodeValue builds a meta value: the header, then store.MarshalEntry(e).
func encodeValue(hd header, e store.Entry) string {
	var b strings.Builder
	b.WriteString("C1 ")
	b.WriteString(hd.id)
	for _, n := range []int64{int64(hd.chunkSize), int64(hd.chunks), hd.size, hd.deadline, int64(len(e.Tags))} {
		b.WriteByte(' ')
		b.WriteString(strconv.FormatInt(n, 10))
	}
	b.WriteByte(' ')
	for _, t := range e.Tags {
		b.WriteString(strconv.Itoa(len(t)))
		b.WriteByte(':')
		b.WriteString(t)
	}
	b.WriteByte('\n')
	b.Write(store.MarshalEntry(e))
	return b.String()
}

var errBadHeader = fmt.Errorf("%w: bad metadata header", store.ErrCorrupt)

// decodeHeader parses the header of a meta value and returns the rest after
// the tags, which is the marshaled entry.
func decodeHeader(v string) (header, string, error) {
	var hd header
	rest, ok := strings.CutPrefix(v, "C1 ")
	if !ok {
		return hd, "", errBadHeader
	}
	var fields [6]string
	for i := range fields {
		f, r, ok := strings.Cut(rest, " ")
		if !ok || f == "" {
			return hd, "", errBadHeader
		}
		fields[i], rest = f, r
	}
	hd.id = fields[0]
	var nums [5]int64
	for i := range nums {
		n, err := strconv.ParseInt(fields[i+1], 10, 64)
		if err != nil || n < 0 {
			return hd, "", errBadHeader
		}
		nums[i] = n
	}
	hd.chunkSize, hd.chunks, hd.size, hd.deadline = int(nums[0]), int(nums[1]), nums[2], nums[3]
	for range nums[4] {
		l, r, ok := strings.Cut(rest, ":")
		n, err := strconv.Atoi(l)
		if !ok || err != nil || n < 0 || n > len(r) {
			return hd, "", errBadHeader
		}
		rest = r[n:]
	}
	rest, ok = strings.CutPrefix(rest, "\n")
	if !ok || hd.chunkSize <= 0 {
		return hd, "", errBadHeader
	}
	return hd, rest, nil
}

// decodeValue parses a whole meta value.
func decodeValue(v string) (header, store.Entry, error) {
	hd, rest, err := decodeHeader(v)
	if err != nil {
		return hd, store.Entry{}, err
	}
	e, err := store.UnmarshalEntry([]byte(rest))
	if err != nil {
		return hd, e, err
	}
	if e.ID != hd.id || e.Size != hd.size {
		return hd, e, errors.Join(errBadHeader, errors.New("header disagrees with entry"))
	}
	e.Pair.ID = e.ID
	return hd, e, nil
}
