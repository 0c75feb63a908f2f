package spec

import (
	"net/http"
	"net/url"
	"slices"
)

// InvalidateEntries means the request has an unsafe (or unknown) method: it
// goes upstream unchanged, and after a non-error response the stored
// responses named by Keys must be removed (RFC 9111 §4.4).
type InvalidateEntries struct {
	o   *Options
	req Request
	// Forward is the request to send upstream: the client's, unchanged.
	Forward Request
	Reason  Reason
}

func newInvalidate(o *Options, req Request) InvalidateEntries {
	return InvalidateEntries{o: o, req: req, Forward: req, Reason: reason(ReasonUnsafeMethod, "RFC 9111 §4.4",
		req.Method+" may change the resource, so stored responses for it are invalidated after a non-error response")}
}

// Keys returns the primary keys to invalidate once resp arrived: none for an
// error response; else the target URI, and the Location and
// Content-Location URIs when they have the target's origin (§4.4). Each URI
// is invalidated under its key as sent (TargetURI) and under its normal
// form (RFC 9110 §4.2.3), which the cache keys apart: an origin that
// decodes "/stric%74/page" changed "/strict/page" too, and §4.4 lets a
// cache invalidate other URIs of the same origin.
func (s InvalidateEntries) Keys(resp Response) []string {
	if resp.Status < 200 || resp.Status >= 400 || s.req.URL == nil {
		return nil
	}
	keys := invalidationKeys(nil, s.req.URL)
	for _, f := range []string{"Location", "Content-Location"} {
		v := first(resp.Header[f])
		if v == "" {
			continue
		}
		ref, err := url.Parse(v)
		if err != nil {
			continue
		}
		u := s.req.URL.ResolveReference(ref)
		if !sameOrigin(u, s.req.URL) {
			continue // §4.4: never across origins, against denial of service
		}
		keys = invalidationKeys(keys, u)
	}
	return keys
}

// invalidationKeys appends to keys those of u not already there: its key
// and the key of its normal form.
func invalidationKeys(keys []string, u *url.URL) []string {
	for _, k := range []string{Key(Request{Method: http.MethodGet, URL: u}), NormalizeURI(u)} {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// Prefixes returns the key prefixes whose entries must be removed too once
// resp arrived (a store's PurgePrefix): for each key of Keys, the keys of
// the responses stored for other methods of that URI, which Key writes
// after OtherMethodsPrefix, body-hashed keys included (§4.4: "all stored
// responses whose target URI matches"). It is empty when only GET and HEAD
// responses are stored, as by default, so that an unsafe request then
// costs no prefix scan.
func (s InvalidateEntries) Prefixes(resp Response) []string {
	if s.o == nil || !s.o.cachesOtherMethods() {
		return nil
	}
	keys := s.Keys(resp)
	for i, k := range keys {
		keys[i] = OtherMethodsPrefix(k)
	}
	return keys
}

// Store reports whether resp, the response to a POST, is to be stored as
// the answer to a later GET or HEAD of the target URI, after the
// invalidation, and how (RFC 9110 §9.3.3: a POST response "can be reused to
// satisfy a later GET or HEAD request" when it has explicit freshness
// (RFC 9111 §4.2.1) and a Content-Location with the same value as the
// target URI). The response must otherwise be one the cache would store
// for a GET of the target (§3: no-store, private, Authorization, Set-Cookie
// and Vary still decide), and a 200: another status would not represent
// the target resource to that GET. The StoreAndUse names the GET key and
// serves resp to the client as Serve would.
func (s InvalidateEntries) Store(resp Response) (StoreAndUse, bool) {
	if s.req.Method != http.MethodPost || resp.Status != http.StatusOK || !contentLocationIsTarget(s.req.URL, resp.Header) {
		return StoreAndUse{}, false
	}
	get := s.req
	get.Method = http.MethodGet
	rq := requestPolicy(s.o, get.Header)
	sa, ok := newMiss(s.o, get, &rq, FwdMethod, s.Reason).Next(resp).(StoreAndUse)
	if !ok {
		return StoreAndUse{}, false
	}
	switch sa.Reason.Code {
	case ReasonSMaxage, ReasonMaxAge, ReasonExpires:
	default: // public, private or a heuristic: no explicit freshness
		return StoreAndUse{}, false
	}
	sa.Reason = reason(ReasonPostContentLocation, "RFC 9110 §9.3.3",
		"the POST response has explicit freshness and a Content-Location equal to its target URI, so it is stored to answer a later GET")
	return sa, true
}

// contentLocationIsTarget reports whether h's Content-Location, resolved
// against target, is the target URI (compared in normal form, RFC 9110
// §4.2.3).
func contentLocationIsTarget(target *url.URL, h http.Header) bool {
	v := first(h["Content-Location"])
	if v == "" || target == nil {
		return false
	}
	ref, err := url.Parse(v)
	if err != nil {
		return false
	}
	return NormalizeURI(target.ResolveReference(ref)) == NormalizeURI(target)
}

// Serve returns what to send the client: the upstream response as it is.
func (s InvalidateEntries) Serve(resp Response) Serve {
	sv := Serve{Status: resp.Status, base: resp.Header}
	sv.CacheStatus = CacheStatus{Fwd: FwdMethod, FwdStatus: resp.Status}
	return sv
}
