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
// when not nil, reads at offsets (ranges); size is its full length or -1.
type bodySource struct {
	r     io.Reader
	ra    io.ReaderAt
	size  int64
	close func() // releases the source; called once
	from  Source
}

// directSource reads an upstream response's body as it arrives.
func directSource(resp *http.Response) bodySource {
	b := resp.Body
	if b == nil {
		b = http.NoBody
	}
	return bodySource{r: b, size: resp.ContentLength, close: func() { b.Close() }, from: SourceUpstream}
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
// member cs, reading the body from src as sv's plan says.
func (ex *exchange) respond(sv *spec.Serve, cs spec.CacheStatus, src bodySource, o Outcome) (*http.Response, error) {
	c := ex.c
	h := make(http.Header, 8)
	sv.WriteHeader(h)
	if ex.collapsed != nil {
		cs.Hit = false
		cs.Fwd, cs.FwdStatus, cs.Stored = ex.collapsed.Fwd, ex.collapsed.FwdStatus, ex.collapsed.Stored
		cs.Collapsed = true
		ex.trace.Collapsed = true
		o = OutcomeCollapsed
	}
	csv := cs.Value(c.name)
	// RFC 9211 §2: each cache appends its member; the last is nearest the
	// client.
	h["Cache-Status"] = append(h["Cache-Status"], csv)

	resp := &http.Response{
		Status:     statusLine(sv.Status),
		StatusCode: sv.Status,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Request:    ex.req,
	}
	var r io.Reader
	switch sv.Body {
	case spec.BodyNone:
		if src.close != nil {
			src.close()
			src.close = nil
		}
		r = http.NoBody
		resp.ContentLength = 0
		if ex.req.Method == http.MethodHead {
			resp.ContentLength = headerLength(h)
		}
	case spec.BodyAll:
		r = src.r
		resp.ContentLength = sv.ContentLength(src.size)
	case spec.BodyRanges:
		var err error
		if r, err = rangeReader(sv, src); err != nil {
			if src.close != nil {
				src.close()
			}
			return nil, err
		}
		resp.ContentLength = sv.ContentLength(src.size)
	}
	if resp.ContentLength < 0 {
		resp.ContentLength = -1
	}
	src.r = r
	resp.Body = newBody(ex, src)
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
		if n, err := strconv.ParseInt(v[0], 10, 64); err == nil && n >= 0 {
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
	once   sync.Once
}

func newBody(ex *exchange, src bodySource) *body {
	return &body{r: src.r, src: src, trace: ex.trace, m: ex.c.metrics}
}

func (b *body) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, errBodyClosed
	}
	n, err := b.r.Read(p)
	if n > 0 {
		b.n.Add(int64(n))
	}
	if err == io.EOF {
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
		if b.src.close != nil {
			b.src.close()
		}
		if b.src.from != "" {
			b.m.Bytes(b.src.from, b.n.Load())
		}
	})
}
