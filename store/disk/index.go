package disk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/cellar-http/cellar/store"
)

// The index has two buckets.
//
// "entries" maps an index key, escaped(Key) + sep + Variant, to a record:
// a small fixed header (what Open, eviction and expiry need, readable without
// decoding the rest) followed by store.MarshalEntry of the entry. All variants
// of a Key are adjacent, so Lookup is one cursor seek and a short scan in one
// read transaction, and PurgePrefix is a range scan.
//
// "tags" maps escaped(tag) + sep + index key to the entry ID, so PurgeTag is
// a range scan too. A tag record whose ID no longer matches the entry is
// stale and ignored (and removed at Open).
//
// Escaping doubles as framing: a NUL byte in a key or tag is written as
// 0x00 0xFF, and sep is 0x00 0x00, so the first sep always ends the key and
// escaping preserves prefixes (escaped(p) prefixes escaped(k) exactly when
// p prefixes k).
var (
	bucketEntries = []byte("entries")
	bucketTags    = []byte("tags")
)

const sep = "\x00\x00"

// The first byte of every record is its version; records of another
// version are dropped at Open (a release that predates inline bodies drops
// the records that hold one, and keeps the others).
const (
	// recVersion: the body is in a file of its own, bodies/xx/<id>.
	recVersion = 1
	// recVersionInline: the body (of header.size bytes) follows the ID, in
	// the record itself, so that committing it creates no file.
	recVersionInline = 2
)

// appendEscaped appends s with every NUL byte written as 0x00 0xFF.
func appendEscaped(b []byte, s string) []byte {
	if strings.IndexByte(s, 0) < 0 {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		b = append(b, s[i])
		if s[i] == 0 {
			b = append(b, 0xFF)
		}
	}
	return b
}

// keyPrefix is the index-key prefix shared by all variants of key.
func keyPrefix(key string) []byte {
	b := make([]byte, 0, len(key)+len(sep)+16)
	return append(appendEscaped(b, key), sep...)
}

// indexKey is the index key of key's variant.
func indexKey(key, variant string) []byte {
	return append(keyPrefix(key), variant...)
}

// splitIndexKey returns the Key (unescaped) and Variant of an index key.
func splitIndexKey(ik []byte) (key, variant string, ok bool) {
	i := bytes.Index(ik, []byte(sep))
	if i < 0 {
		return "", "", false
	}
	return unescape(ik[:i]), string(ik[i+len(sep):]), true
}

func unescape(b []byte) string {
	if bytes.IndexByte(b, 0) < 0 {
		return string(b)
	}
	return string(bytes.ReplaceAll(b, []byte{0, 0xFF}, []byte{0}))
}

// tagKey is the tags-bucket key linking tag to the entry at ik.
func tagKey(tag string, ik []byte) []byte {
	b := make([]byte, 0, len(tag)+len(sep)+len(ik))
	b = appendEscaped(b, tag)
	b = append(b, sep...)
	return append(b, ik...)
}

// header is the fixed part of a record.
type header struct {
	stored  int64
	expires int64
	size    int64
	crc     uint32
	id      string
	inline  bool
	body    []byte // an inline body; it aliases the record
}

var errBadRecord = errors.New("disk store: malformed index record")

// encodeRecord builds the record of e, whose ID, Size and Checksum are set.
// A non-nil inline is the body, kept in the record (len(inline) == e.Size).
func encodeRecord(e store.Entry, stored int64, inline []byte) []byte {
	meta := store.MarshalEntry(e)
	b := make([]byte, 0, 1+3*binary.MaxVarintLen64+4+1+len(e.ID)+len(inline)+len(meta))
	if inline != nil {
		b = append(b, recVersionInline)
	} else {
		b = append(b, recVersion)
	}
	b = binary.AppendVarint(b, stored)
	b = binary.AppendVarint(b, unixNano(e))
	b = binary.AppendVarint(b, e.Size)
	b = binary.LittleEndian.AppendUint32(b, e.Checksum)
	b = binary.AppendUvarint(b, uint64(len(e.ID)))
	b = append(b, e.ID...)
	b = append(b, inline...)
	return append(b, meta...)
}

