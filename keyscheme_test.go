package cellar

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestHandlerKeysOnConnectionScheme_RFC9112_3_3: behind Handler, a server
// request's target URI has the scheme of its connection, "https" when it
// is secured (RFC 9112 §3.3), and a stored response answers only its own
// target URI (RFC 9111 §4). One cache serving plain HTTP and HTTPS keeps
// the handler's redirect of plain HTTP (cacheable for ten minutes) apart
// from the page HTTPS clients get: the HTTPS client, after the plain one,
// is not redirected to the URL it asked for.
func TestHandlerKeysOnConnectionScheme_RFC9112_3_3(t *testing.T) {
	c := newTestCache(t, nil, true, Config{})
	h := c.Handler(http.HandlerFunc(redirectPlainHTTP))
	plain, secure := httptest.NewServer(h), httptest.NewTLSServer(h)
	defer plain.Close()
	defer secure.Close()
	get := func(conn net.Conn) (int, string) { t.Helper(); return sendTarget(t, conn, "/p") }
	conn, err := net.Dial("tcp", plain.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := get(conn); status != http.StatusMovedPermanently {
		t.Fatalf("plain-HTTP client got %d, want the redirect", status)
	}
	tconn, err := tls.Dial("tcp", secure.Listener.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	if status, body := get(tconn); status != http.StatusOK || body != "secure page" {
		t.Errorf("HTTPS client got %d %q, want 200 %q", status, body, "secure page")
	}
	for _, key := range []string{"http://site.example/p", "https://site.example/p"} {
		if n := len(entries(t, c.Store(), key)); n != 1 {
			t.Errorf("%s: %d entries, want 1", key, n)
		}
	}
}

// TestAbsoluteFormCannotChooseTheKeysScheme_RFC9110_7_4: a request-target
// in absolute-form names its own scheme (RFC 9112 §3.2.2), and net/http
// puts it in the server request's URL; but a request for an "https"
// resource received over a connection that is not secured is misdirected
// (RFC 9110 §7.4). Keyed on the URL's scheme, an attacker on plain HTTP
// sending "GET https://site.example/p" had the handler's redirect of plain
// HTTP stored under the key of the HTTPS page, and every HTTPS client was
// redirected to the URL it had asked for, in a loop (and "http://" over
// TLS stored the HTTPS page under the plain key). Such a request is not
// answered from, nor stored in, the cache.
func TestAbsoluteFormCannotChooseTheKeysScheme_RFC9110_7_4(t *testing.T) {
	c := newTestCache(t, nil, true, Config{})
	h := c.Handler(http.HandlerFunc(redirectPlainHTTP))
	plain, secure := httptest.NewServer(h), httptest.NewTLSServer(h)
	defer plain.Close()
	defer secure.Close()
	send := func(conn net.Conn, target string) (int, string) { t.Helper(); return sendTarget(t, conn, target) }
	dialPlain := func() net.Conn {
		conn, err := net.Dial("tcp", plain.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		return conn
	}
	dialTLS := func() net.Conn {
		conn, err := tls.Dial("tcp", secure.Listener.Addr().String(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		return conn
	}
	// The attacker, over plain HTTP, names the https resource.
	if status, _ := send(dialPlain(), "https://site.example/p"); status != http.StatusMovedPermanently {
		t.Fatalf("attacker got %d, want the handler's redirect", status)
	}
	// An innocent HTTPS client gets the page.
	if status, body := send(dialTLS(), "/p"); status != http.StatusOK || body != "secure page" {
		t.Errorf("HTTPS client got %d %q after the attacker, want 200 %q", status, body, "secure page")
	}
	// The scheme's case is not significant (RFC 9110 §4.2.3): net/http
	// lowers it in the URL, not in the request-target.
	if status, _ := send(dialPlain(), "HTTPS://site.example/r"); status != http.StatusMovedPermanently {
		t.Fatalf("attacker (upper-case scheme) got %d, want the handler's redirect", status)
	}
	if status, body := send(dialTLS(), "/r"); status != http.StatusOK || body != "secure page" {
		t.Errorf("HTTPS client got %d %q after the upper-case attacker, want 200 %q", status, body, "secure page")
	}
	// The other way round: over TLS, naming the http resource.
	if status, _ := send(dialTLS(), "http://site.example/q"); status != http.StatusOK {
		t.Fatalf("attacker over TLS got %d", status)
	}
	if status, _ := send(dialPlain(), "/q"); status != http.StatusMovedPermanently {
		t.Errorf("plain-HTTP client got %d after the attacker, want the redirect", status)
	}
}

// redirectPlainHTTP is a handler that redirects plain HTTP to HTTPS on the
// word of its connection and serves the page over TLS, both cacheable for
// ten minutes.
func redirectPlainHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "max-age=600")
	if r.TLS == nil {
		http.Redirect(w, r, "https://"+r.Host+r.URL.RequestURI(), http.StatusMovedPermanently)
		return
	}
	io.WriteString(w, "secure page")
}

// sendTarget sends "GET target" for Host site.example on conn, as raw
// bytes, and returns the response's status and body.
func sendTarget(t *testing.T, conn net.Conn, target string) (int, string) {
	t.Helper()
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, "GET "+target+" HTTP/1.1\r\nHost: site.example\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
