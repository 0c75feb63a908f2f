package disk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The index log.
//
// Every change to the index is appended to dir/log/<seq>.log, the active
// segment; a segment is sealed (never written again) once it reaches
// segmentMax bytes and a new one, seq+1, becomes active. A frame is
//
//	u32 length | u32 CRC-32C (Castagnoli) of the payload | payload
//
// (little-endian) and the payload's first byte says what it is:
//
//	put:    recPut, uvarint len(ik), ik, uvarint #tags, {uvarint len, tag},
//	        record (encodeRecord: header, inline body, marshalled entry)
//	delete: recDelete, uvarint len(ik), ik, entry ID (32 bytes): removes
//	        the entry at ik if it is still that ID
//	used:   recUsed, {entry ID, varint Unix nanoseconds}: recency (see
//	        recency.go)
//	synced: recSynced, uvarint offset: every byte of this segment before
//	        offset had reached the disk when the frame was written
//	        (FsyncInterval only; see syncer.go)
//
// Replaying every segment in order rebuilds the index: a later put at the
// same index key replaces the earlier one. The tags are repeated outside
// the marshalled entry so that Open learns them without decoding it.

const (
	recPut    = 1
	recDelete = 2
	recUsed   = 3
	recSynced = 4
)

// frameHeader is the length of a frame's length and CRC fields.
const frameHeader = 8

// segmentMax is the size past which the active segment is sealed. It bounds
// what compaction rewrites at once and the file Open reads at a time; 64 MiB
// keeps a 1 GiB store in a few dozen files.
const segmentMax = 64 << 20

// maxFrame bounds a frame's declared length, so that a damaged length field
// cannot make the scanner allocate gigabytes. A record holds at most an
// inline body (Options.InlineMax) and the metadata; a record this large is
// refused at commit.
const maxFrame = 256 << 20

var errBadFrame = errors.New("disk store: malformed log frame")

// appendFrame appends the frame of payload to b.
func appendFrame(b, payload []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(payload, castagnoli))
	return append(b, payload...)
}

// putPayload builds the payload of a put of the record rec at ik.
func putPayload(ik []byte, tags []string, rec []byte) []byte {
	return append(appendPutHead(make([]byte, 0, putHeadSize(ik, tags)+len(rec)), ik, tags), rec...)
}

// putHeadSize bounds the length of appendPutHead's bytes.
func putHeadSize(ik []byte, tags []string) int {
	n := 1 + 2*binary.MaxVarintLen32 + len(ik)
	for _, t := range tags {
		n += binary.MaxVarintLen32 + len(t)
	}
	return n
}

// appendPutHead appends the start of a put payload, before its record: the
// kind, the index key and the tags.
func appendPutHead(b, ik []byte, tags []string) []byte {
	b = append(b, recPut)
	b = binary.AppendUvarint(b, uint64(len(ik)))
	b = append(b, ik...)
	b = binary.AppendUvarint(b, uint64(len(tags)))
	for _, t := range tags {
		b = binary.AppendUvarint(b, uint64(len(t)))
		b = append(b, t...)
	}
	return b
}

// appendPutFrame appends the frame of a put of the record rec at ik to b,
// building the payload in place rather than in a buffer of its own.
func appendPutFrame(b, ik []byte, tags []string, rec []byte) []byte {
	start := len(b)
	b = appendPutHead(append(b, make([]byte, frameHeader)...), ik, tags)
	return sealFrame(append(b, rec...), start)
}

