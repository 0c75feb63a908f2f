package spec

import (
	"cmp"
	"hash/fnv"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// applyRange answers a Range request from a complete 200 response with
// header h (RFC 9110 §14.2): 206 with one range, 206 multipart/byteranges
// with several (when multi), 416 when none is satisfiable, and the whole
// 200 when Range is invalid, If-Range fails (§13.1.5) or the length is
// unknown: a server may always ignore Range.
func applyRange(s *Serve, req, h http.Header, date time.Time, multi bool) {
	rv := req["Range"]
	if len(rv) != 1 {
		return // absent, or several lines: not a valid singleton (ignored, §14.2)
	}
	size, ok := contentLength(h)
	if !ok || !ifRangeHolds(req, h, date) {
		return
	}
	ranges, outcome := parseRange(rv[0], size)
	switch outcome {
	case rangeIgnored:
		return
	case rangeUnsatisfiable:
		s.Status, s.Body, s.Ranges = http.StatusRequestedRangeNotSatisfiable, BodyNone, nil
		s.setField("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
		s.setField("Content-Length", "0")
		s.setField("Content-Type")
		return
	}
	ranges = coalesceRanges(ranges)
	if len(ranges) > rangeMaxParts || len(ranges) > 1 && !multi {
		return
	}
	s.Status, s.Body, s.Ranges = http.StatusPartialContent, BodyRanges, ranges
	if len(ranges) == 1 {
		r := ranges[0]
		s.setField("Content-Range", contentRange(r, size))
		s.setField("Content-Length", strconv.FormatInt(r.Length, 10))
		return
	}
	s.parts = newMultipart(ranges, size, first(h["Content-Type"]), first(h["Etag"]))
	s.setField("Content-Type", "multipart/byteranges; boundary="+s.parts.boundary)
	s.setField("Content-Length", strconv.FormatInt(s.parts.length(), 10))
}

// Defences against egregious range requests (RFC 9110 §14.2, §17.15).
const (
	// rangeMaxParts bounds the parts of a multipart/byteranges answer: a
	// Range asking for more, once coalesced, is answered with the whole
	// representation (a server "MAY ignore the Range header field",
	// §14.2), which is never larger than the ranges would be.
	rangeMaxParts = 16
)

// coalesceRanges returns ranges as they are when no two overlap or touch;
// otherwise sorted by start with those merged (§14.2 lets a server coalesce
// ranges that overlap "regardless of the order in which the corresponding
// range-spec appeared"). Either way the parts hold no byte twice, so a
// multipart/byteranges answer is never larger than the representation
// plus its part headers. Ranges with a gap between them are kept apart,
// even a small one: the client asked for parts, not for the gap.
func coalesceRanges(ranges []ByteRange) []ByteRange {
	if len(ranges) < 2 {
		return ranges
	}
	sorted := slices.Clone(ranges)
	slices.SortFunc(sorted, func(a, b ByteRange) int { return cmp.Compare(a.Start, b.Start) })
	out := sorted[:1]
	for _, r := range sorted[1:] {
		last := &out[len(out)-1]
		if end := last.Start + last.Length; r.Start <= end {
			last.Length = max(end, r.Start+r.Length) - last.Start
			continue
		}
		out = append(out, r)
	}
	if len(out) == len(ranges) {
		return ranges // nothing merged: the parts go in the order asked (§14.6)
	}
	return out
}

// contentLength reads a valid Content-Length (RFC 9110 §8.6).
func contentLength(h http.Header) (int64, bool) {
	v := h["Content-Length"]
	if len(v) == 0 {
		return 0, false
	}
	return ParseContentLength(v[0])
}

// contentRange formats "bytes first-last/complete" (RFC 9110 §14.4).
func contentRange(r ByteRange, size int64) string {
	return "bytes " + strconv.FormatInt(r.Start, 10) + "-" + strconv.FormatInt(r.Start+r.Length-1, 10) + "/" + strconv.FormatInt(size, 10)
}

// ifRangeHolds evaluates If-Range (RFC 9110 §13.1.5): true when absent, or
// when its entity-tag strongly matches the ETag, or its date exactly equals
// a strong Last-Modified (one at least a second before Date, §8.8.2.2).
func ifRangeHolds(req, h http.Header, date time.Time) bool {
	v := req["If-Range"]
	if len(v) == 0 {
		return true
	}
	if len(v[0]) >= 2 && (v[0][0] == '"' || v[0][:2] == "W/") {
		want, ok1 := parseETag(v[0])
		have, ok2 := parseETag(first(h["Etag"]))
		return ok1 && ok2 && strongMatch(want, have)
	}
	want, ok1 := parseHTTPDate(v[0])
	lm, ok2 := headerTime(h, "Last-Modified")
	return ok1 && ok2 && lm.Equal(want) && date.Sub(lm) >= time.Second
}

// multipart frames several ranges as multipart/byteranges (RFC 9110 §14.6).
type multipart struct {
	boundary string
	parts    []Part
	closing  []byte
}

// Part is one part of a multipart/byteranges body: write Header, then the
// body bytes of Range.
type Part struct {
	Header []byte
	Range  ByteRange
}

// Parts returns the framing of a multipart/byteranges body: each part's
// header followed by its range, then closing. It returns nil when the plan
// sends a single range or the whole body.
func (s *Serve) Parts() (parts []Part, closing []byte) {
	if s.parts == nil {
		return nil, nil
	}
	return s.parts.parts, s.parts.closing
}

func newMultipart(ranges []ByteRange, size int64, ctype, etag string) *multipart {
	m := &multipart{boundary: boundaryFor(ranges, size, etag)}
	for _, r := range ranges {
		hdr := "\r\n--" + m.boundary + "\r\n"
		if ctype != "" {
			hdr += "Content-Type: " + ctype + "\r\n"
		}
		hdr += "Content-Range: " + contentRange(r, size) + "\r\n\r\n"
		m.parts = append(m.parts, Part{Header: []byte(hdr), Range: r})
	}
	m.closing = []byte("\r\n--" + m.boundary + "--\r\n")
	return m
}

func (m *multipart) length() int64 {
	n := int64(len(m.closing))
	for _, p := range m.parts {
		n += int64(len(p.Header)) + p.Range.Length
	}
	return n
}

// boundaryFor derives a boundary from the representation and ranges. The
// core has no randomness; a 128-bit hash makes a collision with the content
// as unlikely as a random boundary would.
func boundaryFor(ranges []ByteRange, size int64, etag string) string {
	h := fnv.New128a()
	h.Write([]byte(etag))
	var buf [16]byte
	for _, r := range ranges {
		h.Write(strconv.AppendInt(strconv.AppendInt(buf[:0], r.Start, 10), r.Length, 10))
	}
	h.Write(strconv.AppendInt(buf[:0], size, 10))
	const hexdigits = "0123456789abcdef"
	sum := h.Sum(nil)
	out := make([]byte, 0, 2*len(sum)+7)
	out = append(out, "cellar-"...)
	for _, c := range sum {
		out = append(out, hexdigits[c>>4], hexdigits[c&15])
	}
	return string(out)
}
