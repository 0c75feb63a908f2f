package proxy

import (
	"bufio"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"unicode/utf8"
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
	cacheStatus []string
	hijacked    bool

	// via, when set, is the Via member to add to the response.
	via    string
	viaBuf [1]string
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
		if r.via != "" {
			// RFC 9110 §7.6.3: appended to what the message already has.
			// The values may be a stored response's: never written to.
			if prior := h["Via"]; len(prior) > 0 {
				h["Via"] = append(prior[:len(prior):len(prior)], r.via)
			} else {
				r.viaBuf[0] = r.via
				h["Via"] = r.viaBuf[:]
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

// CacheStatusLabel returns a short label for the Cache-Status member named
// name (the last one, RFC 9211 §2: the cache nearest the client adds its
// member last): LabelHit, LabelHitStale, LabelRevalidated, the fwd reason of
// RFC 9211 §2.2 (uri-miss, vary-miss, miss, stale, request, method, bypass,
// partial), or LabelNone. It allocates nothing: it runs for every request.
func CacheStatusLabel(values []string, name string) string {
	var member string
	for _, v := range values {
		for rest := v; rest != ""; {
			var m string
			m, rest = nextMember(rest)
			item, _, _ := cutUnquoted(m, ';')
			if strings.EqualFold(strings.Trim(strings.TrimSpace(item), `"`), name) {
				member = m
			}
		}
	}
	if member == "" {
		return LabelNone
	}
	var hit, negTTL bool
	var fwd, fwdStatus string
	_, params, more := cutUnquoted(member, ';')
	for more {
		var p string
		p, params, more = cutUnquoted(params, ';')
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch {
		case lowerIs(k, "hit"):
			hit = v == "" || v == "?1"
		case lowerIs(k, "fwd"):
			fwd = v
		case lowerIs(k, "fwd-status"):
			fwdStatus = v
		case lowerIs(k, "ttl"):
			negTTL = strings.HasPrefix(v, "-")
		}
	}
	switch {
	case hit && negTTL:
		return LabelHitStale
	case hit:
		return LabelHit
	case lowerIs(fwd, "stale") && fwdStatus == "304":
		return LabelRevalidated
	case fwd == "":
		return LabelNone
	}
	for _, r := range fwdReasons {
		if lowerIs(fwd, r) {
			return r
		}
	}
	return LabelOther
}

// lowerIs reports whether strings.ToLower(s) == lower, for lower in ASCII
// lower case, without allocating.
func lowerIs(s, lower string) bool {
	if len(s) != len(lower) {
		for i := 0; i < len(s); i++ {
			if s[i] >= utf8.RuneSelf { // lower case may be shorter (U+212A is k)
				return strings.ToLower(s) == lower
			}
		}
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// fwdReasons are the fwd parameter values of RFC 9211 §2.2, each its own
// label.
var fwdReasons = [...]string{"bypass", "method", "uri-miss", "vary-miss", "miss", "request", "stale", "partial"}

// nextMember returns the first member of the list v, trimmed, and the rest
// after its comma; commas inside quoted strings do not split.
func nextMember(v string) (member, rest string) {
	m, rest, _ := cutUnquoted(v, ',')
	return strings.TrimSpace(m), rest
}

// cutUnquoted is strings.Cut at the first sep outside an RFC 9651
// sf-string: a ';' or ',' inside a quoted detail or key is text, not a
// delimiter.
func cutUnquoted(v string, sep byte) (before, after string, found bool) {
	quoted, escaped := false, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			return v[:i], v[i+1:], true
		}
	}
	return v, "", false
}