// sealFrame fills in the length and CRC of the frame that starts at start
// in b and runs to its end, whose header was reserved with zeros.
func sealFrame(b []byte, start int) []byte {
	payload := b[start+frameHeader:]
	binary.LittleEndian.PutUint32(b[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(payload, castagnoli))
	return b
}

// appendDelete appends the frame of a delete of entry id at ik to b.
func appendDelete(b []byte, ik, id string) []byte {
	p := make([]byte, 0, 1+binary.MaxVarintLen32+len(ik)+len(id))
	p = append(p, recDelete)
	p = binary.AppendUvarint(p, uint64(len(ik)))
	p = append(p, ik...)
	p = append(p, id...)
	return appendFrame(b, p)
}

// putRec is a decoded put payload; ik and rec alias it.
type putRec struct {
	ik   []byte
	tags []string
	rec  []byte
}

// parsePut decodes a put payload (its type byte included).
func parsePut(p []byte) (putRec, error) {
	var r putRec
	if len(p) < 1 || p[0] != recPut {
		return r, errBadFrame
	}
	p = p[1:]
	ik, p, ok := lenPrefixed(p)
	if !ok {
		return r, errBadFrame
	}
	r.ik = ik
	nt, n := binary.Uvarint(p)
	if n <= 0 || nt > uint64(len(p)) {
		return r, errBadFrame
	}
	p = p[n:]
	if nt > 0 {
		r.tags = make([]string, 0, nt)
	}
	for range nt {
		var t []byte
		if t, p, ok = lenPrefixed(p); !ok {
			return r, errBadFrame
		}
		r.tags = append(r.tags, string(t))
	}
	r.rec = p
	return r, nil
}

// parseDelete decodes a delete payload.
func parseDelete(p []byte) (ik []byte, id string, err error) {
	if len(p) < 1 || p[0] != recDelete {
		return nil, "", errBadFrame
	}
	ik, rest, ok := lenPrefixed(p[1:])
	if !ok || len(rest) != idLen || !validID(string(rest)) {
		return nil, "", errBadFrame
	}
	return ik, string(rest), nil
}

// lenPrefixed splits a uvarint-length-prefixed field off p.
func lenPrefixed(p []byte) (field, rest []byte, ok bool) {
	l, n := binary.Uvarint(p)
	if n <= 0 || l > uint64(len(p)-n) {
		return nil, nil, false
	}
	return p[n : n+int(l)], p[n+int(l):], true
}

// segment is one file of the log. Only the active segment grows; its size
// is written by holders of Store.wmu and read under segLog.mu.
type segment struct {
	seq uint64
	f   *os.File
	// data maps the file (see mapSegment), nil where it could not be:
	// reads then use pread. Frames past len(data) are read with pread too.
	data []byte
	size int64
	// broken: a failed append left bytes that could not be truncated
	// away; the next append starts a new segment.
	broken bool
	// dirty: frames were appended since the last sync (FsyncInterval).
	// Written under Store.wmu.
	dirty bool
}

// view returns the n bytes at off of seg from its mapping, or false when
// they are not mapped. They alias the file: valid while the caller holds
// segLog.mu shared (or Store.wmu), never to be kept.
func (seg *segment) view(off, n int64) ([]byte, bool) {
	if off < 0 || n < 0 || off+n > int64(len(seg.data)) {
		return nil, false
	}
	return seg.data[off : off+n : off+n], true
}

// readAt returns the n bytes at off of seg: from the mapping, or read into
// *bp (grown as needed).
func (seg *segment) readAt(off, n int64, bp *[]byte) ([]byte, error) {
	if b, ok := seg.view(off, n); ok {
		return b, nil
	}
	buf := slices.Grow((*bp)[:0], int(n))[:n]
	*bp = buf
	if _, err := seg.f.ReadAt(buf, off); err != nil {
		if err == io.EOF {
			return nil, errBadFrame
		}
		return nil, err
	}
	return buf, nil
}

// close unmaps and closes seg's file.
func (seg *segment) close() error {
	err := unmapSegment(seg.data)
	seg.data = nil
	if cerr := seg.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// segName is the file name of segment seq: 16 hex digits, so that names
// sort like numbers.
func segName(seq uint64) string { return fmt.Sprintf("%016x.log", seq) }

// parseSegName returns the seq of a segment file name.
func parseSegName(name string) (uint64, bool) {
	hex, ok := strings.CutSuffix(name, ".log")
	if !ok || len(hex) != 16 {
		return 0, false
	}
	seq, err := strconv.ParseUint(hex, 16, 64)
	return seq, err == nil
}

// readFrame returns the payload of the frame at off of seg, of rlen bytes
// in all, once its length and CRC check; it may alias the mapping or *bp
// (see segment.readAt).
func readFrame(seg *segment, off, rlen int64, bp *[]byte) ([]byte, error) {
	if rlen < frameHeader || rlen > maxFrame+frameHeader {
		return nil, errBadFrame
	}
	buf, err := seg.readAt(off, rlen, bp)
	if err != nil {
		return nil, err
	}
	payload, ok := checkFrame(buf)
	if !ok || int64(len(payload))+frameHeader != rlen {
		return nil, errBadFrame
	}
	return payload, nil
}

// checkFrame returns the payload of the frame at the start of b when its
// declared length fits in b and its CRC matches.
func checkFrame(b []byte) ([]byte, bool) {
	if len(b) < frameHeader {
		return nil, false
	}
	l := binary.LittleEndian.Uint32(b)
	if l == 0 || l > maxFrame || uint64(len(b)-frameHeader) < uint64(l) {
		return nil, false
	}
	p := b[frameHeader : frameHeader+int(l)]
	if crc32.Checksum(p, castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return nil, false
	}
	return p, true
}

// scanBuffer is how much of a segment the scanner reads at a time.
const scanBuffer = 1 << 20

// scanSegment calls fn for every frame of r (size bytes long) from offset
// start in order,
// with its offset, its length (header included) and its payload (valid only
// during the call), until a frame whose length or CRC is wrong. It returns
// the offset where the good frames end (size when all are good) and whether
// a bad frame, rather than the end, stopped it. When the bad frame's
// declared length is intact and another good frame follows it, next is that
// frame's offset (the bad frame is damage in the middle, not a torn tail);
// otherwise next is -1.
func scanSegment(r io.ReaderAt, start, size int64, fn func(off, rlen int64, payload []byte) error) (end int64, bad bool, next int64, err error) {
	buf := make([]byte, 0, min(scanBuffer, size-start))
	var bufOff int64 // file offset of buf[0]
	fill := func(off, n int64) ([]byte, error) {
		if off >= bufOff && off+n <= bufOff+int64(len(buf)) {
			return buf[off-bufOff : off-bufOff+n], nil
		}
		want := max(n, scanBuffer)
		want = min(want, size-off)
		if want < n {
			return nil, io.ErrUnexpectedEOF
		}
		if int64(cap(buf)) < want {
			buf = make([]byte, want)
		}
		buf = buf[:want]
		bufOff = off
		if _, err := r.ReadAt(buf, off); err != nil && err != io.EOF {
			return nil, err
		}
		return buf[:n], nil
	}
	off := start
	for off < size {
		h, err := fill(off, frameHeader)
		if err == io.ErrUnexpectedEOF {
			return off, true, -1, nil
		}
		if err != nil {
			return off, false, -1, err
		}
		l := int64(binary.LittleEndian.Uint32(h))
		if l == 0 || l > maxFrame || off+frameHeader+l > size {
			return off, true, -1, nil
		}
		fr, err := fill(off, frameHeader+l)
		if err != nil {
			return off, false, -1, err
		}
		p, ok := checkFrame(fr)
		if !ok {
			return off, true, goodFrameAt(r, size, off+frameHeader+l), nil
		}
		if err := fn(off, frameHeader+l, p); err != nil {
			return off, false, -1, err
		}
		off += frameHeader + l
	}
	return off, false, -1, nil
}

// goodFrameAt returns off when a frame with a good CRC starts there, else -1.
func goodFrameAt(r io.ReaderAt, size, off int64) int64 {
	var h [frameHeader]byte
	if off+frameHeader > size {
		return -1
	}
	if _, err := r.ReadAt(h[:], off); err != nil {
		return -1
	}
	l := int64(binary.LittleEndian.Uint32(h[:]))
	if l == 0 || l > maxFrame || off+frameHeader+l > size {
		return -1
	}
	fr := make([]byte, frameHeader+l)
	if _, err := r.ReadAt(fr, off); err != nil && err != io.EOF {
		return -1
	}
	if _, ok := checkFrame(fr); !ok {
		return -1
	}
	return off
}

// segLog is the set of segments. Readers (Lookup, Open of an inline body)
// hold mu shared while they read a frame, so a segment's file is closed
// only once no read of it is in flight; its holders of the exclusive lock
// are those that add or remove segments (with Store.wmu held too).
type segLog struct {
	dir string // dir/log
	mu  sync.RWMutex
	// segs is every segment, oldest first; the last is the active one.
	segs []*segment
	// total is the bytes of every segment, changed under Store.wmu (the
	// bytes of live frames are lru.frames).
	total int64
}

func (g *segLog) active() *segment { return g.segs[len(g.segs)-1] }

// create makes segment seq the active one, mapped for at least room bytes
// (segmentMax or more): the file and, unless nosync, the directory entry are
// made durable at once, so that a later fdatasync of the file is all that
// an append needs.
func (g *segLog) create(seq uint64, room int64, nosync bool) (*segment, error) {
	path := filepath.Join(g.dir, segName(seq))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("disk store: creating log segment: %w", err)
	}
	if !nosync {
		if err := syncDir(g.dir); err != nil {
			f.Close()
			os.Remove(path)
			return nil, fmt.Errorf("disk store: creating log segment: %w", err)
		}
	}
	seg := &segment{seq: seq, f: f}
	seg.data, _ = mapSegment(f, max(room, segmentMax)) // nil: pread
	g.mu.Lock()
	g.segs = append(g.segs, seg)
	g.mu.Unlock()
	return seg, nil
}

// closeAll closes every segment file.
func (g *segLog) closeAll() error {
	var err error
	for _, seg := range g.segs {
		if cerr := seg.close(); err == nil {
			err = cerr
		}
	}
	g.segs = nil
	return err
}
