package store

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// codecVersion is the first byte of every encoding [MarshalEntry] produces.
// A decoder that meets another version reports ErrCorrupt, so a backend that
// finds metadata written by an incompatible release drops it like any other
// unreadable entry: for a cache, a miss is always a safe answer.
const codecVersion = 1

// crcSize is the length of the CRC-32C trailer that seals an encoding.
const crcSize = 4

// castagnoli is the CRC-32C table, shared with the body checksums.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MarshalEntry encodes every field of e in Cellar's compact, versioned binary
// form, for backends that keep metadata as bytes (disk, Redis). The layout
// (version 1) is, in order:
//
//	version      byte (1)
//	Key, Variant, ID, Pair.ID, Pair.Request.Method        string
//	Pair.Request.URL         optional string (URL.String())
//	Pair.Request.Header      header
//	Pair.Response.Status     varint
//	RequestTime, ResponseTime time
//	Pair.Response.Header     header
//	Size                     varint
//	Checksum                 4 bytes, little endian
//	Expires                  time
//	Tags                     uvarint count, then that many strings
//	CRC-32C of all the above 4 bytes, little endian
//
// where a string is a uvarint length then its bytes; an optional string is a
// uvarint length+1 then its bytes, 0 meaning nil; a header is uvarint
// (number of names + 1), 0 meaning a nil header, then the total number of
// values, then per name (sorted, so equal entries encode equally) the name,
// its number of values and the values in order; a time is a byte 0 for the
// zero time, or 1 followed by the varint UnixNano.
//
// Times keep their instant only (not their location or monotonic reading),
// and must lie within the years 1678 to 2262 that UnixNano covers.
func MarshalEntry(e Entry) []byte { return AppendEntry(nil, e) }

// AppendEntry appends MarshalEntry(e) to b, growing b at most once, and
// not at all when b has EncodedSizeBound(e) bytes free: a backend that
// frames the encoding builds its record in one buffer.
func AppendEntry(b []byte, e Entry) []byte {
	p := &e.Pair
	var u string
	if p.Request.URL != nil {
		u = p.Request.URL.String()
	}
	b = slices.Grow(b, sizeWithoutURL(e)+strSize(u))
	start := len(b)
	b = append(b, codecVersion)
	b = appendString(b, e.Key)
	b = appendString(b, e.Variant)
	b = appendString(b, e.ID)
	b = appendString(b, p.ID)
	b = appendString(b, p.Request.Method)
	if p.Request.URL == nil {
		b = append(b, 0)
	} else {
		b = binary.AppendUvarint(b, uint64(len(u))+1)
		b = append(b, u...)
	}
	b = appendHeader(b, p.Request.Header)
	b = binary.AppendVarint(b, int64(p.Response.Status))
	b = appendTime(b, p.Response.RequestTime)
	b = appendTime(b, p.Response.ResponseTime)
	b = appendHeader(b, p.Response.Header)
	b = binary.AppendVarint(b, e.Size)
	b = binary.LittleEndian.AppendUint32(b, e.Checksum)
	b = appendTime(b, e.Expires)
	b = binary.AppendUvarint(b, uint64(len(e.Tags)))
	for _, t := range e.Tags {
		b = appendString(b, t)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// EncodedSizeBound bounds the length of MarshalEntry(e) without encoding
// it.
func EncodedSizeBound(e Entry) int {
	return sizeWithoutURL(e) + binary.MaxVarintLen64 + urlSizeBound(e.Pair.Request.URL)
}

// sizeWithoutURL bounds the length of MarshalEntry(e) but for its URL.
func sizeWithoutURL(e Entry) int {
	p := &e.Pair
	n := 1 + crcSize + 4 + 3*(1+binary.MaxVarintLen64) + 3*binary.MaxVarintLen64 +
		strSize(e.Key) + strSize(e.Variant) + strSize(e.ID) + strSize(p.ID) +
		strSize(p.Request.Method) + headerSize(p.Request.Header) + headerSize(p.Response.Header)
	for _, t := range e.Tags {
		n += strSize(t)
	}
	return n
}

// urlSizeBound bounds len(u.String()): each part at most tripled by
// escaping, and the separators.
func urlSizeBound(u *url.URL) int {
	if u == nil {
		return 0
	}
	n := len(u.Scheme) + 3*(len(u.Opaque)+len(u.Host)+len(u.Path)+len(u.RawPath)+len(u.RawQuery)+len(u.Fragment)+len(u.RawFragment)) + 16
	if u.User != nil {
		n += 3 * len(u.User.String())
	}
	return n
}

func strSize(s string) int { return binary.MaxVarintLen64 + len(s) }

func headerSize(h http.Header) int {
	n := 2 * binary.MaxVarintLen64
	for k, vs := range h {
		n += strSize(k) + binary.MaxVarintLen64
		for _, v := range vs {
			n += strSize(v)
		}
	}
	return n
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	return binary.AppendVarint(append(b, 1), t.UnixNano())
}

func appendHeader(b []byte, h http.Header) []byte {
	if h == nil {
		return append(b, 0)
	}
	var arr [24]string // names of a usual header, sorted without an allocation
	names := arr[:0]
	total := 0
	for k, vs := range h {
		names = append(names, k)
		total += len(vs)
	}
	slices.Sort(names)
	b = binary.AppendUvarint(b, uint64(len(names))+1)
	b = binary.AppendUvarint(b, uint64(total))
	for _, k := range names {
		vs := h[k]
		b = appendString(b, k)
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = appendString(b, v)
		}
	}
	return b
}

// UnmarshalEntry decodes what [MarshalEntry] encoded. Any input it cannot
// decode exactly (truncated, altered, trailing bytes, another version) yields
// an error wrapping ErrCorrupt; it never panics, and it never allocates more
// than a small multiple of len(b), whatever lengths the input claims.
//
// Decoding is one pass: b is converted to a string once and every string in
// the entry (key, header names and values, tags) is a substring of it, so a
// decoded Entry retains that one copy of b, and never b itself.
func UnmarshalEntry(b []byte) (Entry, error) {
	if len(b) < 1+crcSize {
		return Entry{}, corrupt("%d bytes is too short", len(b))
	}
	if b[0] != codecVersion {
		return Entry{}, corrupt("unknown version %d", b[0])
	}
	body := b[:len(b)-crcSize]
	if sum := binary.LittleEndian.Uint32(b[len(body):]); sum != crc32.Checksum(body, castagnoli) {
		return Entry{}, corrupt("metadata checksum mismatch")
	}
	return decodeEntry(string(body[1:]))
}

// decodeEntry decodes the fields that follow the version byte, up to the
// CRC trailer, which the caller has checked.
func decodeEntry(s string) (Entry, error) {
	d := decoder{s: s}
	var e Entry
	p := &e.Pair
	e.Key = d.str()
	e.Variant = d.str()
	e.ID = d.str()
	p.ID = d.str()
	p.Request.Method = d.str()
	if n := d.uvarint(); n > 0 {
		raw := d.bytes(n - 1)
		if d.err == nil {
			u, err := url.Parse(raw)
			if err != nil {
				return Entry{}, corrupt("request URL: %v", err)
			}
			p.Request.URL = u
		}
	}
	p.Request.Header = d.header()
	status := d.varint()
	if status < math.MinInt32 || status > math.MaxInt32 {
		d.fail("status %d out of range", status)
	}
	p.Response.Status = int(status)
	p.Response.RequestTime = d.time()
	p.Response.ResponseTime = d.time()
	p.Response.Header = d.header()
	e.Size = d.varint()
	e.Checksum = d.fixed32()
	e.Expires = d.time()
	if n := d.count(); n > 0 {
		e.Tags = make([]string, n)
		for i := range e.Tags {
			e.Tags[i] = d.str()
		}
	}
	if d.err == nil && d.i != len(d.s) {
		d.fail("%d trailing bytes", len(d.s)-d.i)
	}
	if d.err != nil {
		return Entry{}, d.err
	}
	return e, nil
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: decoding metadata: "+format, append([]any{ErrCorrupt}, args...)...)
}

// decoder reads s from offset i. The first error sticks: every later read
// returns a zero value, so the caller checks err once at the end.
type decoder struct {
	s   string
	i   int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = corrupt(format+" at offset %d", append(args, d.i+1)...)
	}
	d.i = len(d.s)
}

