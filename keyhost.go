package cellar

import (
	"net/http"
	"net/url"
)

// keyURLFor is keyURL with the authority Config.KeyHost chooses for req.
// Only the key changes: the request forwarded upstream keeps its URL and
// Host, so the key still names the resource that was fetched, under the
// name the operator chose for it.
func (c *Cache) keyURLFor(req *http.Request, buf *url.URL) *url.URL {
	u := keyURL(req, buf)
	if c.keyHost == nil {
		return u
	}
	host := c.keyHost(req)
	if host == "" || host == u.Host {
		return u
	}
	if u != buf || buf == nil {
		// keyURL returned the request's own URL: never modify it.
		if buf == nil {
			buf = new(url.URL)
		}
		*buf = *u
	}
	buf.Host = host
	return buf
}

// KeyOnHost returns a Config.KeyHost that keys every request under the
// authority host (e.g. "www.example.com"): requests that reach the cache
// under several names (localhost and 127.0.0.1, or the names a load
// balancer passes on) share their stored responses, and several caches
// sharing one store agree on the keys.
func KeyOnHost(host string) func(*http.Request) string {
	return func(*http.Request) string { return host }
}

// KeyOnURLHost is a Config.KeyHost that keys each request under the host
// of its URL, which is where it is sent (a reverse proxy's upstream),
// rather than under the Host the client sent.
func KeyOnURLHost(req *http.Request) string {
	if req.URL == nil {
		return ""
	}
	return req.URL.Host
}
