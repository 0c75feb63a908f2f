package cellar

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cellar-http/cellar/spec"
)

// Middleware returns a shared cache (cfg.Spec.Shared is set) in front of a
// handler: the wrapped handler is the origin, run in-process through a
// round tripper that streams its output (its Flush calls pass through, so
// server-sent events are not buffered). cfg.Upstream is not used.
//
// Background work of the returned middleware runs until the process ends;
// to stop it, build the Cache with New and use its Handler method, then
// Close it.
func Middleware(cfg Config) (func(http.Handler) http.Handler, error) {
	cfg.Spec.Shared = true
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return c.Handler, nil
}

// Handler returns next with the cache in front of it: requests are answered
// from the cache, and next is called (in-process) when the cache must go
// upstream. The cache's shared or private role is its Spec.Shared option;
// Middleware sets it.
//
// Requests with Upgrade or CONNECT go straight to next with the real
// ResponseWriter (so it may hijack the connection). When next fails after
// its response has started, or the body cannot be completed, the client
// connection is aborted (http.ErrAbortHandler) rather than ended as if the
// body were complete. When there is no response at all, the client gets a
// 502, or 504 after a timeout or when a stored response may not be served
// stale (see [UpstreamError]). [Cache.HandlerWith] can answer those itself,
// or forward over a RoundTripper rather than to next.
//
// The values of the response header are shared with other responses (a
// stored response's fields, the Cache-Status of a hot object): a writer
// wrapping the handler may replace or append to them, never write into
// them in place.
func (c *Cache) Handler(next http.Handler) http.Handler {
	return c.HandlerWith(next, HandlerOptions{})
}

// HandlerOptions configure [Cache.HandlerWith].
type HandlerOptions struct {
	// Upstream, when set, carries what the cache sends upstream, as
	// RoundTrip does, instead of next in-process; next then serves only
	// the requests the cache bypasses (Upgrade, CONNECT, WithBypass). A
	// reverse proxy hands the cache requests already targeting its
	// upstream (an absolute URL, the Host to send) and forwards bypassed
	// ones itself. Bodies are streamed to the client as they arrive, and
	// flushed when a reader catches up with a fill being stored; the
	// response header is as RoundTrip returns it but for Cache-Status.
	Upstream http.RoundTripper
	// ErrorHandler answers a request the cache has no response for: the
	// upstream failed (next panicked before its response started, or
	// Upstream returned an error) and nothing stored may be served
	// instead, or the client went away. err is the failure. The
	// writer's header already holds the Cache-Status to send (RFC 9211
	// fwd, and a detail such as upstream-refused or upstream-timeout:
	// see UpstreamDetail). Nil answers 502 (504 after a timeout), and
	// nothing to a client that went away.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// CacheStatus, when set, is handed this cache's Cache-Status member
	// (RFC 9211) of every response as a value, before the response's
	// header is written (before ErrorHandler is called): what a proxy
	// labels its metrics and logs by, without parsing the field back.
	CacheStatus func(w http.ResponseWriter, cs spec.CacheStatus)
}

// HandlerWith is [Cache.Handler] with options.
func (c *Cache) HandlerWith(next http.Handler, opts HandlerOptions) http.Handler {
	return &cacheHandler{c: c, next: next, upstream: opts.Upstream, onError: opts.ErrorHandler,
		onStatus: opts.CacheStatus, bypass: spec.CacheStatus{Fwd: spec.FwdBypass}.Value(c.name)}
}

type cacheHandler struct {
	c        *Cache
	next     http.Handler
	upstream http.RoundTripper
	onError  func(http.ResponseWriter, *http.Request, error)
	onStatus func(http.ResponseWriter, spec.CacheStatus)
	bypass   string // the Cache-Status of a bypassed request
}

// handlerCall is what one request through a cacheHandler needs, in one
// allocation.
type handlerCall struct {
	ex      exchange
	proc    inProcess
	out     trackedWriter
	keyURL  url.URL
	interim interimSink
}

// handlerCalls recycles the handlerCalls of requests answered from
// storage with nothing left holding them (exchange.reusable): about 2 KB
// and one allocation less per hit (BenchmarkServeHit). A call goes back
// zeroed, only after the response is written and its body closed, and
// never from a path that may still hold it (a miss, a revalidation, a
// background refresh, a collapsed request, a trace, an error, a panic).
var handlerCalls sync.Pool

