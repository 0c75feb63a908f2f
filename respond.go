package cellar

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/cellar-http/cellar/spec"
)

// bodySource is where a response's body bytes come from: a stored body, a
// spool being filled or an upstream body. r reads it from the start; ra,
// when not nil, reads at offsets (ranges); wt, when not nil, writes it from
// the start (a stored body held in memory); size is its full length or -1.
type bodySource struct {
	r      io.Reader
	ra     io.ReaderAt
	wt     io.WriterTo
	size   int64
	closer io.Closer // releases the source; closed once, before close
	close  func()    // releases what else the source holds; called once
	from   Source
}

// release releases the source.
func (src *bodySource) release() {
	if src.closer != nil {
		src.closer.Close()
		src.closer = nil
	}
	if src.close != nil {
		src.close()
		src.close = nil
	}
}

// directSource reads an upstream response's body as it arrives.
func directSource(resp *http.Response) bodySource {
	b := resp.Body
	if b == nil {
		b = http.NoBody
	}
	return bodySource{r: b, size: resp.ContentLength, closer: b, from: SourceUpstream}
}

// spoolSource reads sp for ex; the caller holds a spool reference for it,
// released (with then) when the body is closed.
func spoolSource(ex *exchange, sp *spool, size int64, then func()) bodySource {
	ctx, cancel := context.WithCancel(ex.ctx)
	r := &spoolReader{s: sp, ctx: ctx, flush: ex.flush}
	return bodySource{r: r, ra: r, size: size, from: SourceUpstream, close: func() {
		cancel()
		sp.release()
		if then != nil {
			then()
		}
	}}
}

// respond builds the response the core described in sv, with Cache-Status
// member cs, reading the body from src as sv's plan says. Serving a
// handler, it writes the header into the handler's ResponseWriter header
// (ex.dst) and the response carries that map.
func (ex *exchange) respond(sv *spec.Serve, cs spec.CacheStatus, src bodySource, o Outcome) (*http.Response, error) {
	c := ex.c
	ex.interim.close() // the final response starts: no interim one after it
	var r io.Reader
	var length int64
	switch sv.Body {
	case spec.BodyNone:
		src.release()
		r = http.NoBody
	case spec.BodyAll:
		r = src.r
		length = sv.ContentLength(src.size)
	case spec.BodyRanges:
		var err error
		if r, err = rangeReader(sv, src); err != nil {
			src.release()
			return nil, err
		}
		length = sv.ContentLength(src.size)
	}
	if sv.Body != spec.BodyAll {
		src.wt = nil // it would write the whole body
	}
	if ex.collapsed != nil {
		cs.Hit = false
		cs.Fwd, cs.FwdStatus, cs.Stored = ex.collapsed.Fwd, ex.collapsed.FwdStatus, ex.collapsed.Stored
		cs.Collapsed = true
		ex.trace.Collapsed = true
		o = OutcomeCollapsed
	} else if ex.collapseFailed && !cs.Hit {
		cs.CollapseFailed = true
	}
	ex.cs = cs
	csField := c.statusField(cs)
	csv := csField[0]

	h := ex.dst
	if h != nil {
		// Cache-Status is the stored response's, if any, and this cache's
		// member, whatever the writer held.
		delete(h, "Cache-Status")
		ex.wroteDst = true
	} else {
		h = make(http.Header, 8)
	}
	sv.WriteHeader(h)
	// RFC 9211 §2: each cache appends its member; the last is nearest the
	// client.
	if prev := h["Cache-Status"]; len(prev) > 0 {
		h["Cache-Status"] = append(prev[:len(prev):len(prev)], csv)
	} else {
		h["Cache-Status"] = csField
	}
	if sv.Body == spec.BodyNone && ex.req.Method == http.MethodHead {
		length = headerLength(h)
	}
	if length < 0 {
		length = -1
	}

	resp := &ex.respData
	if ex.respUsed {
		resp = new(http.Response)
	}
	ex.respUsed = true
	*resp = http.Response{
		Status:        statusLine(sv.Status),
		StatusCode:    sv.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		ContentLength: length,
		Request:       ex.req,
	}
	src.r = r
	b := ex.newBody(src)
	if sv.Body != spec.BodyNone {
		b.want = length
	}
	resp.Body = b
	c.metrics.Served(o)
	c.finishTrace(ex, csv)
	return resp, nil
}

// statusLines holds "code text" for the codes in use, built once.
var statusLines = func() (t [600]string) {
	for code := 100; code < len(t); code++ {
		if text := http.StatusText(code); text != "" {
			t[code] = strconv.Itoa(code) + " " + text
		}
	}
	return t
}()

// statusLine returns the Status of an http.Response with code.
func statusLine(code int) string {
	if code >= 0 && code < len(statusLines) && statusLines[code] != "" {
		return statusLines[code]
	}
	return strconv.Itoa(code) + " " + http.StatusText(code)
}

// headerLength reads a Content-Length field, or -1.
func headerLength(h http.Header) int64 {
	if v := h["Content-Length"]; len(v) == 1 {
		if n, ok := spec.ParseContentLength(v[0]); ok {
			return n
		}
	}
	return -1
}

