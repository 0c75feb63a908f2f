package cellar

import (
	"maps"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"

	"github.com/cellar-http/cellar/spec"
)

// interimSink passes interim (1xx) responses from upstream to the client of
// a Handler as they arrive (RFC 9110 §15.2: "A proxy MUST forward 1xx
// responses unless the proxy itself requested the generation of the 1xx
// response"): 102 (Processing), 103 (Early Hints) and any other 1xx but
// 100 (Continue), which the client's server answers itself, and 101
// (Switching Protocols), which is final for the connection.
//
// Only the client whose request went upstream gets them: a request
// collapsed into another's flight, or answered from the store, learns of
// no interim response, since by the time it joins they may be long gone.
// They are never stored, nor are their fields merged into the final
// response: a client sees them once, on the connection they came for.
//
// The upstream side calls send from the transport's goroutine while the
// request's goroutine waits for the final response; close, called before
// the final header is written and when the handler returns, makes later
// interim responses (a background refresh's, say) go nowhere.
type interimSink struct {
	mu     sync.Mutex
	w      http.ResponseWriter
	closed bool
	trace  httptrace.ClientTrace
}

// init readies s for w; the trace is made only when a request goes
// upstream, so that a hit costs nothing for it.
func (s *interimSink) init(w http.ResponseWriter) { s.w = w }

// got1xx is the trace's Got1xxResponse.
func (s *interimSink) got1xx(code int, h textproto.MIMEHeader) error {
	s.send(code, http.Header(h))
	return nil
}

// send writes an interim response with header h to the client, unless the
// final response has started. The client's header map is left as it was.
func (s *interimSink) send(code int, h http.Header) {
	if s == nil || code <= http.StatusSwitchingProtocols || code >= 200 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	dst := s.w.Header()
	saved := maps.Clone(dst)
	clear(dst)
	conn := h["Connection"]
	for k, vv := range h {
		if spec.HopByHop(k, conn) {
			continue
		}
		dst[k] = vv
	}
	s.w.WriteHeader(code)
	clear(dst)
	maps.Copy(dst, saved)
}

// close stops interim responses: the final one is about to be written, or
// the handler returned.
func (s *interimSink) close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

// withInterim returns req carrying the trace that passes its interim
// responses to s.
func (s *interimSink) withInterim(req *http.Request) *http.Request {
	if s == nil {
		return req
	}
	s.mu.Lock()
	if s.trace.Got1xxResponse == nil {
		s.trace.Got1xxResponse = s.got1xx
	}
	s.mu.Unlock()
	return req.WithContext(httptrace.WithClientTrace(req.Context(), &s.trace))
}
