package proxy

import (
	"net/http"
	"strings"
	"testing"

	"github.com/cellar-http/cellar"
)

// TestPoisonContentCodingRFC9110_12_5_3: an origin that compresses on the
// fly and omits Vary (nginx's default, gzip_vary off). An attacker asks
// for br over a raw socket; an innocent plain-HTTP browser, which accepts
// gzip and deflate only, must not be handed the stored br body it cannot
// decode: the proxy asks the origin again and serves what it gives.
func TestPoisonContentCodingRFC9110_12_5_3(t *testing.T) {
	rig := newPoisonRig(t, cellar.Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=600")
		ae := r.Header.Get("Accept-Encoding")
		switch {
		case strings.Contains(ae, "br"):
			w.Header().Set("Content-Encoding", "br")
			w.Write([]byte("BR-BYTES"))
		case strings.Contains(ae, "gzip"):
			w.Header().Set("Content-Encoding", "gzip")
			w.Write([]byte("GZIP-BYTES"))
		default:
			w.Write([]byte("plain page"))
		}
	})
	attack := rig.raw(t, "GET /page HTTP/1.1\nHost: site.example\nAccept-Encoding: br\nConnection: close\n\n")
	if attack.header.Get("Content-Encoding") != "br" {
		t.Fatalf("the attacker's request: %q, %q", attack.header.Get("Content-Encoding"), attack.body)
	}
	r := rig.raw(t, "GET /page HTTP/1.1\nHost: site.example\nAccept-Encoding: gzip, deflate\nConnection: close\n\n")
	if r.header.Get("Content-Encoding") == "br" || r.body == "BR-BYTES" {
		t.Fatalf("the innocent gzip client got the stored br body (%q)", r.body)
	}
	if r.body != "GZIP-BYTES" || r.header.Get("Content-Encoding") != "gzip" {
		t.Errorf("the innocent gzip client got %q (Content-Encoding %q), want the origin's gzip answer", r.body, r.header.Get("Content-Encoding"))
	}
	if n := rig.hits.Load(); n != 2 {
		t.Errorf("origin hits = %d, want 2", n)
	}
	// What the innocent request brought back replaced the br response (the
	// origin sent no Vary), and serves the next gzip client from storage.
	again := rig.raw(t, "GET /page HTTP/1.1\nHost: site.example\nAccept-Encoding: gzip, deflate, br\nConnection: close\n\n")
	if again.body != "GZIP-BYTES" || !strings.Contains(strings.Join(again.header["Cache-Status"], ","), "hit") {
		t.Errorf("a client accepting gzip after that: %q, Cache-Status %q, want the stored gzip response", again.body, again.header["Cache-Status"])
	}
}
