package proxy

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cellar-http/cellar"
	"github.com/cellar-http/cellar/spec"
)

// More cache poisoning through the proxy: request fields the cache
// forwards but leaves out of the key, each sent by an attacker over a raw
// socket, then the innocent client's request, which must get the page.

// pageBody is what servePage answers in full.
const pageBody = "the full page body"

// servePage is an origin as net/http's file server is: http.ServeContent
// evaluates Range, If-Range and every precondition and answers HEAD, and
// the origin marks every response cacheable, as a blanket "add_header
// Cache-Control ... always" does.
func servePage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "max-age=60")
	w.Header().Set("ETag", `"v1"`)
	w.Header().Set("Content-Type", "text/plain")
	http.ServeContent(w, r, "page.txt", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), bytes.NewReader([]byte(pageBody)))
}

// assertPage fails unless got is the full page, as a 200.
func assertPage(t *testing.T, who string, got rawResult) {
	t.Helper()
	if got.status != http.StatusOK || got.body != pageBody || got.header.Get("Content-Range") != "" {
		t.Errorf("%s got %d %q (Content-Range %q, Cache-Status %q), want 200 %q", who, got.status, got.body,
			got.header.Get("Content-Range"), got.header.Get("Cache-Status"), pageBody)
	}
}

// TestPoisonRequestFieldStatus_RFC9110_15_5_13: a 412 or 416 is the
// origin's answer to the request's own precondition or Range (RFC 9110
// §15.5.13, §15.5.17), neither of which is in the key (nor is Expect, whose
// 417 spec does not store either, but which the proxy does not forward
// without content: TestPoisonExpectWithoutContent_RFC9110_10_1_1). With
// the explicit freshness the origin puts on every response, one attacker's
// request used to have it stored and served to every client for its
// lifetime (cache-poisoned denial of service). It is passed on to the
// attacker only.
func TestPoisonRequestFieldStatus_RFC9110_15_5_13(t *testing.T) {
	unsatisfiable := func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") != "" {
			// ServeContent's own 416 drops Cache-Control; an origin's
			// blanket header may not.
			w.Header().Set("Cache-Control", "max-age=60")
			w.Header().Set("Content-Range", "bytes */18")
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		servePage(w, r)
	}
	for _, tc := range []struct {
		name, attack string
		origin       http.HandlerFunc
		status       int
	}{
		{"If-Match", "GET /page HTTP/1.1\nHost: site.example\nIf-Match: \"nope\"\nConnection: close\n\n", servePage, 412},
		{"If-Unmodified-Since", "GET /page HTTP/1.1\nHost: site.example\nIf-Unmodified-Since: Fri, 01 Jan 2010 00:00:00 GMT\nConnection: close\n\n", servePage, 412},
		{"Range", "GET /page HTTP/1.1\nHost: site.example\nRange: bytes=500-600\nConnection: close\n\n", unsatisfiable, 416},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rig := newPoisonRig(t, cellar.Config{}, tc.origin)
			if got := rig.raw(t, tc.attack); got.status != tc.status {
				t.Fatalf("attacker got %d, want %d (the origin's answer, passed on)", got.status, tc.status)
			}
			assertPage(t, "innocent client", rig.raw(t, innocent))
			assertPage(t, "second innocent client", rig.raw(t, innocent))
			if n := rig.hits.Load(); n != 2 {
				t.Errorf("origin asked %d times, want 2 (the page stored, the %d not)", n, tc.status)
			}
		})
	}
}