func unixNano(e store.Entry) int64 {
	if e.Expires.IsZero() {
		return 0
	}
	return e.Expires.UnixNano()
}

// parseHeader reads the fixed part of a record and returns it with the
// remaining bytes (the marshalled entry).
func parseHeader(v []byte) (h header, rest []byte, err error) {
	if len(v) < 1 || v[0] != recVersion && v[0] != recVersionInline {
		return h, nil, errBadRecord
	}
	h.inline = v[0] == recVersionInline
	v = v[1:]
	var n int
	if h.stored, n = binary.Varint(v); n <= 0 {
		return h, nil, errBadRecord
	}
	v = v[n:]
	if h.expires, n = binary.Varint(v); n <= 0 {
		return h, nil, errBadRecord
	}
	v = v[n:]
	if h.size, n = binary.Varint(v); n <= 0 || h.size < 0 {
		return h, nil, errBadRecord
	}
	v = v[n:]
	if len(v) < 4 {
		return h, nil, errBadRecord
	}
	h.crc = binary.LittleEndian.Uint32(v)
	v = v[4:]
	idLen, n := binary.Uvarint(v)
	if n <= 0 || uint64(len(v)-n) < idLen {
		return h, nil, errBadRecord
	}
	h.id = string(v[n : n+int(idLen)])
	if !validID(h.id) {
		return h, nil, errBadRecord
	}
	rest = v[n+int(idLen):]
	if h.inline {
		if int64(len(rest)) < h.size {
			return h, nil, errBadRecord
		}
		h.body, rest = rest[:h.size:h.size], rest[h.size:]
	}
	return h, rest, nil
}

// inlineBody returns h's body for encodeRecord: nil when it is in a file.
func (h header) inlineBody() []byte {
	if !h.inline {
		return nil
	}
	if h.body == nil {
		return []byte{}
	}
	return h.body
}

// decodeRecord decodes a whole record into an Entry.
func decodeRecord(v []byte) (header, store.Entry, error) {
	h, rest, err := parseHeader(v)
	if err != nil {
		return h, store.Entry{}, err
	}
	e, err := store.UnmarshalEntry(rest)
	if err != nil {
		return h, e, err
	}
	e.Pair.ID = e.ID
	return h, e, nil
}

// idLen is the length of an entry ID: 128 random bits in hex.
const idLen = 32

func validID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// recordCost is what an entry counts against the budget: its body and its
// index record (which holds an inline body already).
func recordCost(size int64, ik, rec []byte) int64 {
	return size + int64(len(ik)+len(rec))
}

// costOf is recordCost for an entry whose body may be inline.
func costOf(size int64, inline bool, ik, rec []byte) int64 {
	if inline {
		return int64(len(ik) + len(rec))
	}
	return recordCost(size, ik, rec)
}

// deleteEntry removes the entry at ik, whose record is rec, and its tag
// records. It returns the entry's header (id) when the record was readable.
func deleteEntry(tx *bolt.Tx, ik, rec []byte) error {
	if _, e, err := decodeRecord(rec); err == nil {
		tb := tx.Bucket(bucketTags)
		for _, t := range e.Tags {
			if err := tb.Delete(tagKey(t, ik)); err != nil {
				return err
			}
		}
	}
	return tx.Bucket(bucketEntries).Delete(ik)
}

// putTags indexes e's tags for the entry at ik.
func putTags(tx *bolt.Tx, ik []byte, e store.Entry) error {
	tb := tx.Bucket(bucketTags)
	for _, t := range e.Tags {
		if err := tb.Put(tagKey(t, ik), []byte(e.ID)); err != nil {
			return err
		}
	}
	return nil
}