// requestReleaser is a ResponseWriter that reuses the request it handed
// the cache (the proxy's recorder): ReleaseCellarRequest is called as
// ServeHTTP returns when nothing of the cache holds r any more
// (exchange.reusable), and only then.
type requestReleaser interface {
	ReleaseCellarRequest(r *http.Request)
}

// release recycles call, whose request r the cache no longer holds, and
// tells w.
func (call *handlerCall) release(w http.ResponseWriter, r *http.Request) {
	*call = handlerCall{}
	handlerCalls.Put(call)
	if rl, ok := w.(requestReleaser); ok {
		rl.ReleaseCellarRequest(r)
	}
}

// ServeHTTP answers r from the cache. The engine keys on the request's
// Host (and URL scheme, if it has one) and sends next requests made from r:
// path-only URL and RequestURI, as a server would.
func (h *cacheHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := h.c
	ov := overridesFrom(r.Context())
	// In-process (no Upstream: the proxy hands the cache its client's
	// scheme itself), a target naming another scheme than the
	// connection's is neither served from nor stored in the cache.
	if isBypass(r, &ov) || h.upstream == nil && misdirectedScheme(r) {
		w.Header().Add("Cache-Status", h.bypass)
		h.status(w, spec.CacheStatus{Fwd: spec.FwdBypass})
		c.metrics.Served(OutcomeBypass)
		h.next.ServeHTTP(w, r)
		return
	}
	call, _ := handlerCalls.Get().(*handlerCall)
	if call == nil {
		call = new(handlerCall)
	}
	// Set where nothing holds call any more; the deferred release runs
	// after every other deferred call (the body's Close included), and
	// not at all after a panic.
	reuse := false
	defer func() {
		if reuse {
			call.release(w, r)
		}
	}()
	call.proc.h = h.next
	ex := &call.ex
	ex.init(c, r, ov)
	call.interim.init(w)
	ex.interim, call.proc.interim = &call.interim, &call.interim
	defer ex.interim.close()
	ex.flush, ex.dst, ex.keyURL = &call.proc.flush, w.Header(), &call.keyURL
	if h.upstream != nil {
		ex.upstream = h.upstream
	} else {
		ex.inproc = &call.proc
	}
	resp, err := ex.roundTrip()
	ex.interim.close()
	if err != nil {
		// Every response carries Cache-Status (RFC 9211), an error
		// answer too: why the request went forward and what failed.
		cs := ex.errorStatus(err)
		w.Header()["Cache-Status"] = []string{cs.Value(c.name)}
		if h.onError != nil {
			h.status(w, cs)
			h.onError(w, r, err)
			return
		}
		if r.Context().Err() != nil {
			return // the client is gone
		}
		// The core chose the answer (502, or 504 when disconnected:
		// RFC 9111 §5.2.2.2); an error from elsewhere is a 502.
		var ue *UpstreamError
		if !errors.As(err, &ue) {
			ue = &UpstreamError{Err: err, Answer: spec.UpstreamError(failureOf(err))}
		}
		sv := &ue.Answer.Serve
		status := sv.Status
		if strings.HasPrefix(sv.CacheStatus.Detail, "stale-") {
			// The core refused to serve what it holds stale: that, not
			// the transport's error, is what the client needs to know.
			cs = sv.CacheStatus
		}
		sv.WriteHeader(w.Header())
		w.Header()["Cache-Status"] = []string{cs.Value(c.name)}
		h.status(w, cs)
		http.Error(w, http.StatusText(status), status)
		return
	}
	defer resp.Body.Close()
	h.status(w, ex.cs)
	hdr := w.Header()
	if !ex.wroteDst {
		for k, vv := range resp.Header {
			hdr[k] = vv
		}
	}
	if _, ok := hdr["Content-Type"]; !ok {
		// An intermediary must not invent a Content-Type (RFC 9110
		// §8.3): net/http sniffs one unless the key is present.
		hdr["Content-Type"] = nil
	}
	w.WriteHeader(resp.StatusCode)
	if r.Method == http.MethodHead {
		reuse = ex.reusable()
		return
	}
	if b, ok := resp.Body.(*body); ok && b.src.from == SourceCache {
		// A stored body is all there: nothing to flush before its end,
		// and it is written in as few writes as it can be.
		call.out.w = w
		if _, err := b.WriteTo(&call.out); err != nil && call.out.err == nil {
			panic(http.ErrAbortHandler) // the stored body failed: do not end it as if complete
		}
		reuse = ex.reusable()
		return
	}
	copyFlushing(w, resp.Body, &call.proc.flush)
}

