package proxy

import (
	"net/http"
	"net/netip"
)

// The scheme of the cache key is the client's. A stored response answers
// only its own target URI (RFC 9111 §4), and the target URI's scheme is
// the one the client asked for (RFC 9110 §4.2, §7.1), which a server
// reconstructs as "https" when the connection is secured (RFC 9112 §3.3).
// It is also what the origin is told through X-Forwarded-Proto, and what
// it answers for: an origin that redirects plain HTTP to HTTPS answers
// the same upstream URL with a 301 or the page depending on that field
// alone. Keyed on the upstream's scheme, as it was, the 301 fetched for a
// plain-HTTP client (of this process, or of another one sharing the store)
// was served to the HTTPS clients, who were redirected to the URL they
// had asked for, in a loop.
//
// The design: outgoing hands the cache a request whose URL is the
// upstream's but for its scheme, the client's, so that the cache keys it
// (and resolves Location and Content-Location against it, RFC 9111 §4.4)
// as the client's target URI, as it keys a server request (keyURL); the
// forwarder puts the upstream's scheme back on what goes upstream. No
// hook in the cache's Config is needed, a hit costs nothing more, and a
// proxy whose listener serves one scheme keeps the keys it had when that
// scheme is the upstream's.

// clientScheme returns the scheme of the target URI r's client asked for:
// "https" when its connection is secured (RFC 9112 §3.3), "http"
// otherwise; but from a peer in Config.TrustedProxies (a load balancer
// that terminates TLS), the X-Forwarded-Proto it sent when that is
// exactly one field line of "http" or "https". Any other value from it is
// taken as absent. From any other peer the field is ignored: a client
// that chose the key's scheme could have a response fetched over plain
// HTTP (a redirect to HTTPS) stored under the key of HTTPS clients.
func (p *Proxy) clientScheme(r *http.Request) string {
	if len(p.cfg.TrustedProxies) > 0 {
		if v := r.Header["X-Forwarded-Proto"]; len(v) == 1 && (v[0] == "http" || v[0] == "https") && p.trustedPeer(r.RemoteAddr) {
			return v[0]
		}
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// trustedPeer reports whether remoteAddr (ip:port, as net/http sets
// Request.RemoteAddr) is inside one of Config.TrustedProxies. An IPv4
// peer seen as an IPv4-mapped IPv6 address (a dual-stack listener)
// matches IPv4 prefixes.
func (p *Proxy) trustedPeer(remoteAddr string) bool {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, pfx := range p.cfg.TrustedProxies {
		if pfx.Contains(ip) {
			return true
		}
	}
	return false
}

// upstreamURL returns req's URL with the upstream's scheme, in a shallow
// copy of req when it carries the client's (outgoing): what goes
// upstream is the upstream's URL, whatever the key's scheme.
func upstreamURL(req *http.Request, scheme string) *http.Request {
	if req.URL == nil || req.URL.Scheme == scheme {
		return req
	}
	out := *req // as Request.WithContext copies it
	u := *req.URL
	u.Scheme = scheme
	out.URL = &u
	return &out
}