// TestPoisonKeyHostForwardsKeyedHost_RFC9111_4: with a key host (cellar
// serve --key-host), every client Host shares one key. The request used to
// be forwarded with the client's Host all the same, so that an attacker's
// "Host: evil.example" had the origin build the page for evil.example
// (absolute script URLs, as frameworks build them from Host or
// X-Forwarded-Host) and that page stored under the shared key and served
// to everyone. A stored response answers only the target URI it was
// fetched for (RFC 9111 §4), whose authority is the Host (RFC 9110 §7.2):
// the request is forwarded with the key's host, as Host and
// X-Forwarded-Host.
func TestPoisonKeyHostForwardsKeyedHost_RFC9111_4(t *testing.T) {
	page := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte(`<script src="//` + r.Host + `/app.js"></script> ` + r.Header.Get("X-Forwarded-Host")))
	}
	for _, tc := range []struct {
		name    string
		keyHost func(*http.Request) string
		want    func(rig *poisonRig) string // the authority the origin must see
	}{
		{"a name", cellar.KeyOnHost("www.example.com"), func(*poisonRig) string { return "www.example.com" }},
		{"the upstream's", cellar.KeyOnURLHost, func(rig *poisonRig) string { return rig.upstream.Host }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rig := newPoisonRigWith(t, cellar.Config{KeyHost: tc.keyHost}, Config{KeyHost: tc.keyHost}, page)
			want := `<script src="//` + tc.want(rig) + `/app.js"></script> ` + tc.want(rig)
			if got := rig.raw(t, "GET /page HTTP/1.1\nHost: evil.example\nConnection: close\n\n"); got.body != want {
				t.Errorf("attacker got %q, want %q: the origin must be asked for the keyed host", got.body, want)
			}
			got := rig.raw(t, "GET /page HTTP/1.1\nHost: www.example.com\nConnection: close\n\n")
			if got.status != http.StatusOK || got.body != want {
				t.Errorf("innocent client got %d %q, want %q", got.status, got.body, want)
			}
			if n := rig.hits.Load(); n != 1 {
				t.Errorf("origin asked %d times, want 1: both names share the key", n)
			}
		})
	}
}

