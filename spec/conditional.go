package spec

import (
	"net/http"
	"time"
)

// Answering the client's own conditional request from storage (RFC 9111
// §4.3.2, with RFC 9110 §13.1 and §13.2.2).

// notModified evaluates the client's If-None-Match, or If-Modified-Since when
// If-None-Match is absent, against a selected response (RFC 9111 §4.3.2, RFC
// 9110 §13.2.2). If-Match and If-Unmodified-Since are for the origin only.
func notModified(req, resp http.Header, date time.Time) bool {
	if inm := req["If-None-Match"]; len(inm) > 0 {
		// A stored response without a (valid) ETag still matches "*":
		// RFC 9110 §13.1.2 makes "*" false whenever a current
		// representation exists, and the zero tag matches nothing else.
		t, _ := parseETag(first(resp["Etag"]))
		return etagListMatches(inm, t, true) // §13.1.2: weak comparison
	}
	ims, ok := headerTime(req, "If-Modified-Since")
	if !ok {
		return false
	}
	// §4.3.2: without Last-Modified, the stored Date (or receipt time).
	lm, ok := headerTime(resp, "Last-Modified")
	if !ok {
		lm = date
	}
	return !lm.After(ims)
}

// notModifiedServe turns s into a 304 (Not Modified) for the client.
func notModifiedServe(s *Serve) {
	h := make(http.Header, len(notModifiedFields))
	conn := s.connection()
	for _, k := range notModifiedFields {
		if v, ok := s.base[k]; ok && !s.dropped(k, conn) {
			h[k] = v
		}
	}
	s.base, s.Status, s.Body, s.Ranges, s.set = h, http.StatusNotModified, BodyNone, nil, nil
}

// notModifiedFields are the fields a 304 carries from the response it stands
// for (RFC 9110 §15.4.5); other representation metadata is left out.
var notModifiedFields = []string{"Cache-Control", "Content-Location", "Date", "Etag", "Expires", "Vary", "Cdn-Cache-Control", "Last-Modified"}
