package proxy

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"

	"github.com/cellar-http/cellar/spec"
)

// outgoing returns the request to send upstream for r, exactly as the
// ReverseProxy in direct would build it (rewrite): the upstream's URL with
// the client's Host (or the one Config.KeyHost chooses), no hop-by-hop
// fields, X-Forwarded-* and Via; but its URL's scheme is the client's
// (clientScheme, see scheme.go), which the forwarder replaces with the
// upstream's. The cache keys and decides on it (Vary may name any of
// those fields), and sends it, with its own conditionals, through a
// forwarder. Field values are shared with r, whose header is not
// modified.
func (p *Proxy) outgoing(c *call, r *http.Request) *http.Request {
	out := &c.out
	*out = *r // a shallow copy, context included, as Request.WithContext makes
	up := p.cfg.Upstream
	u := &c.url
	*u = *r.URL
	scheme := p.clientScheme(r)
	u.Scheme, u.Host = scheme, up.Host // the key's scheme: the client's
	u.Path, u.RawPath = joinURLPath(up, r.URL)
	u.RawQuery = p.cleanQuery(r.URL.RawQuery)
	if up.RawQuery != "" {
		if u.RawQuery == "" {
			u.RawQuery = up.RawQuery
		} else {
			u.RawQuery = up.RawQuery + "&" + u.RawQuery
		}
	}
	out.URL = u
	out.Close = false
	if p.cfg.KeyHost != nil {
		// The key's authority is the one forwarded (Config.KeyHost).
		if h := p.cfg.KeyHost(out); h != "" {
			out.Host = h
		}
	}
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		out.Body = nil
	} else {
		// As ReverseProxy: the transport closes the body it sends, on
		// failure too, and the client's must stay open until the server
		// is done with it (a body awaiting 100-continue would hang).
		c.body.rc = r.Body
		out.Body = &c.body
	}

	in := r.Header
	h := c.header // a recycled call's, cleared
	if h == nil {
		h = make(http.Header, len(in)+5)
		c.header = h
	}
	conn := in["Connection"]
	for k, vv := range in {
		switch {
		case spec.HopByHop(k, conn):
			continue
		case p.notForwarded(k):
			continue
		case strings.IndexByte(k, '_') >= 0 && p.notForwarded(http.CanonicalHeaderKey(strings.ReplaceAll(k, "_", "-"))):
			// CGI and WSGI servers (PHP, older gunicorn) read
			// X_Forwarded_Host as X-Forwarded-Host: both become
			// HTTP_X_FORWARDED_HOST. nginx and Apache drop such names
			// for that reason; so does the proxy, for the fields it
			// sets or drops.
			continue
		}
		h[k] = vv[:len(vv):len(vv)]
	}
	if containsToken(in["Te"], "trailers") {
		h["Te"] = []string{"trailers"}
	}
	if clientIP, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior := in["X-Forwarded-For"]; len(prior) > 0 {
			clientIP = strings.Join(prior, ", ") + ", " + clientIP
		}
		c.xff[0] = clientIP
		h["X-Forwarded-For"] = c.xff[:]
	}
	c.xfh[0] = out.Host // the client's, unless Config.KeyHost chose the key's
	h["X-Forwarded-Host"] = c.xfh[:]
	c.xfp[0] = scheme // a trusted peer's, as it sent it, or the connection's
	h["X-Forwarded-Proto"] = c.xfp[:]
	via := p.requestVia(r.ProtoMajor, r.ProtoMinor)
	if prior := h["Via"]; len(prior) > 0 {
		h["Via"] = append(prior, via) // prior is capped: a new array
	} else {
		c.via[0] = via
		h["Via"] = c.via[:]
	}
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = c.ua[:] // "": not Go's default
	}
	if out.Body == nil {
		// RFC 9110 §10.1.1: "A client MUST NOT generate a 100-continue
		// expectation in a request that does not include content." The
		// field is unkeyed, and an origin may refuse it (417).
		delete(h, "Expect")
	}
	out.Header = h
	return out
}

