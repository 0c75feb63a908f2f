package proxy

import "testing"

// Issue 12 item 12: the Host names a tokenless admin listener answers
// (DNS rebinding brings the attacker's own name).
func TestLoopbackHostDNSRebinding(t *testing.T) {
	for _, tc := range []struct {
		host, addr string
		want       bool
	}{
		{"localhost", "", true},
		{"LOCALHOST:9090", "", true},
		{"127.0.0.1:9090", "", true},
		{"127.1.2.3", "", true},
		{"[::1]:9090", "", true},
		{"[::1]", "", true},
		{"cellar-admin.internal:9090", "cellar-admin.internal:9090", true},
		{"10.0.0.5:9090", "10.0.0.5:9090", true},
		{"10.0.0.5", "10.0.0.5:9090", true},
		{"rebind.evil.example:9090", "127.0.0.1:9090", false},
		{"localhost.evil.example", "", false},
		{"127.0.0.1.nip.io", "", false},
		{"", "", false},
		{"10.0.0.6:9090", "10.0.0.5:9090", false},
	} {
		if got := loopbackHost(tc.host, tc.addr); got != tc.want {
			t.Errorf("loopbackHost(%q, %q) = %v, want %v", tc.host, tc.addr, got, tc.want)
		}
	}
}
