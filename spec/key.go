package spec

import (
	"net/url"
	"strings"
)

// Key returns the primary cache key of req (RFC 9111 §2, §4.1): its target
// URI as it is forwarded (TargetURI). GET and HEAD share a key, because a stored GET response
// can answer a HEAD (RFC 9110 §9.3.2); other cacheable methods (an opt-in
// such as POST) follow the URI with a space and the method, and their
// callers may extend the key further (e.g. with a hash of the body). Every
// key of a target URI thus starts with OtherMethodsPrefix of its GET key,
// which is how invalidation reaches them all (§4.4,
// InvalidateEntries.Prefixes).
func Key(req Request) string {
	uri := TargetURI(req.URL)
	switch req.Method {
	case "GET", "HEAD", "":
		return uri
	}
	return OtherMethodsPrefix(uri) + req.Method
}

// TargetURI renders u as the cache keys it: the scheme in lower case, "://",
// the host exactly as given (the engine puts there the Host the request is
// forwarded with), and u.RequestURI(), the very function net/http's
// Transport writes the request line with (and HTTP/2's :path). The key and
// the forwarded request are thus computed by one function, and the key
// always names the resource the next hop is asked for. A nil URL gives "".
//
// It is deliberately not the normal form of RFC 9110 §4.2.3 (NormalizeURI).
// That section lets a cache compare keys "as a simple string", and RFC 9110
// §7.7 forbids a proxy to modify the path and query it forwards, so the
// raw form is what goes upstream. Keying on the normal form while
// forwarding the raw one lets an origin that tells spellings apart (routing
// on the raw path, as Express does, or matching Host case-sensitively, as
// Go's ServeMux host patterns do) answer 404 to "/stric%74/page" and have
// that 404 served for "/strict/page": cache poisoning (RFC 9111 §7.1). So
// the host keeps its case and port, percent-encodings stay as sent
// ("%74", "%2f" and "%2F" are three spellings), an empty query ("?") and
// dot segments stay. Only what never reaches the next hop differently is
// normalised: the scheme's case (it selects the connection, it is not
// sent in origin-form), the fragment (never sent, RFC 9110 §7.1) and an
// empty path, which RFC 9112 §3.2.1 makes "/" on the wire. Equivalent
// spellings are stored apart; clients use one spelling, so only odd ones
// pay, and unsafe requests invalidate the normal form too
// (InvalidateEntries.Keys).
func TargetURI(u *url.URL) string {
	if u == nil {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	target := u.RequestURI()
	if scheme == "" && u.Host == "" {
		return target
	}
	var b strings.Builder
	b.Grow(len(scheme) + 3 + len(u.Host) + len(target))
	if scheme != "" {
		b.WriteString(scheme)
		b.WriteString("://")
	} else {
		b.WriteString("//")
	}
	b.WriteString(u.Host)
	b.WriteString(target)
	return b.String()
}

// OtherMethodsPrefix returns the prefix that the keys of the responses
// stored for methods other than GET and HEAD share for the URI whose GET
// key is getKey: the key and a space. A normalized URI has no space in its
// path (NormalizeURI keeps it percent-encoded); one in a query, which only
// a hand-built URL can carry, at worst makes a prefix cover more keys than
// its own URI's, so that invalidation removes more than it must, never
// less.
func OtherMethodsPrefix(getKey string) string { return getKey + " " }

// NormalizeURI renders u in the normal form of RFC 9110 §4.2.3 (and RFC 3986
// §6.2.2): lower-case scheme and host, default port dropped, empty path as
// "/", percent-encodings of unreserved characters decoded and the others in
// upper case, fragment dropped. A nil URL gives "". It is not the cache key
// (see TargetURI), but the other spelling an unsafe request invalidates.
func NormalizeURI(u *url.URL) string {
	if u == nil {
		return ""
	}
	var b strings.Builder
	b.Grow(len(u.Scheme) + len(u.Host) + len(u.RawPath) + len(u.Path) + len(u.RawQuery) + 8)
	scheme := strings.ToLower(u.Scheme)
	if scheme != "" {
		b.WriteString(scheme)
		b.WriteString("://")
	}
	b.WriteString(normalizeHost(scheme, u.Host))
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	writeNormalPercent(&b, path)
	if u.RawQuery != "" || u.ForceQuery {
		b.WriteByte('?')
		writeNormalPercent(&b, u.RawQuery)
	}
	return b.String()
}

// normalizeHost lower-cases host and drops the scheme's default port.
func normalizeHost(scheme, host string) string {
	host = strings.ToLower(host)
	switch {
	case scheme == "http" && strings.HasSuffix(host, ":80"):
		host = host[:len(host)-3]
	case scheme == "https" && strings.HasSuffix(host, ":443"):
		host = host[:len(host)-4]
	}
	return strings.TrimSuffix(host, ":")
}

// writeNormalPercent copies s, decoding percent-encoded unreserved characters
// and upper-casing the hex digits of the rest (RFC 3986 §6.2.2.1, §6.2.2.2).
func writeNormalPercent(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			// Copy the run up to the next '%' at once.
			j := strings.IndexByte(s[i:], '%')
			if j < 0 {
				b.WriteString(s[i:])
				return
			}
			b.WriteString(s[i : i+j])
			i += j - 1
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			b.WriteByte(c)
			continue
		}
		v := unhex(s[i+1])<<4 | unhex(s[i+2])
		if isUnreserved(v) {
			b.WriteByte(v)
		} else {
			b.WriteByte('%')
			b.WriteByte(upperHex(s[i+1]))
			b.WriteByte(upperHex(s[i+2]))
		}
		i += 2
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func upperHex(c byte) byte {
	if c >= 'a' && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

// isUnreserved reports whether c is an RFC 3986 §2.3 unreserved character.
func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// sameOrigin reports whether a and b have the same origin (RFC 9110 §4.3.1):
// scheme, host and port, compared after normalization.
func sameOrigin(a, b *url.URL) bool {
	sa, sb := strings.ToLower(a.Scheme), strings.ToLower(b.Scheme)
	return sa == sb && normalizeHost(sa, a.Host) == normalizeHost(sb, b.Host)
}
