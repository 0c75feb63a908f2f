package spec

import "net/http"

// Bypasses reports whether a request with method and header must not touch
// a cache at all: a protocol switch (Upgrade, as for WebSocket; RFC 9110
// §7.8) or a CONNECT tunnel (RFC 9110 §9.3.6), whose responses are not
// HTTP messages a cache can hold. Such a request is forwarded as it came,
// its Connection and Upgrade fields included.
func Bypasses(method string, header http.Header) bool {
	return method == http.MethodConnect || len(header["Upgrade"]) > 0
}
