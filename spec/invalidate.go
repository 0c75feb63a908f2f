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
	req Request
	// Forward is the request to send upstream: the client's, unchanged.
	Forward Request
	Reason  Reason
}

func newInvalidate(o *Options, req Request) InvalidateEntries {
	return InvalidateEntries{req: req, Forward: req, Reason: reason("unsafe-method", "RFC 9111 §4.4",
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

// Serve returns what to send the client: the upstream response as it is.
func (s InvalidateEntries) Serve(resp Response) Serve {
	sv := Serve{Status: resp.Status, base: resp.Header}
	sv.CacheStatus = CacheStatus{Fwd: FwdMethod, FwdStatus: resp.Status}
	return sv
}