// notForwarded reports whether the client's field named k (canonical) is
// left out of the forwarded request: set by the proxy itself, or unkeyed
// and trusted by origins (Config.DropRequestFields).
func (p *Proxy) notForwarded(k string) bool {
	switch k {
	case "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto":
		return true // the proxy's to set
	}
	return p.dropped[k]
}

// forwarder sends the requests the cache forwards, built by outgoing,
// over the upstream transport, with the upstream's scheme in place of the
// client's that the cache keyed them on, and removes from the responses
// the hop-by-hop fields a proxy must not pass on (RFC 9110 §7.6.1), as
// ReverseProxy does, before the cache stores or serves them.
type forwarder struct {
	rt     http.RoundTripper
	scheme string // the upstream's
}

func (f forwarder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := f.rt.RoundTrip(upstreamURL(req, f.scheme))
	if err != nil {
		return nil, err
	}
	removeHopByHop(resp.Header)
	return resp, nil
}

// removeHopByHop removes the fields the core never forwards
// (spec.HopByHop): the hop-by-hop ones and those Connection names.
func removeHopByHop(h http.Header) {
	conn := h["Connection"]
	for k := range h {
		if spec.HopByHop(k, conn) {
			delete(h, k)
		}
	}
}

// noopCloseBody is a request body whose Close leaves the client's body
// open: reads after it fail.
type noopCloseBody struct {
	rc     io.ReadCloser
	closed atomic.Bool
}

func (b *noopCloseBody) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, errors.New("proxy: read of a closed request body")
	}
	return b.rc.Read(p)
}

func (b *noopCloseBody) Close() error {
	b.closed.Store(true)
	return nil
}

// joinURLPath joins the upstream's path and a request's as ReverseProxy
// does (SetURL): one slash between them, the escaped forms joined alike.
func joinURLPath(a, b *url.URL) (path, rawpath string) {
	if a.RawPath == "" && b.RawPath == "" {
		return singleJoiningSlash(a.Path, b.Path), ""
	}
	apath, bpath := a.EscapedPath(), b.EscapedPath()
	aslash, bslash := strings.HasSuffix(apath, "/"), strings.HasPrefix(bpath, "/")
	switch {
	case aslash && bslash:
		return a.Path + b.Path[1:], apath + bpath[1:]
	case !aslash && !bslash:
		return a.Path + "/" + b.Path, apath + "/" + bpath
	}
	return a.Path + b.Path, apath + bpath
}

func singleJoiningSlash(a, b string) string {
	aslash, bslash := strings.HasSuffix(a, "/"), strings.HasPrefix(b, "/")
	switch {
	case aslash && bslash:
		return a + b[1:]
	case !aslash && !bslash:
		return a + "/" + b
	}
	return a + b
}

// maxQueryParams is net/url's bound on query parameters, past which
// ReverseProxy re-encodes a query.
const maxQueryParams = 10000

// cleanQuery drops the query parameters net/url cannot parse, as
// ReverseProxy does before forwarding (a semicolon separator, a bad
// escape): the query is then re-encoded from what parses. A query that
// parses is returned as it is.
func (p *Proxy) cleanQuery(s string) string {
	reencode := func(s string) string {
		v, _ := url.ParseQuery(s)
		return v.Encode()
	}
	if p.reencodeQueries || strings.Count(s, "&")+1 > maxQueryParams {
		return reencode(s)
	}
	for i := 0; i < len(s); {
		switch s[i] {
		case ';':
			return reencode(s)
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return reencode(s)
			}
			i += 3
		default:
			i++
		}
	}
	return s
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// godebugSet reports whether GODEBUG sets name (to anything).
func godebugSet(name string) bool {
	for kv := range strings.SplitSeq(os.Getenv("GODEBUG"), ",") {
		if k, _, ok := strings.Cut(strings.TrimSpace(kv), "="); ok && k == name {
			return true
		}
	}
	return false
}

// containsToken reports whether the comma-separated values hold token,
// compared case-insensitively (httpguts.HeaderValuesContainsToken).
func containsToken(values []string, token string) bool {
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.Trim(t, " \t"), token) {
				return true
			}
		}
	}
	return false
}
