package spec

import (
	"net/http"
	"time"
)

// FromCache means a stored response answers the request without going
// forward (RFC 9111 §4). Serve it as Serve says: the status may be 200, a
// 304 for the client's own conditional request (§4.3.2), a 206 or 416 for a
// Range request (RFC 9110 §14), or a generated 504 for only-if-cached.
//
// A FromCache may carry a second walk: when Refresh is not nil (a stale
// response served under stale-while-revalidate, RFC 5861 §3), serving it
// is not the end. The caller follows Refresh like any NeedRevalidation
// (Next, UpstreamFailedWith, and the CacheMiss it may lead to) once the
// stale body is open, detached from the client's request, and stores what
// that walk says; the client has already been answered.
type FromCache struct {
	// Pair is the stored pair whose body to read; nil for a generated 504.
	Pair *Pair
	// Serve is what to send.
	Serve Serve
	// Refresh, when not nil, asks the caller to revalidate in the
	// background (RFC 5861 stale-while-revalidate) and to follow that
	// state to its end, detached from this request.
	Refresh *NeedRevalidation
	Reason  Reason
}

// serveStored builds the FromCache answer from stored pair p (§4): Age,
// qualified no-cache fields left out, then the client's conditionals and
// ranges applied. detail names why a stale response is served, if it is.
func serveStored(o *Options, req *Request, p *Pair, pol *policy, f *freshness, detail string, why Reason) FromCache {
	fc := FromCache{Pair: p, Reason: why}
	initStoredServe(&fc.Serve, req, p, pol, f)
	fc.Serve.CacheStatus = CacheStatus{Hit: true, TTL: f.ttlSeconds(), HasTTL: true, Detail: detail}
	return fc
}

// storedServe answers req from stored pair p, whether just validated or not.
func storedServe(req *Request, p *Pair, pol *policy, f *freshness) Serve {
	var s Serve
	initStoredServe(&s, req, p, pol, f)
	return s
}

// initStoredServe is storedServe into s, which must be zero: a hit builds
// its FromCache in place.
func initStoredServe(s *Serve, req *Request, p *Pair, pol *policy, f *freshness) {
	s.Status, s.base, s.age, s.hasAge = p.Response.Status, p.Response.Header, ageSeconds(f.age), true
	// §5.2.2.4: fields named by a qualified no-cache must not be sent
	// without successful validation; a just-validated pair has a fresh age
	// measured from the validation, but the caller cannot tell, so the
	// rule is applied whenever the response is served from storage.
	s.noCache = pol.cc.noCacheFields
	applyClient(s, req, p.Response.Header, f.date, true)
}

// applyClient adapts a response about to be served to the client's request:
// a 304 for a matching conditional (RFC 9111 §4.3.2), HEAD without a body,
// and Range requests (RFC 9110 §14.2).
//
// multi allows several ranges (multipart/byteranges); a caller streaming an
// upstream body sets it false, since it can only skip forward once.
func applyClient(s *Serve, req *Request, h http.Header, date time.Time, multi bool) {
	if s.Status == http.StatusOK || s.Status == http.StatusPartialContent {
		if notModified(req.Header, h, date) {
			notModifiedServe(s)
			return
		}
	}
	if req.Method == http.MethodHead {
		s.Body = BodyNone
		return
	}
	if s.Status == http.StatusOK {
		applyRange(s, req.Header, h, date, multi)
	}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