// rangeReader reads the ranges of sv from src: one range at an offset (or,
// on a body that can only be read forward, after skipping), or several
// framed as multipart/byteranges (RFC 9110 §14.6) with the framing spec
// computed.
func rangeReader(sv *spec.Serve, src bodySource) (io.Reader, error) {
	parts, closing := sv.Parts()
	if parts == nil {
		if len(sv.Ranges) != 1 {
			return nil, errors.New("cellar: range plan without ranges")
		}
		rg := sv.Ranges[0]
		if src.ra != nil {
			return io.NewSectionReader(src.ra, rg.Start, rg.Length), nil
		}
		return &skipReader{r: src.r, skip: rg.Start, n: rg.Length}, nil
	}
	if src.ra == nil {
		return nil, errors.New("cellar: multipart ranges need a seekable body")
	}
	rs := make([]io.Reader, 0, 2*len(parts)+1)
	for _, p := range parts {
		rs = append(rs, bytes.NewReader(p.Header), io.NewSectionReader(src.ra, p.Range.Start, p.Range.Length))
	}
	rs = append(rs, bytes.NewReader(closing))
	return io.MultiReader(rs...), nil
}

// skipReader discards skip bytes, then reads n.
type skipReader struct {
	r       io.Reader
	skip, n int64
}

func (s *skipReader) Read(p []byte) (int, error) {
	if s.skip > 0 {
		if _, err := io.CopyN(io.Discard, s.r, s.skip); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		s.skip = 0
	}
	if s.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.n {
		p = p[:s.n]
	}
	n, err := s.r.Read(p)
	s.n -= int64(n)
	if err == io.EOF && s.n > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// errBodyClosed is returned by reads after Close.
var errBodyClosed = errors.New("cellar: read on closed response body")

// body is every response body the Cache returns: it releases the source at
// the end or on Close (whichever comes first), counts the bytes and carries
// the decision trace.
type body struct {
	r      io.Reader
	src    bodySource
	trace  *Trace
	m      Metrics
	n      atomic.Int64
	closed atomic.Bool
	ended  atomic.Bool // read to the end: later reads find it too
	once   sync.Once
	// want is the length the response declared, or -1: a body that ends
	// short of it ends in io.ErrUnexpectedEOF, never as if complete.
	want int64
}

// newBody returns the body reading src, the exchange's own the first time.
func (ex *exchange) newBody(src bodySource) *body {
	b := &ex.bodyData
	if b.trace != nil {
		b = new(body)
	}
	b.r, b.src, b.trace, b.m, b.want = src.r, src, ex.trace, ex.c.metrics, -1
	return b
}

func (b *body) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, errBodyClosed
	}
	if b.ended.Load() {
		return 0, io.EOF
	}
	n, err := b.r.Read(p)
	if n > 0 {
		b.n.Add(int64(n))
	}
	if err == io.EOF {
		if b.short() {
			return n, io.ErrUnexpectedEOF
		}
		b.ended.Store(true)
		b.finish()
	}
	return n, err
}

// short reports whether the body ended before the length it declared.
func (b *body) short() bool { return b.want >= 0 && b.n.Load() < b.want }

// WriteTo writes the rest of the body to w (io.Copy uses it): a stored body
// held in memory straight from the store, with no copy; anything else
// through a pooled buffer sized for the body, so that a body of up to
// maxCopyBuffer takes one read and one write.
func (b *body) WriteTo(w io.Writer) (int64, error) {
	if b.closed.Load() {
		return 0, errBodyClosed
	}
	if b.ended.Load() {
		return 0, nil
	}
	var n int64
	var err error
	if b.src.wt != nil {
		n, err = b.src.wt.WriteTo(w)
	} else {
		n, err = copyBody(w, b.r, b.src.size)
	}
	b.n.Add(n)
	if err == nil && b.short() {
		err = io.ErrUnexpectedEOF
	}
	if err == nil {
		b.ended.Store(true)
		b.finish()
	}
	return n, err
}

func (b *body) Close() error {
	b.closed.Store(true)
	b.finish()
	return nil
}

func (b *body) finish() {
	b.once.Do(func() {
		b.src.release()
		if b.src.from != "" {
			b.m.Bytes(b.src.from, b.n.Load())
		}
	})
}

// Copy buffers come in sizes from minCopyBuffer to maxCopyBuffer, doubling:
// a body gets the smallest that holds it whole, or the largest. A response
// being copied holds one; idle ones stay in the pools until the GC drops
// them.
const (
	minCopyBuffer = 32 << 10
	maxCopyBuffer = 256 << 10
)

var copyBuffers [4]sync.Pool // 32, 64, 128 and 256 KiB

func init() {
	for i := range copyBuffers {
		size := minCopyBuffer << i
		copyBuffers[i].New = func() any { b := make([]byte, size); return &b }
	}
}

// copyBufferClass returns the index in copyBuffers for a body of size
// bytes: the smallest buffer when the size is unknown (-1).
func copyBufferClass(size int64) int {
	if size < 0 {
		return 0
	}
	for i := range copyBuffers {
		if size <= int64(minCopyBuffer)<<i {
			return i
		}
	}
	return len(copyBuffers) - 1
}

// copyBody copies r to w until EOF through a pooled buffer for a body of
// size bytes; like io.Copy, it returns nil at EOF. Reads and writes are
// plain calls: an http.ResponseWriter's ReadFrom would write the first 512
// bytes on their own.
func copyBody(w io.Writer, r io.Reader, size int64) (int64, error) {
	pool := &copyBuffers[copyBufferClass(size)]
	bp := pool.Get().(*[]byte)
	defer pool.Put(bp)
	buf := *bp
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
			if m < n {
				return total, io.ErrShortWrite
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}
