package spec

import (
	"net/http"
	"strconv"
)

// BodyPlan says which bytes of the body go to the client.
type BodyPlan int

const (
	// BodyAll sends the whole body (the stored one, or the upstream one).
	BodyAll BodyPlan = iota
	// BodyNone sends no body: HEAD, 304, 416, or a generated 504.
	BodyNone
	// BodyRanges sends the byte ranges in Serve.Ranges, as a single part or,
	// when there are several, as multipart/byteranges (RFC 9110 §14.6) framed
	// by Serve.Parts.
	BodyRanges
)

// Serve is the response to send to the client: a status, the header to send
// (built on demand from the stored or upstream header, so a lookup copies no
// header it does not need to) and which bytes of the body. The header is
// read when Header or WriteHeader is called, the hop-by-hop fields an
// upstream response's Connection names included: leave it unchanged until
// then.
type Serve struct {
	Status int
	Body   BodyPlan
	// Ranges are offsets into the body the caller holds (the stored body, or
	// the upstream one), when Body is BodyRanges.
	Ranges []ByteRange
	// CacheStatus holds the RFC 9211 parameters for this response.
	CacheStatus CacheStatus

	base   http.Header // not modified: may be a stored pair's header
	age    int64       // the Age to send (§5.1), when hasAge
	hasAge bool
	// conn leaves out the fields base's Connection names (RFC 9110
	// §7.6.1): set for an upstream response, whose header is base. The
	// names are read from base when the header is written, so that a
	// response nobody writes costs nothing.
	conn bool
	// noCache is the field list of a qualified no-cache (§5.2.2.4), as
	// written: the fields it names are left out.
	noCache string
	set     http.Header // fields to add or replace
	parts   *multipart  // framing when several ranges are sent
}

// Header returns a new header holding what to send to the client.
func (s *Serve) Header() http.Header {
	h := make(http.Header, len(s.base)+len(s.set)+1)
	s.WriteHeader(h)
	return h
}

// WriteHeader copies the header to send into dst (typically a
// ResponseWriter's header), without touching the stored header.
func (s *Serve) WriteHeader(dst http.Header) {
	conn := s.connection()
	for k, vv := range s.base {
		if s.dropped(k, conn) {
			continue
		}
		dst[k] = vv[:len(vv):len(vv)]
	}
	for k, vv := range s.set {
		if len(vv) == 0 {
			delete(dst, k)
			continue
		}
		dst[k] = vv
	}
	if s.hasAge {
		dst["Age"] = []string{strconv.FormatInt(s.age, 10)}
	}
}

// connection returns the Connection field lines whose members name fields
// to leave out (see Serve.conn).
func (s *Serve) connection() []string {
	if !s.conn {
		return nil
	}
	return s.base["Connection"]
}

// dropped reports whether field k of base is left out: a hop-by-hop field,
// one named by conn (s.connection()) or by a qualified no-cache.
func (s *Serve) dropped(k string, conn []string) bool {
	return HopByHop(k, conn) || s.noCache != "" && namesField(s.noCache, k)
}

// setField sets a field to add or replace; an empty value removes it.
func (s *Serve) setField(k string, v ...string) {
	if s.set == nil {
		s.set = http.Header{}
	}
	s.set[k] = v
}

// ContentLength returns the number of body bytes the plan sends given the
// full body length size, or -1 when it sends everything of unknown length.
func (s *Serve) ContentLength(size int64) int64 {
	switch s.Body {
	case BodyNone:
		return 0
	case BodyRanges:
		if s.parts != nil {
			return s.parts.length()
		}
		if len(s.Ranges) == 1 {
			return s.Ranges[0].Length
		}
	}
	return size
}