// TestPoisonRangeCodingSplice_RFC9111_3_4: an origin compresses on the
// fly for clients that accept br, keeps the file's strong ETag (against
// RFC 9110 §8.8.3) and sends no Vary. An attacker's "Range: bytes=0-3"
// with "Accept-Encoding: br" leaves a br part; the next client's Range
// (no Accept-Encoding: any coding will do, §12.5.3) used to be completed
// with the origin's identity bytes and served, and stored, as one br body
// ("####full p"). Parts combine only when their codings agree (RFC 9111
// §3.4): the client gets the identity bytes it was sent.
func TestPoisonRangeCodingSplice_RFC9111_3_4(t *testing.T) {
	origin := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"v1"`)
		body := pageBody
		if r.Header.Get("Accept-Encoding") == "br" {
			w.Header().Set("Content-Encoding", "br")
			body = "####################"[:len(pageBody)] // stands for the br bytes
		}
		http.ServeContent(w, r, "page.txt", time.Time{}, bytes.NewReader([]byte(body)))
	}
	rig := newPoisonRig(t, cellar.Config{}, origin)
	if got := rig.raw(t, "GET /page HTTP/1.1\nHost: site.example\nRange: bytes=0-3\nAccept-Encoding: br\nConnection: close\n\n"); got.status != 206 {
		t.Fatalf("attacker got %d, want 206", got.status)
	}
	for _, who := range []string{"innocent client", "second innocent client"} {
		got := rig.raw(t, "GET /page HTTP/1.1\nHost: site.example\nRange: bytes=0-9\nConnection: close\n\n")
		if got.status != 206 || got.body != pageBody[:10] || got.header.Get("Content-Encoding") != "" {
			t.Errorf("%s got %d %q (Content-Encoding %q, Cache-Status %q), want 206 %q", who, got.status, got.body,
				got.header.Get("Content-Encoding"), got.header.Get("Cache-Status"), pageBody[:10])
		}
	}
	assertPage(t, "a client of the whole page", rig.raw(t, innocent))
}

// TestPoisonNotModifiedRelabelsCoding_RFC9111_3_2: a compression
// middleware sets Content-Encoding: br for clients that accept it before
// the inner handler answers; that handler answers a revalidation with a
// 304, which keeps the middleware's field. An attacker's request with
// Accept-Encoding: br, sent while the stored (identity) page needs
// revalidation, used to merge that Content-Encoding into the stored
// header: every later client was served the identity page labelled br,
// which a browser cannot decode. §3.2 lets the cache keep the fields its
// stored content depends upon, Content-Encoding its example: it is kept.
func TestPoisonNotModifiedRelabelsCoding_RFC9111_3_2(t *testing.T) {
	origin := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache") // revalidated on every use
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("Accept-Encoding") == "br" {
			w.Header().Set("Content-Encoding", "br")
		}
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if r.Header.Get("Accept-Encoding") == "br" {
			w.Write([]byte("####################"[:len(pageBody)])) // stands for the br bytes
			return
		}
		w.Write([]byte(pageBody))
	}
	rig := newPoisonRig(t, cellar.Config{}, origin)
	assertPage(t, "the first client", rig.raw(t, innocent))
	rig.raw(t, "GET /page HTTP/1.1\nHost: site.example\nAccept-Encoding: br\nConnection: close\n\n")
	for _, req := range []string{innocent, "GET /page HTTP/1.1\nHost: site.example\nAccept-Encoding: gzip, deflate, br\nConnection: close\n\n"} {
		got := rig.raw(t, req)
		if ce := got.header.Get("Content-Encoding"); got.body == pageBody && ce != "" {
			t.Errorf("innocent client got the identity page labelled Content-Encoding %q (Cache-Status %q)", ce, got.header.Get("Cache-Status"))
		}
		if got.status != http.StatusOK || got.body != pageBody {
			t.Errorf("innocent client got %d %q", got.status, got.body)
		}
	}
}

// TestPoisonSchemeSharedStore_RFC9111_4: two proxies share one store, one
// serving plain HTTP and one HTTPS (cellar serve has one listener, so
// serving both takes two processes on one Redis store). The key's scheme
// was the upstream's, while X-Forwarded-Proto tells the origin the
// client's: a client over plain HTTP got the origin's redirect to HTTPS
// (301, max-age=600), stored under the key the HTTPS clients use, who were
// then redirected to the very URL they asked for, in a loop, for ten
// minutes. A stored response answers only its own target URI (RFC 9111
// §4), whose scheme is the client's (RFC 9110 §4.2, §7.1; RFC 9112 §3.3):
// the key's scheme is now the client's (scheme.go).
func TestPoisonSchemeSharedStore_RFC9111_4(t *testing.T) {
	rig := newPoisonRig(t, cellar.Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		if r.Header.Get("X-Forwarded-Proto") != "https" {
			http.Redirect(w, r, "https://"+r.Host+r.URL.RequestURI(), http.StatusMovedPermanently)
			return
		}
		w.Write([]byte(pageBody))
	})
	c, err := cellar.New(cellar.Config{Store: rig.store, Spec: spec.Options{Shared: true}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Upstream: rig.upstream, Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	secure := httptest.NewTLSServer(p)
	t.Cleanup(func() { secure.Close(); c.Close() })

	if got := rig.raw(t, innocent); got.status != http.StatusMovedPermanently {
		t.Fatalf("plain-HTTP client got %d, want the origin's 301 to https", got.status)
	}
	assertPage(t, "HTTPS client", rawTLS(t, secure, innocent))
}

// rawTLS is rawOn over a TLS connection to srv.
func rawTLS(t *testing.T, srv *httptest.Server, request string) rawResult {
	t.Helper()
	conn, err := tls.Dial("tcp", srv.Listener.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	return rawOn(t, conn, request)
}

// Attacks verified safe, kept as regressions.

// TestPoisonSafeClientFieldsOnMiss_RFC9111_4_3_2: request fields the
// origin answers for that request alone, sent on a miss, forwarded as they
// are (§4.3.2: a cache without a stored response does not evaluate them):
// the client's If-None-Match and If-Modified-Since (304), a Range (206,
// stored as a part only) and HEAD (no content). The innocent client still
// gets the whole page as a 200.
func TestPoisonSafeClientFieldsOnMiss_RFC9111_4_3_2(t *testing.T) {
	for _, tc := range []struct{ name, attack string }{
		{"If-None-Match", "GET /page HTTP/1.1\nHost: site.example\nIf-None-Match: \"v1\"\nConnection: close\n\n"},
		{"If-Modified-Since", "GET /page HTTP/1.1\nHost: site.example\nIf-Modified-Since: Fri, 01 Jan 2027 00:00:00 GMT\nConnection: close\n\n"},
		{"Range", "GET /page HTTP/1.1\nHost: site.example\nRange: bytes=0-3\nConnection: close\n\n"},
		{"suffix Range", "GET /page HTTP/1.1\nHost: site.example\nRange: bytes=-3\nConnection: close\n\n"},
		{"multipart Range", "GET /page HTTP/1.1\nHost: site.example\nRange: bytes=0-1,4-5\nConnection: close\n\n"},
		{"Range with a stale If-Range", "GET /page HTTP/1.1\nHost: site.example\nRange: bytes=0-3\nIf-Range: \"v0\"\nConnection: close\n\n"},
		{"HEAD", "HEAD /page HTTP/1.1\nHost: site.example\nConnection: close\n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rig := newPoisonRig(t, cellar.Config{}, servePage)
			rig.raw(t, tc.attack)
			assertPage(t, "innocent client", rig.raw(t, innocent))
			assertPage(t, "second innocent client", rig.raw(t, innocent))
		})
	}
}

// TestPoisonSafeCollapsedIntoAttacker: an innocent request collapsed into
// an attacker's miss in flight (a conditional, a Range, a precondition)
// is not answered with the attacker's 304, 206 or 412: it goes forward on
// its own when the flight's response does not answer it. The origin holds
// the attacker's response until the innocent request has joined the
// flight, so the collapse is certain.
func TestPoisonSafeCollapsedIntoAttacker(t *testing.T) {
	for _, tc := range []struct{ name, attack string }{
		{"If-None-Match", "GET /page HTTP/1.1\nHost: site.example\nIf-None-Match: \"v1\"\nConnection: close\n\n"},
		{"Range", "GET /page HTTP/1.1\nHost: site.example\nRange: bytes=0-3\nConnection: close\n\n"},
		{"If-Match", "GET /page HTTP/1.1\nHost: site.example\nIf-Match: \"nope\"\nConnection: close\n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rig *poisonRig
			first := make(chan struct{}, 1)
			first <- struct{}{}
			rig = newPoisonRig(t, cellar.Config{}, func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-first: // the attacker's: wait for the follower
					rig.awaitCollapse()
				default:
				}
				servePage(w, r)
			})
			assertPage(t, "collapsed innocent client", rig.collapseInto(t, tc.attack))
		})
	}
}

// TestPoisonSafeAbsoluteFormTarget_RFC9112_3_2_2: a request line in
// absolute form names another host than the Host field. The URI's host
// wins (RFC 9112 §3.2.2), and it is both forwarded and keyed: the
// attacker's page is stored for evil.example only.
func TestPoisonSafeAbsoluteFormTarget_RFC9112_3_2_2(t *testing.T) {
	rig := newPoisonRig(t, cellar.Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte("page for " + r.Host + " " + r.Header.Get("X-Forwarded-Host")))
	})
	if got := rig.raw(t, "GET http://evil.example/page HTTP/1.1\nHost: site.example\nConnection: close\n\n"); got.body != "page for evil.example evil.example" {
		t.Errorf("attacker got %q: the URI's host is forwarded", got.body)
	}
	if got := rig.raw(t, innocent); got.body != "page for site.example site.example" {
		t.Errorf("innocent client got %q", got.body)
	}
	if got := rig.raw(t, "GET http://site.example/page HTTP/1.1\nHost: evil.example\nConnection: close\n\n"); got.body != "page for site.example site.example" {
		t.Errorf("absolute form for site.example got %q, want the page stored for it", got.body)
	}
}

// TestPoisonCollapsedIntoFailedRequest: an attacker's request carries a
// field on which the origin's WAF drops the connection. An innocent
// request for the same missing page, collapsed into the attacker's while
// it is in flight, inherits the failure: 502, though the origin would
// have answered it. Kept up, one request per origin round trip denied a
// page that is not stored to everyone who asked meanwhile. A follower now
// forwards alone after a leader's connection was dropped without a
// response (droppedAlone); a failure to connect or a timeout it still
// takes, rather than each follower trying an origin that is down.
func TestPoisonCollapsedIntoFailedRequest(t *testing.T) {
	var rig *poisonRig
	rig = newPoisonRig(t, cellar.Config{}, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Evil") != "" { // a WAF that drops the connection
			rig.awaitCollapse()
			panic(http.ErrAbortHandler)
		}
		servePage(w, r)
	})
	got := rig.collapseInto(t, "GET /page HTTP/1.1\nHost: site.example\nX-Evil: ' OR 1=1 --\nConnection: close\n\n")
	assertPage(t, "collapsed innocent client", got)
}

// TestCollapsedIntoTimeoutTakesIt: an origin that does not answer in time
// is unavailable to everyone, not refusing one request: a request
// collapsed into a flight that timed out takes the failure (a 504) rather
// than try the origin again, so that a hung origin gets one request per
// key, not one per waiting client.
func TestCollapsedIntoTimeoutTakesIt(t *testing.T) {
	var rig *poisonRig
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = 300 * time.Millisecond
	t.Cleanup(tr.CloseIdleConnections)
	rig = newPoisonRigWith(t, cellar.Config{Upstream: tr}, Config{Transport: tr}, func(w http.ResponseWriter, r *http.Request) {
		rig.awaitCollapse()
		select { // past the timeout
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	})
	got := rig.collapseInto(t, innocent)
	if got.status != http.StatusGatewayTimeout && got.status != http.StatusBadGateway {
		t.Errorf("the collapsed request got %d %q, want the leader's timeout (504 or 502)", got.status, got.body)
	}
	if n := rig.hits.Load(); n != 1 {
		t.Errorf("origin requests = %d, want 1: a follower of a timed-out flight must not try again", n)
	}
}

// awaitCollapse waits (5s at most) until a request has collapsed into
// another: the origin calls it to hold the attacker's response until the
// innocent request has joined the flight.
func (rig *poisonRig) awaitCollapse() {
	for deadline := time.Now().Add(5 * time.Second); rig.coalesce.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
}

// collapseInto sends attack, and once it reached the origin (which holds
// it with awaitCollapse), the innocent request, and returns the innocent
// client's response. It fails unless the innocent request collapsed.
func (rig *poisonRig) collapseInto(t *testing.T, attack string) rawResult {
	t.Helper()
	done := make(chan rawResult, 1)
	go func() { done <- rig.raw(t, attack) }()
	for deadline := time.Now().Add(5 * time.Second); rig.hits.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	got := rig.raw(t, innocent)
	<-done
	if rig.coalesce.Load() == 0 {
		t.Fatal("the innocent request did not collapse into the attacker's")
	}
	return got
}

// TestPoisonUnderscoreFieldNames: CGI and WSGI servers map request field
// names to variables with "-" turned into "_", so that X_Forwarded_Host
// and X-Forwarded-Host both become HTTP_X_FORWARDED_HOST (nginx and
// Apache drop names with "_" for that reason). The spellings with "_" of
// the fields the proxy sets (X-Forwarded-Host, -For, -Proto, Forwarded)
// or drops (DefaultDropRequestFields: X-Original-URL...) used to be
// forwarded, unkeyed: an origin on such a server then built its page for
// the attacker's host or path, stored for everyone. They are not
// forwarded; other names with "_" are.
func TestPoisonUnderscoreFieldNames(t *testing.T) {
	seen := make(chan http.Header, 1)
	rig := newPoisonRig(t, cellar.Config{}, func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte(pageBody))
	})
	rig.raw(t, "GET /page HTTP/1.1\nHost: site.example\nX_Forwarded_Host: evil.example\nX_forwarded_proto: https\n"+
		"X_Original_URL: /admin\nX_HTTP_Method_Override: DELETE\nX_Custom_Field: kept\nConnection: close\n\n")
	h := <-seen
	for k := range h {
		if n := http.CanonicalHeaderKey(strings.ReplaceAll(k, "_", "-")); n != k &&
			(n == "X-Forwarded-Host" || n == "X-Forwarded-Proto" || n == "X-Original-Url" || n == "X-Http-Method-Override") {
			t.Errorf("forwarded %s: %q", k, h[k])
		}
	}
	if h.Get("X-Forwarded-Host") != "site.example" || h.Get("X_custom_field") != "kept" {
		t.Errorf("origin saw X-Forwarded-Host %q, X_custom_field %q", h.Get("X-Forwarded-Host"), h.Get("X_custom_field"))
	}
}

// TestPoisonExpectWithoutContent_RFC9110_10_1_1: an Expect:
// 100-continue on a request without content is not forwarded (RFC 9110
// §10.1.1: a client MUST NOT send one), so an origin that refuses
// expectations answers the page; and the 417 of one that still sees one
// is not stored (spec's TestStore_RFC9110_15_5_13_AnswersRequestFieldNotStored).
func TestPoisonExpectWithoutContent_RFC9110_10_1_1(t *testing.T) {
	rig := newPoisonRig(t, cellar.Config{}, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Expect") != "" {
			w.WriteHeader(http.StatusExpectationFailed)
			return
		}
		servePage(w, r)
	})
	assertPage(t, "client with Expect", rig.raw(t, "GET /page HTTP/1.1\nHost: site.example\nExpect: 100-continue\nConnection: close\n\n"))
	assertPage(t, "innocent client", rig.raw(t, innocent))
}
