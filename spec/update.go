package spec

import "net/http"

// mergeHeader returns p with its stored header updated from resp (a 304, a
// HEAD response or a newer partial response), as RFC 9111 §3.2 requires:
// every field of resp replaces the stored one, except those never stored
// (§3.1: hop-by-hop, Connection-named, proxy authentication), Content-Length
// (the stored body did not change), and Content-Range (processed with the
// content). The request and response times become those of resp, whose
// freshness now applies (§4.3.4).
func mergeHeader(p Pair, resp Response) Pair {
	h := p.Response.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	skip := map[string]bool{}
	forEachListMember(resp.Header["Connection"], func(m string) bool {
		skip[http.CanonicalHeaderKey(m)] = true
		return true
	})
	for k, vv := range resp.Header {
		if hopByHop(k) || skip[k] || k == "Content-Length" || k == "Content-Range" {
			continue
		}
		h[k] = append([]string(nil), vv...)
	}
	if len(resp.Header["Date"]) == 0 && !resp.ResponseTime.IsZero() {
		h["Date"] = []string{formatHTTPDate(resp.ResponseTime)}
		// The old Age no longer describes the freshened response.
	}
	if len(resp.Header["Age"]) == 0 {
		delete(h, "Age")
	}
	p.Response.Header = h
	p.Response.RequestTime, p.Response.ResponseTime = resp.RequestTime, resp.ResponseTime
	return p
}
