package spec

import (
	"net/http"
	"testing"
)

// TestBypassesRFC9110Section7_8 lists the requests no cache handles: a
// protocol switch and a tunnel.
func TestBypassesRFC9110Section7_8(t *testing.T) {
	tests := []struct {
		method string
		header http.Header
		want   bool
	}{
		{http.MethodGet, http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}}, true},
		{http.MethodConnect, http.Header{}, true},
		{http.MethodGet, http.Header{}, false},
		{http.MethodPost, http.Header{"Connection": {"upgrade"}}, false},
	}
	for _, tt := range tests {
		if got := Bypasses(tt.method, tt.header); got != tt.want {
			t.Errorf("Bypasses(%s, %v) = %v, want %v", tt.method, tt.header, got, tt.want)
		}
	}
}