// status hands cs to HandlerOptions.CacheStatus, if set.
func (h *cacheHandler) status(w http.ResponseWriter, cs spec.CacheStatus) {
	if h.onStatus != nil {
		h.onStatus(w, cs)
	}
}

// trackedWriter remembers whether a write failed (the client went away),
// to tell it from a failure of the body being copied.
type trackedWriter struct {
	w   io.Writer
	err error
}

func (t *trackedWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if err != nil {
		t.err = err
	}
	return n, err
}

// ReadFrom passes r to the ResponseWriter's ReadFrom when it has one, so
// that a stored body handed over as a file (the disk store's) is sent with
// sendfile(2). Its errors count as the client's: the store reports a body
// found short as its own error (ErrCorrupt) from WriteTo.
func (t *trackedWriter) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := t.w.(io.ReaderFrom)
	if !ok {
		return io.Copy(struct{ io.Writer }{t}, r)
	}
	n, err := rf.ReadFrom(r)
	if err != nil {
		t.err = err
	}
	return n, err
}

// copyFlushing copies body to w, flushing when the origin flushed or a
// follower caught up with the body being filled; it aborts the connection
// when the body ends in an error.
func copyFlushing(w http.ResponseWriter, body io.Reader, sig *flushSignal) {
	rc := http.NewResponseController(w)
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return // the client is gone
			}
		}
		if sig.take() {
			rc.Flush()
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			panic(http.ErrAbortHandler)
		}
	}
}

// flushSignal carries "flush now" from an in-process handler (or a spool
// reader that caught up) to the Middleware's copy loop.
type flushSignal struct{ pending atomic.Bool }

func (s *flushSignal) set() {
	if s != nil {
		s.pending.Store(true)
	}
}

func (s *flushSignal) take() bool {
	return s != nil && s.pending.Swap(false)
}

// inProcess is the handler a Handler's requests go upstream to, and the
// flush signal of the request being served.
type inProcess struct {
	h       http.Handler
	flush   flushSignal
	interim *interimSink // where the handler's interim responses go
}

// serveInProcess runs the handler for req and returns its response as soon
// as the header is written; the body streams through a pipe as the handler
// writes it. The handler sees a server request: path-only URL, RequestURI.
func serveInProcess(p *inProcess, req *http.Request) (*http.Response, error) {
	sreq := req.Clone(req.Context())
	u := *req.URL
	sreq.RequestURI = u.RequestURI()
	u.Scheme, u.Host = "", ""
	sreq.URL = &u
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	pw := newPipeWriter(req.Method == http.MethodHead, &p.flush)
	pw.interim = p.interim
	go pw.serve(p.h, sreq)
	select {
	case <-pw.started:
	case <-req.Context().Done():
		pw.pipe.closeRead(req.Context().Err())
		return nil, req.Context().Err()
	}
	if pw.startErr != nil {
		return nil, pw.startErr
	}
	resp := &http.Response{
		Status:        statusLine(pw.status),
		StatusCode:    pw.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        pw.sent,
		Body:          &pipeReader{p: pw.pipe},
		ContentLength: headerLength(pw.sent),
		Request:       req,
	}
	if req.Method == http.MethodHead || !bodyAllowed(pw.status) {
		resp.Body.Close()
		resp.Body = http.NoBody
	}
	return resp, nil
}

// bodyAllowed reports whether a response with status may have content
// (RFC 9110 §6.4.1).
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// pipeWriter is the http.ResponseWriter of an in-process handler.
type pipeWriter struct {
	header   http.Header
	sent     http.Header // the header as of WriteHeader
	status   int
	head     bool
	wrote    bool
	started  chan struct{}
	startErr error
	pipe     *pipe
	flush    *flushSignal
	interim  *interimSink
}

func newPipeWriter(head bool, flush *flushSignal) *pipeWriter {
	return &pipeWriter{header: http.Header{}, head: head, started: make(chan struct{}), pipe: newPipe(flush), flush: flush}
}