func (d *decoder) uvarint() uint64 {
	var x uint64
	var shift uint
	for j := d.i; j < len(d.s); j++ {
		c := d.s[j]
		if j-d.i == binary.MaxVarintLen64-1 && c > 1 {
			d.fail("varint overflows 64 bits")
			return 0
		}
		if c < 0x80 {
			d.i = j + 1
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	d.fail("truncated varint")
	return 0
}

func (d *decoder) varint() int64 {
	ux := d.uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

// count reads a number of items that each take at least one more byte, so
// it bounds any allocation sized from it by the input's length.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.s)-d.i) {
		d.fail("count %d exceeds the %d bytes left", n, len(d.s)-d.i)
		return 0
	}
	return int(n)
}

func (d *decoder) bytes(n uint64) string {
	if n > uint64(len(d.s)-d.i) {
		d.fail("length %d exceeds the %d bytes left", n, len(d.s)-d.i)
		return ""
	}
	s := d.s[d.i : d.i+int(n)]
	d.i += int(n)
	return s
}

func (d *decoder) str() string { return d.bytes(d.uvarint()) }

func (d *decoder) fixed32() uint32 {
	if len(d.s)-d.i < 4 {
		d.fail("truncated checksum")
		return 0
	}
	s := d.s[d.i:]
	d.i += 4
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

func (d *decoder) time() time.Time {
	if d.i >= len(d.s) {
		d.fail("truncated time")
		return time.Time{}
	}
	flag := d.s[d.i]
	d.i++
	switch flag {
	case 0:
		return time.Time{}
	case 1:
		n := d.varint()
		if d.err != nil {
			return time.Time{}
		}
		return time.Unix(0, n).UTC()
	default:
		d.i--
		d.fail("bad time flag %d", flag)
		return time.Time{}
	}
}

// header decodes a header whose values all share one backing array: each
// name's slice is capped at its own length, so a caller appending to one
// name's values reallocates instead of overwriting the next name's.
func (d *decoder) header() http.Header {
	n := d.count()
	if n == 0 {
		return nil
	}
	n--
	total := d.count()
	if d.err != nil {
		return nil
	}
	h := make(http.Header, n)
	all := make([]string, total)
	next := 0
	for range n {
		name := d.str()
		c := d.count()
		if d.err != nil {
			return nil
		}
		if c > total-next {
			d.fail("header %q has more values than the %d announced", name, total)
			return nil
		}
		if _, dup := h[name]; dup {
			d.fail("header %q repeated", name)
			return nil
		}
		vs := all[next : next+c : next+c]
		for j := range vs {
			vs[j] = d.str()
		}
		next += c
		h[name] = vs
	}
	if next != total {
		d.fail("header has %d values, %d announced", next, total)
		return nil
	}
	return h
}
