package spec

import (
	"net/http"
	"net/url"
	"time"
)

// Request is a request as the cache sees it: what the client asked for, or
// what the cache sends upstream. Header is multi-valued and never joined.
type Request struct {
	Method string
	URL    *url.URL
	Header http.Header
	// HasContent reports that the request carries content (a body, RFC
	// 9110 §6.4), of any or of unknown length. Content in a GET or HEAD has
	// no defined semantics (RFC 9110 §9.3.1), yet an origin may shape its
	// response by it: a response to a request with content is never stored,
	// nor used to update a stored one, unless ContentKeyed.
	HasContent bool
	// ContentKeyed reports that the caller made the content part of the
	// key: it extended Key(req) with a digest of the content (as the
	// engine's Config.BodyKey does), so that only requests with the same
	// content share the stored response.
	ContentKeyed bool
}

// unkeyedContent reports whether r carries content the key ignores.
func (r *Request) unkeyedContent() bool { return r.HasContent && !r.ContentKeyed }

// Response is a response's status and header section, with the two times
// RFC 9111 §4.2.3 needs to compute its age.
type Response struct {
	Status int
	Header http.Header
	// RequestTime is request_time (§4.2.3): when the request that produced
	// this response was sent by the cache.
	RequestTime time.Time
	// ResponseTime is response_time (§4.2.3): when the response was received.
	ResponseTime time.Time
}

// Pair is a stored response with the request it answered: the request's
// method and URL give the key, its header (only the fields the response's
// Vary names) selects the variant (§4.1), and the response is what is
// served or validated. A store keeps one Pair per variant.
type Pair struct {
	// ID names the pair in the caller's store. The core never interprets it;
	// it hands it back in the states that ask the caller to update, replace
	// or serve stored pairs.
	ID       string
	Request  Request
	Response Response
}

// clone returns a copy of r whose Header can be changed without touching r's.
func (r Response) clone() Response {
	r.Header = r.Header.Clone()
	if r.Header == nil {
		r.Header = http.Header{}
	}
	return r
}
