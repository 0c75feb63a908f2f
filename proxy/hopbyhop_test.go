package proxy

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/cellar-http/cellar"
	"github.com/cellar-http/cellar/spec"
)

// The fields never forwarded are the core's decision (spec.HopByHop): the
// proxy asks it for what it sends upstream and for what it takes from the
// upstream, so that the proxy and the core never disagree on a field
// (issue 11 item 1).

// TestRemoveHopByHopIsTheCoresRule (RFC 9110 §7.6.1, RFC 9111 §3.1): the
// forwarder removes from a response exactly the fields spec.HopByHop
// names: the proxy authentication fields, Proxy-Authentication-Info
// included, and the Connection members read as a list whose quoted
// strings do not split.
func TestRemoveHopByHopIsTheCoresRule(t *testing.T) {
	tests := []struct {
		name string
		conn []string
		want []string // the fields left
	}{
		{"proxy authentication", nil, []string{"Content-Type", "X-Hop", "X-Other"}},
		{"Connection names a field", []string{"X-Hop"}, []string{"Content-Type", "X-Other"}},
		{"Connection names two, case-insensitively", []string{"x-hop , X-OTHER"}, []string{"Content-Type"}},
		{"over two lines", []string{"close", "x-other"}, []string{"Content-Type", "X-Hop"}},
		{"a quoted comma does not split", []string{`"a,X-Hop,b"`}, []string{"Content-Type", "X-Hop", "X-Other"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{
				"Content-Type":              {"text/plain"},
				"X-Hop":                     {"1"},
				"X-Other":                   {"2"},
				"Proxy-Authenticate":        {"Basic"},
				"Proxy-Authentication-Info": {"nextnonce=abc"},
				"Proxy-Authorization":       {"Basic eA=="},
				"Keep-Alive":                {"timeout=5"},
				"Te":                        {"trailers"},
			}
			if tt.conn != nil {
				h["Connection"] = tt.conn
			}
			var core []string
			for k := range h {
				if !spec.HopByHop(k, tt.conn) {
					core = append(core, k)
				}
			}
			removeHopByHop(h)
			var got []string
			for k := range h {
				got = append(got, k)
			}
			sort.Strings(got)
			sort.Strings(core)
			if strings.Join(got, ",") != strings.Join(tt.want, ",") || strings.Join(core, ",") != strings.Join(tt.want, ",") {
				t.Errorf("left %v, the core leaves %v, want %v", got, core, tt.want)
			}
		})
	}
}

// TestOutgoingHopByHopRawRequest (RFC 9110 §7.6.1): a request sent as raw
// bytes reaches the origin without the fields the core says are not
// forwarded, and with those it says are: the Connection member is read as
// the core reads it (a quoted string is one member). The innocent client
// after it is served the stored page, which holds no proxy authentication
// field of the origin's.
func TestOutgoingHopByHopRawRequest(t *testing.T) {
	seen := make(chan http.Header, 4)
	rig := newPoisonRig(t, cellar.Config{}, func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		w.Header().Set("Cache-Control", "public, max-age=600")
		w.Header().Set("Proxy-Authentication-Info", "nextnonce=secret")
		w.Write([]byte("page"))
	})
	tests := []struct {
		name, fields   string
		gone, arriving []string
	}{
		{"Connection names X-Hop", "Connection: X-Hop\nX-Hop: 1\nX-Keep: 1\n", []string{"X-Hop", "Connection"}, []string{"X-Keep"}},
		{"quoted member names nothing", "Connection: \"q,X-Hop,q\"\nX-Hop: 1\n", []string{"Connection"}, []string{"X-Hop"}},
		{"proxy credentials", "Proxy-Authorization: Basic eA==\nKeep-Alive: 5\n", []string{"Proxy-Authorization", "Keep-Alive"}, nil},
	}
	for i, tt := range tests {
		path := "/p" + string(rune('a'+i))
		res := rig.raw(t, "GET "+path+" HTTP/1.1\nHost: site.example\n"+tt.fields+"\n")
		if res.status != http.StatusOK {
			t.Fatalf("%s: status %d", tt.name, res.status)
		}
		h := <-seen
		for _, k := range tt.gone {
			if _, ok := h[k]; ok {
				t.Errorf("%s: %s reached the origin", tt.name, k)
			}
		}
		for _, k := range tt.arriving {
			if _, ok := h[k]; !ok {
				t.Errorf("%s: %s did not reach the origin, though the core forwards it", tt.name, k)
			}
		}
		for _, r := range []rawResult{res, rig.raw(t, "GET "+path+" HTTP/1.1\nHost: site.example\nConnection: close\n\n")} {
			if v := r.header.Get("Proxy-Authentication-Info"); v != "" {
				t.Errorf("%s: a client got the origin's Proxy-Authentication-Info %q", tt.name, v)
			}
		}
	}
}
