package disk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"strings"

	"github.com/cellar-http/cellar/store"
)

// An index key is escaped(Key) + sep + Variant. Escaping doubles as
// framing: a NUL byte in a key is written as 0x00 0xFF, and sep is
// 0x00 0x00, so the first sep always ends the key and escaping preserves
// prefixes (escaped(p) prefixes escaped(k) exactly when p prefixes k):
// PurgePrefix matches escaped prefixes against the index keys in memory.
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
	rec, _ := encodeRecordMeta(e, stored, inline)
	return rec
}

// encodeRecordMeta is encodeRecord that also returns the length of the
// marshalled entry, which ends the record (see node.metaLen).
func encodeRecordMeta(e store.Entry, stored int64, inline []byte) ([]byte, int) {
	return appendRecord(make([]byte, 0, recordHeadSize(e, inline)), e, stored, inline)
}

// recordHeadSize bounds the length of a record's bytes before its
// marshalled entry.
func recordHeadSize(e store.Entry, inline []byte) int {
	return 1 + 4*binary.MaxVarintLen64 + 4 + len(e.ID) + len(inline)
}

// appendRecord appends the record of e (see encodeRecord) to b, and
// returns the length of its marshalled entry too.
func appendRecord(b []byte, e store.Entry, stored int64, inline []byte) ([]byte, int) {
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
	n := len(b)
	b = store.AppendEntry(b, e)
	return b, len(b) - n
}

// appendRecordFrame appends the frame of a put at ik of e's record to b,
// in place (appendPutFrame without the record's own buffer), and returns
// the length of its marshalled entry too.
func appendRecordFrame(b, ik []byte, e store.Entry, stored int64, inline []byte) ([]byte, int) {
	start := len(b)
	b = slices.Grow(b, frameHeader+putHeadSize(ik, e.Tags)+recordHeadSize(e, inline)+store.EncodedSizeBound(e))
	b = appendPutHead(append(b, make([]byte, frameHeader)...), ik, e.Tags)
	b, metaLen := appendRecord(b, e, stored, inline)
	return sealFrame(b, start), metaLen
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

// recordCost is what an entry of size body bytes, whose index key and
// record are ik and rec, counts against the budget, before its frame is
// built (Create's check of a declared length).
func recordCost(size int64, ik, rec []byte) int64 {
	return size + int64(frameHeader+1+2*binary.MaxVarintLen32+len(ik)+len(rec))
}

// costOf is what an entry counts against the budget: its frame in the log
// (which holds an inline body already) plus its body file, if any.
func costOf(size int64, inline bool, frame []byte) int64 {
	if inline {
		return int64(len(frame))
	}
	return size + int64(len(frame))
}
