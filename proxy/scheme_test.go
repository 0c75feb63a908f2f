package proxy

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cellar-http/cellar"
)

// The key's scheme is the client's (scheme.go): from the connection, or
// from a trusted peer's X-Forwarded-Proto, never from another client's.

// schemeOrigin is an origin that redirects plain HTTP to HTTPS on the
// word of X-Forwarded-Proto, as most do behind a proxy, and marks both
// answers cacheable for ten minutes. It records the X-Forwarded-Proto of
// every request it gets.
type schemeOrigin struct {
	mu   sync.Mutex
	seen []string
}

func (o *schemeOrigin) serve(w http.ResponseWriter, r *http.Request) {
	xfp := r.Header.Get("X-Forwarded-Proto")
	o.mu.Lock()
	o.seen = append(o.seen, xfp)
	o.mu.Unlock()
	w.Header().Set("Cache-Control", "max-age=600")
	if xfp != "https" {
		http.Redirect(w, r, "https://"+r.Host+r.URL.RequestURI(), http.StatusMovedPermanently)
		return
	}
	io.WriteString(w, pageBody)
}

func (o *schemeOrigin) saw() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.seen)
}

// loopbackPrefixes trusts the test's own peers (127.0.0.1 and ::1).
var loopbackPrefixes = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// TestPoisonUntrustedForwardedProto_RFC9111_4: a client over plain HTTP
// that sends "X-Forwarded-Proto: https", from a peer not trusted (none
// configured, or others), neither has the origin told so (it is answered
// as plain HTTP: the redirect) nor has that answer stored under the key of
// HTTPS clients (RFC 9111 §4: a stored response answers its own target
// URI, whose scheme is the client's connection's, RFC 9112 §3.3). Had its
// field chosen the key's scheme but not the forwarded one, the redirect
// would have looped every HTTPS client; had it chosen both, any client
// could tell the origin it was on HTTPS.
func TestPoisonUntrustedForwardedProto_RFC9111_4(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
	}{
		{"none trusted", nil},
		{"peer not trusted", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			origin := &schemeOrigin{}
			rig := newPoisonRigWith(t, cellar.Config{}, Config{TrustedProxies: tc.trusted}, origin.serve)
			secure := httptest.NewTLSServer(rig.p)
			t.Cleanup(secure.Close)

			attack := "GET /page HTTP/1.1\nHost: site.example\nX-Forwarded-Proto: https\nConnection: close\n\n"
			if got := rig.raw(t, attack); got.status != http.StatusMovedPermanently {
				t.Errorf("attacker got %d %q, want the origin's 301 for plain HTTP", got.status, got.body)
			}
			if got := origin.saw(); !slices.Equal(got, []string{"http"}) {
				t.Errorf("origin saw X-Forwarded-Proto %q, want [http]", got)
			}
			got := rawTLS(t, secure, innocent)
			assertPage(t, "HTTPS client", got)
			if cs := got.header.Get("Cache-Status"); !strings.Contains(cs, "fwd=") {
				t.Errorf("HTTPS client's Cache-Status %q: not its own response", cs)
			}
		})
	}
}

// TestTrustedProxyForwardedProto_RFC9112_3_3: behind a load balancer that
// terminates TLS (a trusted peer), the request arrives over plain HTTP and
// its X-Forwarded-Proto tells the client's scheme: an "https" is
// forwarded as it is (the origin does not redirect to the URL the client
// asked for, in a loop) and keys the response as https; an "http" from it
// gets its own entry, and so does a request without the field (the
// connection's scheme). A value other than exactly http or https is taken
// as absent.
func TestTrustedProxyForwardedProto_RFC9112_3_3(t *testing.T) {
	origin := &schemeOrigin{}
	rig := newPoisonRigWith(t, cellar.Config{}, Config{TrustedProxies: loopbackPrefixes}, origin.serve)
	req := func(xfp ...string) rawResult {
		var b strings.Builder
		b.WriteString("GET /page HTTP/1.1\nHost: site.example\n")
		for _, v := range xfp {
			b.WriteString("X-Forwarded-Proto: " + v + "\n")
		}
		b.WriteString("Connection: close\n\n")
		return rig.raw(t, b.String())
	}
	assertPage(t, "https through the LB", req("https"))
	if got := req("http"); got.status != http.StatusMovedPermanently {
		t.Errorf("http through the LB got %d, want the origin's 301", got.status)
	}
	got := req("https")
	assertPage(t, "https through the LB, again", got)
	if cs := got.header.Get("Cache-Status"); !strings.Contains(cs, "hit") {
		t.Errorf("second https request: Cache-Status %q, want a hit", cs)
	}
	for _, xfp := range [][]string{nil, {"HTTPS"}, {"https, http"}, {"https", "https"}, {"wss"}} {
		if got := req(xfp...); got.status != http.StatusMovedPermanently || !strings.Contains(got.header.Get("Cache-Status"), "hit") {
			t.Errorf("X-Forwarded-Proto %q: %d, Cache-Status %q; want the stored http 301", xfp, got.status, got.header.Get("Cache-Status"))
		}
	}
	if got := origin.saw(); !slices.Equal(got, []string{"https", "http"}) {
		t.Errorf("origin saw X-Forwarded-Proto %q, want [https http]", got)
	}
	for _, key := range []string{"http://site.example/page", "https://site.example/page"} {
		if es, err := rig.store.Lookup(context.Background(), key); err != nil || len(es) != 1 {
			t.Errorf("key %s: %d entries (%v), want 1", key, len(es), err)
		}
	}
}

