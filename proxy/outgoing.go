package proxy

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
)

// outgoing returns the request to send upstream for r, exactly as the
// ReverseProxy in direct would build it (rewrite): the upstream's URL with
// the client's Host, no hop-by-hop fields, X-Forwarded-* and Via. The cache
// keys and decides on it (Vary may name any of those fields), and forwards
// it, with its own conditionals, through rp. Field values are shared with
// r, whose header is not modified.
func (p *Proxy) outgoing(c *call, r *http.Request) *http.Request {
	out := &c.out
	*out = *r // a shallow copy, context included, as Request.WithContext makes
	up := p.cfg.Upstream
	u := &c.url
	*u = *r.URL
	u.Scheme, u.Host = up.Scheme, up.Host
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
	if r.ContentLength == 0 {
		out.Body = nil
	}

	in := r.Header
	h := make(http.Header, len(in)+5)
	conn := in["Connection"]
	for k, vv := range in {
		switch k {
		case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
			"Te", "Trailer", "Transfer-Encoding", "Upgrade", // hop-by-hop (RFC 9110 §7.6.1)
			"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto": // the proxy's to set
			continue
		}
		if len(conn) > 0 && listsField(conn, k) {
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
	c.xfh[0] = r.Host
	h["X-Forwarded-Host"] = c.xfh[:]
	c.xfp[0] = "http"
	if r.TLS != nil {
		c.xfp[0] = "https"
	}
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
	out.Header = h
	return out
}

// rewriteOutgoing targets the upstream with a request the cache built from
// outgoing's: everything else is already as it must be sent.
// ReverseProxy removed the X-Forwarded-* fields and cleaned the query
// again: they are put back as they were.
func (p *Proxy) rewriteOutgoing(pr *httputil.ProxyRequest) {
	pr.Out.URL.Scheme, pr.Out.URL.Host = p.cfg.Upstream.Scheme, p.cfg.Upstream.Host
	pr.Out.URL.RawQuery = pr.In.URL.RawQuery
	pr.Out.Host = pr.In.Host
	for _, k := range [...]string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		if v, ok := pr.In.Header[k]; ok {
			pr.Out.Header[k] = v
		}
	}
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

// listsField reports whether the Connection field values conn name the
// canonical field k (RFC 9110 §7.6.1).
func listsField(conn []string, k string) bool {
	for _, v := range conn {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.Trim(f, " \t"), k) {
				return true
			}
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
