package spec

import (
	"net/http"
	"testing"
	"time"
)

// TestHopByHopRFC9110Section7_6_1 lists the fields never forwarded nor
// stored: the hop-by-hop ones, the proxy authentication ones (RFC 9111
// §3.1), and the Connection members, read as a list whose quoted strings
// do not split.
func TestHopByHopRFC9110Section7_6_1(t *testing.T) {
	tests := []struct {
		k    string
		conn []string
		want bool
	}{
		{"Connection", nil, true},
		{"Keep-Alive", nil, true},
		{"Proxy-Connection", nil, true},
		{"Te", nil, true},
		{"Trailer", nil, true},
		{"Transfer-Encoding", nil, true},
		{"Upgrade", nil, true},
		{"Proxy-Authenticate", nil, true},
		{"Proxy-Authorization", nil, true},
		{"Proxy-Authentication-Info", nil, true},
		{"Content-Type", nil, false},
		{"X-Hop", []string{"close, x-hop"}, true},
		{"X-Hop", []string{"close", "X-HOP"}, true},
		{"X-Hop", []string{`"a,X-Hop,b"`}, false},
		{"X-Hop", []string{`"a,b", X-Hop`}, true},
		{"X-Other", []string{"X-Hop"}, false},
	}
	for _, tt := range tests {
		if got := HopByHop(tt.k, tt.conn); got != tt.want {
			t.Errorf("HopByHop(%q, %q) = %v, want %v", tt.k, tt.conn, got, tt.want)
		}
	}
}

// TestHopByHopNeverStoredNorMerged (RFC 9111 §3.1, §3.2): what HopByHop
// names is left out of storage and out of a 304's update alike.
func TestHopByHopNeverStoredNorMerged(t *testing.T) {
	o := &Options{Shared: true}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := http.Header{
		"Cache-Control":             {"max-age=60"},
		"Connection":                {`"q,X-Kept,q", X-Hop`},
		"X-Hop":                     {"1"},
		"X-Kept":                    {"1"},
		"Proxy-Authentication-Info": {"nextnonce=1"},
	}
	req := Request{Method: http.MethodGet, Header: http.Header{}}
	resp := Response{Status: 200, Header: h, RequestTime: now, ResponseTime: now}
	pol := responsePolicy(o, h)
	stored := cleanForStorage(o, &req, &resp, &pol)
	merged, _ := mergeHeader(o, stored, resp)
	for name, got := range map[string]http.Header{"stored": stored.Response.Header, "merged": merged.Response.Header} {
		for k := range h {
			if _, ok := got[k]; ok == HopByHop(k, h["Connection"]) {
				t.Errorf("%s: %s present %v, HopByHop says %v", name, k, ok, !ok)
			}
		}
	}
}