// TestTrustedProxyForwardedProtoDirect_RFC9112_3_3: what the proxy
// forwards without its cache (here: no cache at all) carries the trusted
// peer's scheme too, and the connection's from any other peer.
func TestTrustedProxyForwardedProtoDirect_RFC9112_3_3(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		want    string
	}{
		{"trusted", loopbackPrefixes, "https"},
		{"not trusted", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "http"},
		{"none trusted", nil, "http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			origin := &schemeOrigin{}
			up := httptest.NewServer(http.HandlerFunc(origin.serve))
			t.Cleanup(up.Close)
			u, _ := url.Parse(up.URL)
			p, err := New(Config{Upstream: u, TrustedProxies: tc.trusted})
			if err != nil {
				t.Fatal(err)
			}
			rig := &poisonRig{proxy: httptest.NewServer(p)}
			t.Cleanup(rig.proxy.Close)
			rig.raw(t, "GET /page HTTP/1.1\nHost: site.example\nX-Forwarded-Proto: https\nConnection: close\n\n")
			if got := origin.saw(); !slices.Equal(got, []string{tc.want}) {
				t.Errorf("origin saw X-Forwarded-Proto %q, want [%s]", got, tc.want)
			}
		})
	}
}

// TestClientScheme_RFC9112_3_3: the scheme of the target URI is "https"
// when the connection is secured; a trusted peer's X-Forwarded-Proto,
// exactly http or https, overrides it, whatever the form of its address.
func TestClientScheme_RFC9112_3_3(t *testing.T) {
	p := &Proxy{cfg: Config{TrustedProxies: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32"),
	}}}
	for _, tc := range []struct {
		remote string
		tls    bool
		xfp    []string
		want   string
	}{
		{"10.1.2.3:5000", false, nil, "http"},
		{"10.1.2.3:5000", true, nil, "https"},
		{"10.1.2.3:5000", false, []string{"https"}, "https"},
		{"10.1.2.3:5000", true, []string{"http"}, "http"},
		{"[::ffff:10.1.2.3]:5000", false, []string{"https"}, "https"},
		{"[2001:db8::1]:443", false, []string{"https"}, "https"},
		{"10.1.2.3:5000", false, []string{"https "}, "http"},
		{"10.1.2.3:5000", false, []string{"ftp"}, "http"},
		{"10.1.2.3:5000", false, []string{"https", "http"}, "http"},
		{"11.1.2.3:5000", false, []string{"https"}, "http"},
		{"11.1.2.3:5000", true, []string{"http"}, "https"},
		{"[2001:db9::1]:443", false, []string{"https"}, "http"},
		{"10.1.2.3", false, []string{"https"}, "http"}, // no port: not an address net/http sets
		{"", false, []string{"https"}, "http"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if tc.xfp != nil {
			r.Header["X-Forwarded-Proto"] = tc.xfp
		}
		if got := p.clientScheme(r); got != tc.want {
			t.Errorf("%s tls=%v X-Forwarded-Proto %q: %s, want %s", tc.remote, tc.tls, tc.xfp, got, tc.want)
		}
	}
}

// TestPurgePathBothSchemes_RFC9111_4: one proxy serving plain HTTP and
// HTTPS stores a page under two keys (RFC 9111 §4); a purge of the path
// removes both copies.
func TestPurgePathBothSchemes_RFC9111_4(t *testing.T) {
	rig := newPoisonRig(t, cellar.Config{}, servePage)
	secure := httptest.NewTLSServer(rig.p)
	t.Cleanup(secure.Close)
	fill := func() {
		t.Helper()
		assertPage(t, "plain-HTTP client", rig.raw(t, innocent))
		assertPage(t, "HTTPS client", rawTLS(t, secure, innocent))
	}
	fill()
	fill()
	if n := rig.hits.Load(); n != 2 {
		t.Fatalf("origin got %d requests for two schemes, twice; want 2 (one per scheme)", n)
	}
	rec := httptest.NewRecorder()
	Admin(AdminConfig{Store: rig.store, Upstream: rig.upstream}).ServeHTTP(rec, loopbackPurge("/purge?path=/page"))
	var res purgeResult
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || rec.Code != http.StatusOK || res.Purged != 2 {
		t.Fatalf("purge: %d %s", rec.Code, rec.Body)
	}
	fill()
	if n := rig.hits.Load(); n != 4 {
		t.Errorf("origin got %d requests, want 4: both copies purged", n)
	}
}

// TestPoisonAbsoluteFormScheme_RFC9110_7_4: a client over plain HTTP that
// names the https resource in an absolute-form target ("GET
// https://site.example/page", RFC 9112 §3.2.2), which net/http puts in the
// request's URL, neither has the origin told it is on HTTPS nor has the
// answer to plain HTTP stored under the HTTPS key: the key's scheme is the
// connection's (RFC 9110 §7.4: a request for an https resource over a
// connection not secured is misdirected).
func TestPoisonAbsoluteFormScheme_RFC9110_7_4(t *testing.T) {
	origin := &schemeOrigin{}
	rig := newPoisonRigWith(t, cellar.Config{}, Config{}, origin.serve)
	secure := httptest.NewTLSServer(rig.p)
	t.Cleanup(secure.Close)
	attack := "GET https://site.example/page HTTP/1.1\nHost: site.example\nConnection: close\n\n"
	if got := rig.raw(t, attack); got.status != http.StatusMovedPermanently {
		t.Errorf("attacker got %d %q, want the origin's 301 for plain HTTP", got.status, got.body)
	}
	if got := origin.saw(); !slices.Equal(got, []string{"http"}) {
		t.Errorf("origin saw X-Forwarded-Proto %q, want [http]", got)
	}
	assertPage(t, "HTTPS client", rawTLS(t, secure, innocent))
}
