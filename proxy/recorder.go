package proxy

import (
	"bufio"
	"mime"
	"net"
	"net/http"
	"strings"
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

	// Flushes reach the client when ReverseProxy would make them: always
	// with a FlushInterval (flushAlways), else for event streams and
	// responses of unknown length (see flushable), whoever asks (the
	// cache flushes whenever it is told or a reader catches up with a
	// fill). So a response of known length ends only when the cache's
	// body does: for a miss, after the entry is committed.
	flushAlways bool
	flushes     bool
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
		r.cacheStatus = h["Cache-Status"]
		r.flushes = r.flushAlways || flushable(h)
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
	if !r.flushes {
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
// partial), or LabelNone.
func CacheStatusLabel(values []string, name string) string {
	var member string
	for _, v := range values {
		for _, m := range splitList(v) {
			item, _, _ := strings.Cut(m, ";")
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
	params := strings.Split(member, ";")[1:]
	for _, p := range params {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch strings.ToLower(k) {
		case "hit":
			hit = v == "" || v == "?1"
		case "fwd":
			fwd = strings.ToLower(v)
		case "fwd-status":
			fwdStatus = v
		case "ttl":
			negTTL = strings.HasPrefix(v, "-")
		}
	}
	switch {
	case hit && negTTL:
		return LabelHitStale
	case hit:
		return LabelHit
	case fwd == "stale" && fwdStatus == "304":
		return LabelRevalidated
	}
	switch fwd {
	case "bypass", "method", "uri-miss", "vary-miss", "miss", "request", "stale", "partial":
		return fwd
	case "":
		return LabelNone
	}
	return LabelOther
}

// splitList splits a field value on commas outside quoted strings.
func splitList(v string) []string {
	var out []string
	quoted, escaped, start := false, false, 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, strings.TrimSpace(v[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(v[start:]))
}