func (w *pipeWriter) serve(h http.Handler, req *http.Request) {
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("cellar: handler panicked: %v", r)
			if r == http.ErrAbortHandler {
				err = errors.New("cellar: handler aborted the response")
			}
			if !w.wrote {
				w.startErr = err
				w.wrote = true
				close(w.started)
			}
			w.pipe.closeWrite(err)
			return
		}
		w.WriteHeader(http.StatusOK)
		w.pipe.closeWrite(nil)
	}()
	h.ServeHTTP(w, req)
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(status int) {
	if w.wrote {
		return
	}
	if status >= 100 && status < 200 && status != http.StatusSwitchingProtocols {
		// Interim responses go to the client as they come (RFC 9110
		// §15.2), never into the final response.
		w.interim.send(status, w.header.Clone())
		return
	}
	w.wrote = true
	w.status = status
	w.sent = w.header.Clone()
	close(w.started)
}

func (w *pipeWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		if len(w.header["Content-Type"]) == 0 && len(b) > 0 {
			w.header.Set("Content-Type", http.DetectContentType(b))
		}
		w.WriteHeader(http.StatusOK)
	}
	if w.head || !bodyAllowed(w.status) {
		return len(b), nil
	}
	return w.pipe.write(b)
}

// Flush implements http.Flusher.
func (w *pipeWriter) Flush() { w.FlushError() }

// FlushError is what http.ResponseController calls.
func (w *pipeWriter) FlushError() error {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.pipe.flush()
}

// pipe is a synchronous in-memory pipe like io.Pipe that also carries the
// writer's flushes.
type pipe struct {
	mu      sync.Mutex
	data    []byte // the write being read
	flushes bool
	wdone   chan struct{} // signalled when a write was consumed
	rready  chan struct{} // signalled when data or an end is available
	werr    error         // the writer closed (io.EOF or its error)
	rerr    error         // the reader closed
	signal  *flushSignal
}

func newPipe(sig *flushSignal) *pipe {
	return &pipe{wdone: make(chan struct{}, 1), rready: make(chan struct{}, 1), signal: sig}
}

var errPipeClosed = errors.New("cellar: response body closed")

func (p *pipe) write(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	p.mu.Lock()
	if p.rerr != nil {
		p.mu.Unlock()
		return 0, p.rerr
	}
	p.data = b
	p.mu.Unlock()
	p.notify(p.rready)
	for {
		<-p.wdone
		p.mu.Lock()
		if p.rerr != nil {
			n := len(b) - len(p.data)
			p.data = nil
			p.mu.Unlock()
			return n, p.rerr
		}
		if len(p.data) == 0 {
			p.data = nil
			p.mu.Unlock()
			return len(b), nil
		}
		p.mu.Unlock()
	}
}

func (p *pipe) flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rerr != nil {
		return p.rerr
	}
	p.flushes = true
	p.notify(p.rready)
	return nil
}

func (p *pipe) notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (p *pipe) read(b []byte) (int, error) {
	for {
		p.mu.Lock()
		if p.rerr != nil {
			p.mu.Unlock()
			return 0, p.rerr
		}
		if len(p.data) > 0 {
			n := copy(b, p.data)
			p.data = p.data[n:]
			if p.flushes && len(p.data) == 0 {
				p.flushes = false
				p.signal.set()
			}
			p.mu.Unlock()
			p.notify(p.wdone)
			return n, nil
		}
		if p.flushes {
			// Return to the caller so that it can flush what it has.
			p.flushes = false
			p.signal.set()
			p.mu.Unlock()
			return 0, nil
		}
		if p.werr != nil {
			err := p.werr
			p.mu.Unlock()
			return 0, err
		}
		p.mu.Unlock()
		<-p.rready
	}
}

func (p *pipe) closeWrite(err error) {
	if err == nil {
		err = io.EOF
	}
	p.mu.Lock()
	if p.werr == nil {
		p.werr = err
	}
	p.mu.Unlock()
	p.notify(p.rready)
}

func (p *pipe) closeRead(err error) {
	if err == nil {
		err = errPipeClosed
	}
	p.mu.Lock()
	if p.rerr == nil {
		p.rerr = err
	}
	p.mu.Unlock()
	p.notify(p.wdone)
	p.notify(p.rready)
}

// pipeReader is the body of an in-process response.
type pipeReader struct{ p *pipe }

func (r *pipeReader) Read(b []byte) (int, error) { return r.p.read(b) }

func (r *pipeReader) Close() error {
	r.p.closeRead(nil)
	return nil
}
