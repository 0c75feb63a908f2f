package proxy

import (
	"bufio"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"

	"github.com/cellar-http/cellar/spec"
)

// recorder wraps the client's ResponseWriter to learn what was sent: the
// status, the body length and the cache's Cache-Status; it adds Via to the
// cache's responses. It keeps the optional interfaces reachable through
// Unwrap (http.ResponseController) and implements Hijack itself to notice
// upgrades.
type recorder struct {
	http.ResponseWriter
	client      *http.Request // the request as the client sent it
	status      int
	bytes       int64
	cacheStatus []string // the Cache-Status field as sent, for the access log
	hijacked    bool
	// cs is the cache's Cache-Status member, handed over as a value
	// (setCacheStatus), when hasCS.
	cs    spec.CacheStatus
	hasCS bool

	// via, when set, is the Via field with the member to add to the
	// response: the Proxy's, shared read-only by all responses (an array
	// here would be pointed to by the client's header map, which the
	// server reads after the handler returns, when the recorder may be
	// recycled: see calls).
	via []string
	// released is set when the cache holds nothing of the request it was
	// handed any more (ReleaseCellarRequest): the call may be recycled.
	released bool
	// pendingStatus is the Cache-Status of a bypass, to add after the
	// upstream's.
	pendingStatus []string

	// cached is set while the response comes from the cache: Via is added
	// to it, and it is flushed as ReverseProxy would flush it, after every
	// write for an event stream, a response of unknown length or with a
	// FlushInterval (flushEach), not otherwise: the cache also flushes when
	// a reader catches up with a fill, which would end a stored miss
	// before its entry is committed. ReverseProxy (direct) flushes its
	// responses itself.
	cached        bool
	flushInterval bool // Config.FlushInterval is set
	flushEach     bool
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		r.status = code
		h := r.Header()
		if len(r.via) > 0 {
			// RFC 9110 §7.6.3: appended to what the message already has.
			// The values may be a stored response's: never written to.
			if prior := h["Via"]; len(prior) > 0 {
				h["Via"] = append(prior[:len(prior):len(prior)], r.via[0])
			} else {
				h["Via"] = r.via
			}
		}
		if _, ok := h["Content-Type"]; !ok {
			// Send exactly the upstream's fields: net/http would sniff a
			// Content-Type (RFC 9110 §8.3: an intermediary must not
			// invent one; the upstream may even have said nosniff) unless
			// the key is present, nil.
			h["Content-Type"] = nil
		}
		r.cacheStatus = h["Cache-Status"]
		r.flushEach = r.cached && (r.flushInterval || flushable(h))
	}
	r.ResponseWriter.WriteHeader(code)
}

// flushable reports whether ReverseProxy flushes a response with header h
// after every write: an event stream, or no Content-Length.
func flushable(h http.Header) bool {
	if len(h["Content-Length"]) == 0 {
		return true
	}
	ct := h.Get("Content-Type")
	if len(ct) < len("text/event-stream") || !strings.EqualFold(ct[:len("text/event-stream")], "text/event-stream") {
		return false
	}
	base, _, _ := mime.ParseMediaType(ct)
	return base == "text/event-stream"
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	if r.flushEach && err == nil {
		_ = http.NewResponseController(r.ResponseWriter).Flush()
	}
	return n, err
}

// ReadFrom passes src to the client's ResponseWriter's ReadFrom, so that a
// stored body handed over as a file is sent with sendfile(2); a response
// flushed after every write is copied through Write instead.
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	rf, ok := r.ResponseWriter.(io.ReaderFrom)
	if !ok || r.flushEach {
		return io.Copy(struct{ io.Writer }{r}, src)
	}
	n, err := rf.ReadFrom(src)
	r.bytes += n
	return n, err
}

// Flush keeps http.Flusher for callers that type-assert it.
func (r *recorder) Flush() { _ = r.FlushError() }

// FlushError flushes, if the response is one to flush; it is what
// http.ResponseController calls.
func (r *recorder) FlushError() error {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	if r.cached && !r.flushEach {
		return nil
	}
	return http.NewResponseController(r.ResponseWriter).Flush()
}

// Hijack hands the connection to ReverseProxy for a 101 upgrade.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err == nil {
		r.hijacked = true
	}
	return c, brw, err
}

// ReleaseCellarRequest is how the cache's Handler says that it holds
// nothing of the request it was handed (the call's out) any more.
func (r *recorder) ReleaseCellarRequest(*http.Request) { r.released = true }

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Cache status labels, a small fixed set for metrics and logs.
const (
	LabelHit         = "hit"         // served from cache, fresh
	LabelHitStale    = "hit-stale"   // served from cache, stale (stale-while-revalidate, stale-if-error)
	LabelRevalidated = "revalidated" // forwarded because stale; the origin answered 304
	LabelNone        = "none"        // no Cache-Status from this cache
	LabelOther       = "other"       // a forward reason not in RFC 9211 §2.2
)

// CacheStatusLabel returns a short label for this cache's Cache-Status
// member cs, as the cache handed it over (cellar.HandlerOptions.CacheStatus):
// LabelHit, LabelHitStale, LabelRevalidated, the fwd reason of RFC 9211 §2.2
// (spec.FwdReasons), LabelOther for another fwd, or LabelNone when the
// member neither hit nor went forward (or there is none: the zero value).
func CacheStatusLabel(cs spec.CacheStatus) string {
	switch {
	case cs.Hit && cs.HasTTL && cs.TTL < 0:
		return LabelHitStale
	case cs.Hit:
		return LabelHit
	case cs.Fwd == spec.FwdStale && cs.FwdStatus == http.StatusNotModified:
		return LabelRevalidated
	case cs.Fwd == "":
		return LabelNone
	}
	for _, f := range spec.FwdReasons {
		if cs.Fwd == f {
			return string(f)
		}
	}
	return LabelOther
}

// setCacheStatus records the cache's Cache-Status member of the response
// (cellar.HandlerOptions.CacheStatus).
func (r *recorder) setCacheStatus(cs spec.CacheStatus) {
	r.cs, r.hasCS = cs, true
}
