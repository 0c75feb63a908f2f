package spec

import "net/http"

// mergeHeader returns p with its stored header updated from resp (a 304, a
// HEAD response or a newer partial response), as RFC 9111 §3.2 requires:
// every field of resp replaces the stored one, except those never stored
// (§3.1: hop-by-hop, Connection-named, proxy authentication, and in a shared
// cache the fields a qualified private names), Content-Length (the stored
// body did not change), Content-Range (processed with the content) and
// Content-Encoding (the stored body is coded as it was). The
// request and response times become those of resp, whose freshness now
// applies (§4.3.4).
//
// withheld lists the fields of resp that were kept out of storage although
// the client this response answers may receive them: the qualified private
// fields, and Set-Cookie in a shared cache that does not store it.
func mergeHeader(o *Options, p Pair, resp Response) (merged Pair, withheld []string) {
	h := p.Response.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	conn := resp.Header["Connection"]
	for k, vv := range resp.Header {
		if HopByHop(k, conn) || k == "Content-Length" || k == "Content-Range" {
			continue
		}
		// §3.2 lets a cache keep the fields its stored content depends
		// upon, and names Content-Encoding: the stored bytes stay coded
		// as they were. Taken from a 304, a middleware's Content-Encoding
		// (set for one client's Accept-Encoding: br, and left on the 304
		// when the origin reuses its ETag) would relabel the identity body
		// served to every client as br.
		if k == "Content-Encoding" {
			continue
		}
		// Options.StoreSetCookie (RFC 9111 §7.3): a shared cache that does
		// not store responses with Set-Cookie must not take one into
		// storage from a 304 either, or it would hand one user's cookie to
		// the next user.
		if k == "Set-Cookie" && o.Shared && !o.StoreSetCookie {
			withheld = append(withheld, k)
			continue
		}
		h[k] = append([]string(nil), vv...)
	}
	if o.Shared {
		// §3.1 and §5.2.2.7: a shared cache MUST NOT store the fields a
		// qualified private names, including those a 304 brings (§3.2
		// excepts the fields §3.1 excepts from storage). The directive in
		// force is the merged one: the 304's, or the stored response's when
		// the 304 has none.
		if pol := responsePolicy(o, h); pol.cc.private && pol.cc.privateFields != "" {
			forEachFieldName(pol.cc.privateFields, func(n string) {
				k := http.CanonicalHeaderKey(n)
				if _, ok := resp.Header[k]; ok {
					withheld = append(withheld, k)
				}
				delete(h, k)
			})
		}
	}
	if len(resp.Header["Date"]) == 0 && !resp.ResponseTime.IsZero() {
		h["Date"] = []string{formatHTTPDate(resp.ResponseTime)}
	}
	// The old Age no longer describes the freshened response.
	if len(resp.Header["Age"]) == 0 {
		delete(h, "Age")
	}
	p.Response.Header = h
	p.Response.RequestTime, p.Response.ResponseTime = resp.RequestTime, resp.ResponseTime
	return p, withheld
}
