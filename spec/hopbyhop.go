package spec

// The fields a cache never stores nor forwards, decided here once: the
// core's storage (cleanForStorage), its updates from a 304 (mergeHeader),
// what it serves (Serve.WriteHeader), and the engines and the proxy, for
// what they forward, all ask HopByHop.

// HopByHop reports whether a field named k (canonical) of a message whose
// Connection field lines are connection must not be forwarded, nor stored
// or served from storage: a hop-by-hop field, one Connection names (RFC
// 9110 §7.6.1, its members read as a list, quoted-strings unsplit, RFC
// 9110 §5.6.1), or a proxy authentication field (RFC 9111 §3.1).
func HopByHop(k string, connection []string) bool {
	return hopByHop(k) || len(connection) > 0 && listNamesField(connection, k)
}

// hopByHop reports whether canonical field k is a hop-by-hop field that
// RFC 9110 §7.6.1 requires removing before forwarding (and so, by RFC 9111
// §3.1, is never stored nor served from storage), one of the older ones
// RFC 2616 §13.5.1 listed that proxies still remove (Keep-Alive,
// Proxy-Connection), or one of the proxy authentication fields RFC 9111
// §3.1 forbids storing (RFC 9110 §11.7).
func hopByHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Te", "Transfer-Encoding",
		"Upgrade", "Trailer", "Proxy-Authenticate", "Proxy-Authentication-Info",
		"Proxy-Authorization":
		return true
	}
	return false
}
