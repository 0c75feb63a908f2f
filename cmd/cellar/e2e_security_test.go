package main

// Security tests of `cellar serve` (issue 12): each sends an attacker's raw
// bytes over a socket to a running cellar, then checks that a second,
// innocent client gets what the origin serves it.

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cellar-http/cellar/store/redis/redistest"
)

// rawRequest sends raw to addr on a new connection and reads one response.
func rawRequest(t *testing.T, addr, raw string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return rawRequestOn(t, c, raw)
}

// rawRequestOn is rawRequest on the connection c, which it closes.
func rawRequestOn(t *testing.T, c net.Conn, raw string) (*http.Response, string) {
	t.Helper()
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	var req *http.Request // nil reads as the answer to a GET
	if strings.HasPrefix(raw, "HEAD ") {
		req = &http.Request{Method: http.MethodHead}
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		t.Fatalf("reading the response to %q: %v", raw, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// rawAll sends raw to addr and reads everything until the connection is
// closed or the read deadline passes; closed reports which.
func rawAll(t *testing.T, addr, raw string, wait time.Duration) (out string, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	b, err := io.ReadAll(c)
	var ne net.Error
	timedOut := errors.As(err, &ne) && ne.Timeout()
	return string(b), !timedOut
}

// reflectingOrigin answers every path with a cacheable body that echoes
// the fields origins commonly trust (as IIS and Symfony do with
// X-Original-URL): a poisoned entry would show them.
func reflectingOrigin(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		path := r.URL.Path
		if v := r.Header.Get("X-Original-URL"); v != "" {
			path = v
		}
		w.Header().Set("Cache-Control", "max-age=300")
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "page "+path+" method "+r.Method+" host "+r.Header.Get("X-Host")+r.Header.Get("X-Forwarded-Scheme"))
	}))
	t.Cleanup(o.Close)
	return o, &n
}

// Issue 12 item 3: unkeyed request fields that origins trust are dropped
// before forwarding, so an attacker's request cannot store a response
// shaped by them.
func TestSecurityUnkeyedFieldsDropped(t *testing.T) {
	o, _ := reflectingOrigin(t)
	in := startCellar(t, "--upstream", o.URL, "--store", "memory")
	for _, tc := range []struct{ path, field, value string }{
		{"/home", "X-Original-URL", "/admin"},
		{"/about", "X-Rewrite-URL", "/admin"},
		{"/contact", "X-HTTP-Method-Override", "DELETE"},
		{"/news", "X-Host", "evil.example"},
		{"/blog", "X-Forwarded-Scheme", "nothttps"},
	} {
		attack := "GET " + tc.path + " HTTP/1.1\r\nHost: site.example\r\n" + tc.field + ": " + tc.value + "\r\nConnection: close\r\n\r\n"
		resp, body := rawRequest(t, in.addr, attack)
		if resp.StatusCode != 200 || strings.Contains(body, tc.value) {
			t.Errorf("%s: the attacker's response reflects it: %d %q", tc.field, resp.StatusCode, body)
		}
		// The innocent client, without the field, gets the real page.
		resp, body = rawRequest(t, in.addr, "GET "+tc.path+" HTTP/1.1\r\nHost: site.example\r\nConnection: close\r\n\r\n")
		if want := "page " + tc.path + " method GET host "; body != want {
			t.Errorf("%s: innocent client got %q (Cache-Status %q), want %q", tc.field, body, resp.Header.Get("Cache-Status"), want)
		}
	}

	// --pass-request-fields forwards one again (for an origin that keys
	// on it with Vary), and --drop-request-fields adds one.
	in = startCellar(t, "--upstream", o.URL, "--store", "memory", "--pass-request-fields", "x-original-url", "--drop-request-fields", "X-Custom")
	_, body := rawRequest(t, in.addr, "GET /home HTTP/1.1\r\nHost: site.example\r\nX-Original-URL: /admin\r\nConnection: close\r\n\r\n")
	if !strings.Contains(body, "/admin") {
		t.Errorf("--pass-request-fields X-Original-URL: origin did not receive it: %q", body)
	}
}

// Issue 12 item 4: with --ignore-request-cache-control, a client cannot
// force a refresh (RFC 9111 §5.2.1.4 no-cache, §5.2.1.1 max-age=0, §5.4
// Pragma) to re-store a response at will; by default it still can.
func TestSecurityClientForcedRefresh(t *testing.T) {
	o, n := reflectingOrigin(t)
	forced := []string{"Cache-Control: no-cache", "Cache-Control: max-age=0", "Pragma: no-cache", "Cache-Control: min-fresh=9999"}
	for _, ignore := range []bool{false, true} {
		args := []string{"--upstream", o.URL, "--store", "memory"}
		if ignore {
			args = append(args, "--ignore-request-cache-control")
		}
		in := startCellar(t, args...)
		n.Store(0)
		rawRequest(t, in.addr, "GET /p HTTP/1.1\r\nHost: site.example\r\nConnection: close\r\n\r\n")
		for _, f := range forced {
			rawRequest(t, in.addr, "GET /p HTTP/1.1\r\nHost: site.example\r\n"+f+"\r\nConnection: close\r\n\r\n")
		}
		resp, _ := rawRequest(t, in.addr, "GET /p HTTP/1.1\r\nHost: site.example\r\nConnection: close\r\n\r\n")
		got := n.Load()
		switch {
		case ignore && (got != 1 || !reHit.MatchString(resp.Header.Get("Cache-Status"))):
			t.Errorf("--ignore-request-cache-control: %d origin requests (want 1), innocent Cache-Status %q", got, resp.Header.Get("Cache-Status"))
		case !ignore && got != int64(1+len(forced)):
			t.Errorf("default: %d origin requests, want %d (RFC 9111 honours client refreshes)", got, 1+len(forced))
		}
	}
}

// Issue 12 item 11: the proxy never invents a Content-Type (RFC 9110
// §8.3): when the upstream sent none, neither does any response, on a
// miss, a hit, a pass-through, a revalidation, a 304 or a HEAD.
func TestSecurityNoSniffedContentType(t *testing.T) {
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil // the origin sends none
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("ETag", `"v1"`)
		switch r.URL.Path {
		case "/stored":
			w.Header().Set("Cache-Control", "max-age=300")
		case "/revalidated":
			w.Header().Set("Cache-Control", "no-cache")
			if r.Header.Get("If-None-Match") == `"v1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		default:
			w.Header().Set("Cache-Control", "no-store")
		}
		io.WriteString(w, "<html><script>alert(1)</script></html>")
	}))
	t.Cleanup(o.Close)
	in := startCellar(t, "--upstream", o.URL, "--store", "memory")
	for _, tc := range []struct{ what, req string }{
		{"miss", "GET /stored HTTP/1.1\r\nHost: a\r\n\r\n"},
		{"hit", "GET /stored HTTP/1.1\r\nHost: a\r\n\r\n"},
		{"HEAD hit", "HEAD /stored HTTP/1.1\r\nHost: a\r\n\r\n"},
		{"304 to the client", "GET /stored HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"v1\"\r\n\r\n"},
		{"pass-through", "GET /passed HTTP/1.1\r\nHost: a\r\n\r\n"},
		{"upgrade bypass", "GET /passed HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: nothing\r\n\r\n"},
		{"stored for revalidation", "GET /revalidated HTTP/1.1\r\nHost: a\r\n\r\n"},
		{"revalidated", "GET /revalidated HTTP/1.1\r\nHost: a\r\n\r\n"},
	} {
		resp, _ := rawRequest(t, in.addr, tc.req)
		if ct, ok := resp.Header["Content-Type"]; ok {
			t.Errorf("%s: %d with Content-Type %q (Cache-Status %q); the upstream sent none",
				tc.what, resp.StatusCode, ct, resp.Header.Get("Cache-Status"))
		}
	}
}

// Issue 12 item 12: loopback is not a trust boundary by itself. A
// cross-site form POST from a browser on the same machine, or a page that
// reached the admin listener by DNS rebinding (its own name in Host),
// cannot purge; a tool's purge (curl with the purge header, or JSON) can;
// /metrics and /healthz stay open.
func TestSecurityAdminCrossSitePurge(t *testing.T) {
	o, _ := reflectingOrigin(t)
	in := startCellar(t, "--upstream", o.URL, "--store", "memory")
	rawRequest(t, in.addr, "GET /p HTTP/1.1\r\nHost: site.example\r\nConnection: close\r\n\r\n")
	form := "url=http%3A%2F%2Fsite.example%2Fp"
	post := func(hdr, body string) string {
		return "POST /purge HTTP/1.1\r\nHost: " + in.admin + "\r\n" + hdr +
			"Content-Length: " + itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + body
	}
	for _, tc := range []struct{ what, raw string }{
		{"cross-site form POST", post("Origin: http://evil.example\r\nSec-Fetch-Site: cross-site\r\nContent-Type: application/x-www-form-urlencoded\r\n", form)},
		{"form POST with a foreign Origin", post("Origin: http://evil.example\r\nContent-Type: application/x-www-form-urlencoded\r\n", form)},
		{"form POST without Origin (an old browser)", post("Content-Type: application/x-www-form-urlencoded\r\n", form)},
		{"text/plain POST", "POST /purge?" + form + " HTTP/1.1\r\nHost: " + in.admin + "\r\nContent-Type: text/plain\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"},
		{"DNS rebinding (Host is the attacker's name)", "POST /purge?" + form + " HTTP/1.1\r\nHost: rebind.evil.example:" + port(in.admin) + "\r\nX-Cellar-Purge: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"},
	} {
		resp, body := rawRequest(t, in.admin, tc.raw)
		if resp.StatusCode < 400 {
			t.Errorf("%s: %d %s", tc.what, resp.StatusCode, body)
		}
		// The innocent client still gets its stored page.
		resp, _ = rawRequest(t, in.addr, "GET /p HTTP/1.1\r\nHost: site.example\r\nConnection: close\r\n\r\n")
		if !reHit.MatchString(resp.Header.Get("Cache-Status")) {
			t.Fatalf("after %s: the entry is gone (Cache-Status %q)", tc.what, resp.Header.Get("Cache-Status"))
		}
	}
	for _, path := range []string{"/metrics", "/healthz"} {
		if resp, _ := rawRequest(t, in.admin, "GET "+path+" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"); resp.StatusCode != 200 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
	// Tools: the purge header, a JSON body, or PURGE.
	for _, raw := range []string{
		"POST /purge?" + form + " HTTP/1.1\r\nHost: localhost:" + port(in.admin) + "\r\nX-Cellar-Purge: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		post("Content-Type: application/json\r\n", `{"url": ["http://site.example/p"]}`),
		"PURGE /purge?" + form + " HTTP/1.1\r\nHost: [::1]\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
	} {
		rawRequest(t, in.addr, "GET /p HTTP/1.1\r\nHost: site.example\r\nConnection: close\r\n\r\n")
		if resp, body := rawRequest(t, in.admin, raw); resp.StatusCode != 200 || !strings.Contains(body, `"purged": 1`) {
			t.Errorf("%q: %d %s", raw, resp.StatusCode, body)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// countingOrigin counts the requests of each path and answers a cacheable
// body naming it.
func countingOrigin(t *testing.T) *origin {
	o := &origin{counts: map[string]int{}, last: map[string]http.Header{}}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		o.mu.Lock()
		o.counts[r.URL.Path]++
		o.mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=300")
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "page "+r.URL.Path)
	}))
	t.Cleanup(o.Close)
	return o
}

// Issue 12 item 10, RFC 9112 §6.1 and §6.3: a request framed two ways
// (Content-Length with Transfer-Encoding, Transfer-Encoding in HTTP/1.0)
// or with obs-fold is answered 400 and its connection closed: the bytes
// another parser would frame differently never become a request
// ("GGET"). An innocent request on another connection is served.
func TestSecuritySmugglingRFC9112_6_3(t *testing.T) {
	o := countingOrigin(t)
	in := startCellar(t, "--upstream", o.URL, "--store", "memory")
	smuggled := "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
	for _, tc := range []struct{ what, raw string }{
		{"CL.TE", "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG" + smuggled},
		{"TE.CL", "POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\n" + smuggled + "\r\n0\r\n\r\n"},
		{"HTTP/1.0 with TE", "POST /a HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
		{"obs-fold", "GET /a HTTP/1.1\r\nHost: a\r\nX-Long: a\r\n b\r\n\r\n" + smuggled},
		{"obs-fold hiding TE", "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX: y\r\n\tTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
	} {
		out, closed := rawAll(t, in.addr, tc.raw, 30*time.Second)
		if !strings.HasPrefix(out, "HTTP/1.1 400 ") || strings.Count(out, "HTTP/1.1 ") != 1 || !closed {
			t.Errorf("%s: want one 400 and the connection closed, got closed=%v:\n%s", tc.what, closed, out)
		}
	}
	if n := o.count("/smuggled") + o.count("/a"); n != 0 {
		t.Errorf("the origin received %d of the attacker's requests", n)
	}
	// The innocent client.
	resp, body := rawRequest(t, in.addr, "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp.StatusCode != 200 || body != "page /smuggled" || o.count("/smuggled") != 1 {
		t.Errorf("innocent: %d %q", resp.StatusCode, body)
	}
	// Well-framed requests keep their connection: pipelined, chunked,
	// with a body, and with bare LF line endings (normalised, RFC 9112
	// §2.2).
	ok := "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
		"POST /l HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz" +
		"GET /lf HTTP/1.1\nHost: a\n\n" +
		"GET /last HTTP/1.1\r\nHost: a\r\n\r\n"
	out, closed := rawAll(t, in.addr, ok, 2*time.Second)
	if strings.Count(out, "HTTP/1.1 200 ") != 4 || closed {
		t.Errorf("well-framed pipeline: closed=%v\n%s", closed, out)
	}
}

// waitMetric polls the admin listener until series reaches want.
func (in *instance) waitMetric(series string, want float64) {
	in.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for in.metric(series) != want {
		if time.Now().After(deadline) {
			in.t.Fatalf("%s = %v, want %v\n%s", series, in.metric(series), want, in.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Issue 12 item 9: --max-conns bounds the open connections. Past it, the
// longest-idle keep-alive connection is closed to make room; when none is
// idle, a new connection is answered 503 and closed.
func TestSecurityMaxConns(t *testing.T) {
	o := countingOrigin(t)
	in := startCellar(t, "--upstream", o.URL, "--store", "memory", "--max-conns", "4")
	get := "GET /p HTTP/1.1\r\nHost: a\r\n\r\n"
	var idle []net.Conn
	for range 4 {
		c, err := net.Dial("tcp", in.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, get)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		idle = append(idle, c)
	}
	in.waitMetric("cellar_proxy_connections_idle", 4)
	// The innocent client gets a connection: an idle one made room.
	if resp, body := rawRequest(t, in.addr, get); resp.StatusCode != 200 || body != "page /p" {
		t.Fatalf("innocent client with 4 idle connections open: %d %q", resp.StatusCode, body)
	}
	_ = idle[0].SetReadDeadline(time.Now().Add(30 * time.Second))
	if n, err := idle[0].Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("the longest-idle connection was not closed: %d %v", n, err)
	}
	// Three idle connections are left (the innocent client's is closed).
	in.waitMetric("cellar_proxy_connections_open", 3)
	// Four connections that send nothing are not idle: a fifth is refused.
	for range 4 {
		c, err := net.Dial("tcp", in.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	in.waitMetric("cellar_proxy_connections_open", 4)
	in.waitMetric("cellar_proxy_connections_idle", 0)
	out, closed := rawAll(t, in.addr, get, 30*time.Second)
	if !strings.HasPrefix(out, "HTTP/1.1 503 ") || !closed {
		t.Errorf("past --max-conns with none idle: closed=%v %q", closed, out)
	}
	if in.metric("cellar_proxy_connections_refused_total") != 1 {
		t.Errorf("refused: %v", in.metric("cellar_proxy_connections_refused_total"))
	}
}

// slowBodyOrigin counts the upload requests that reached it, and holds
// /hold until release is closed.
type slowBodyOrigin struct {
	*httptest.Server
	uploads, inFlight atomic.Int64
	release           chan struct{}
}

func newSlowBodyOrigin(t *testing.T) *slowBodyOrigin {
	o := &slowBodyOrigin{release: make(chan struct{})}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.inFlight.Add(1)
		defer o.inFlight.Add(-1)
		if r.URL.Path == "/upload" {
			o.uploads.Add(1)
		}
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/hold" {
			<-o.release
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "got "+strconv.Itoa(len(b)))
	}))
	t.Cleanup(func() {
		select {
		case <-o.release:
		default:
			close(o.release)
		}
		o.Close()
	})
	return o
}

// Issue 12 item 7: request bodies are received in full before the request
// goes upstream, so clients sending theirs slowly hold no upstream
// connection; receiving them is bounded (408); the upstream connections
// in flight are capped (503 past the queue timeout).
func TestSecuritySlowRequestBodies(t *testing.T) {
	o := newSlowBodyOrigin(t)
	in := startCellar(t, "--upstream", o.URL, "--store", "memory",
		"--request-body-timeout", "1s", "--request-body-min-rate", "1KiB", "--upstream-max-conns", "1", "--upstream-queue-timeout", "300ms")
	const slow = 20
	results := make(chan string, slow)
	for range slow {
		go func() {
			c, err := net.Dial("tcp", in.addr)
			if err != nil {
				results <- err.Error()
				return
			}
			defer c.Close()
			io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n")
			for range 20 { // one byte every 100ms: far below 1KiB/s
				if _, err := io.WriteString(c, "x"); err != nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				results <- err.Error()
				return
			}
			io.Copy(io.Discard, resp.Body)
			// The connection is closed, not kept waiting for the rest of
			// the body.
			if _, err := br.ReadByte(); err != io.EOF {
				results <- resp.Status + ", then the connection is not closed: " + fmt.Sprint(err)
				return
			}
			results <- resp.Status
		}()
	}
	// While they trickle, the innocent client's upload goes through the
	// one upstream connection.
	time.Sleep(300 * time.Millisecond)
	if n := o.uploads.Load(); n != 0 {
		t.Errorf("%d slow uploads reached the origin before their bodies were complete", n)
	}
	resp, body := rawRequest(t, in.addr, "POST /fast HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
	if resp.StatusCode != 200 || body != "got 5" {
		t.Errorf("innocent upload: %d %q", resp.StatusCode, body)
	}
	for range slow {
		if got := <-results; got != "408 Request Timeout" {
			t.Errorf("slow body: %s, want 408", got)
		}
	}
	if n := o.uploads.Load(); n != 0 {
		t.Errorf("%d slow uploads reached the origin", n)
	}

	// One request holds the only upstream connection: the next waits
	// --upstream-queue-timeout, then gets 503 with a Cache-Status.
	held := make(chan *http.Response, 1)
	go func() {
		resp, _ := rawRequest(t, in.addr, "GET /hold HTTP/1.1\r\nHost: a\r\n\r\n")
		held <- resp
	}()
	for o.inFlight.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	resp, _ = rawRequest(t, in.addr, "GET /other HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(resp.Header.Get("Cache-Status"), "detail=upstream-busy") {
		t.Errorf("past --upstream-max-conns: %d, Cache-Status %q", resp.StatusCode, resp.Header.Get("Cache-Status"))
	}
	close(o.release)
	if r := <-held; r.StatusCode != 200 {
		t.Errorf("the held request: %d", r.StatusCode)
	}
	if resp, _ := rawRequest(t, in.addr, "GET /other HTTP/1.1\r\nHost: a\r\n\r\n"); resp.StatusCode != 200 {
		t.Errorf("after the slot is free: %d", resp.StatusCode)
	}
}

// --stream-request-bodies restores streaming: the origin sees the request
// before its body is complete.
func TestSecurityStreamRequestBodies(t *testing.T) {
	o := newSlowBodyOrigin(t)
	in := startCellar(t, "--upstream", o.URL, "--store", "memory", "--stream-request-bodies")
	c, err := net.Dial("tcp", in.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nx")
	deadline := time.Now().Add(10 * time.Second)
	for o.uploads.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if o.uploads.Load() != 1 {
		t.Fatal("the streamed upload did not reach the origin before its body was complete")
	}
	io.WriteString(c, "yz")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("streamed upload: %v %v", resp, err)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "got 3" {
		t.Errorf("streamed upload: %q", b)
	}
}

// TestE2ETrustedProxies_RFC9112_3_3: --trusted-proxies is wired. Behind a
// trusted load balancer that terminates TLS (here 127.0.0.1), its
// X-Forwarded-Proto: https reaches the origin (which then does not
// redirect the client to the URL it asked for) and keys the page apart
// from the origin's redirect for plain HTTP. Without the flag, a client's
// X-Forwarded-Proto: https over plain HTTP is replaced with http.
func TestE2ETrustedProxies_RFC9112_3_3(t *testing.T) {
	o := redirectingOrigin(t)
	req := func(in *instance, xfp string) (*http.Response, string) {
		return rawRequest(t, in.addr, "GET /p HTTP/1.1\r\nHost: site.example\r\nX-Forwarded-Proto: "+xfp+"\r\nConnection: close\r\n\r\n")
	}

	lb := startCellar(t, "--upstream", o.URL, "--store", "memory", "--trusted-proxies", "127.0.0.1/32,::1")
	if resp, body := req(lb, "https"); resp.StatusCode != 200 || body != "secure page" {
		t.Errorf("https through the trusted LB: %d %q, want the page", resp.StatusCode, body)
	}
	if resp, _ := req(lb, "http"); resp.StatusCode != http.StatusMovedPermanently {
		t.Errorf("http through the trusted LB: %d, want the origin's 301 (another key)", resp.StatusCode)
	}
	resp, body := req(lb, "https")
	wantStatus(t, resp, reHit, "https through the trusted LB, again")
	if body != "secure page" {
		t.Errorf("https through the trusted LB, again: %q", body)
	}

	plain := startCellar(t, "--upstream", o.URL, "--store", "memory")
	if resp, _ := req(plain, "https"); resp.StatusCode != http.StatusMovedPermanently {
		t.Errorf("untrusted client's X-Forwarded-Proto: https: %d, want the origin's 301 for plain HTTP", resp.StatusCode)
	}
}

// redirectingOrigin is an origin that redirects plain HTTP to HTTPS on the
// word of X-Forwarded-Proto, as most do behind a proxy, and answers HTTPS
// with "secure page"; both cacheable for ten minutes.
func redirectingOrigin(t *testing.T) *httptest.Server {
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		if r.Header.Get("X-Forwarded-Proto") != "https" {
			http.Redirect(w, r, "https://"+r.Host+r.URL.RequestURI(), http.StatusMovedPermanently)
			return
		}
		io.WriteString(w, "secure page")
	}))
	t.Cleanup(o.Close)
	return o
}

// TestE2ESchemeSharedRedis_RFC9111_4: two cellar processes on one Redis
// store, one serving plain HTTP and one HTTPS (--tls-cert). The origin's
// redirect of a plain-HTTP client is stored under that client's scheme,
// and the HTTPS client gets the page, not the redirect to the URL it asked
// for (RFC 9111 §4: a stored response answers its own target URI; RFC
// 9112 §3.3: "https" when the connection is secured). A purge of the path
// through either removes both copies.
func TestE2ESchemeSharedRedis_RFC9111_4(t *testing.T) {
	srv := redistest.Start(t) // skips without redis-server, fails on CI
	o := redirectingOrigin(t)
	store := "redis://" + srv.Addr + "/0"
	cert, key := selfSigned(t, t.TempDir())
	plain := startCellar(t, "--upstream", o.URL, "--store", store)
	secure := startCellar(t, "--upstream", o.URL, "--store", store, "--tls-cert", cert, "--tls-key", key)
	const get = "GET /p HTTP/1.1\r\nHost: site.example\r\nConnection: close\r\n\r\n"
	overTLS := func() (*http.Response, string) {
		c, err := tls.Dial("tcp", secure.addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		return rawRequestOn(t, c, get)
	}
	for _, want := range []*regexp.Regexp{reMiss, reHit} {
		resp, _ := rawRequest(t, plain.addr, get)
		if resp.StatusCode != http.StatusMovedPermanently {
			t.Errorf("plain-HTTP client: %d, want the origin's 301", resp.StatusCode)
		}
		wantStatus(t, resp, want, "plain-HTTP client")
		resp, body := overTLS()
		if resp.StatusCode != http.StatusOK || body != "secure page" {
			t.Errorf("HTTPS client: %d %q, want 200 %q", resp.StatusCode, body, "secure page")
		}
		wantStatus(t, resp, want, "HTTPS client")
	}
	if got := plain.purge("path=/p"); got["purged"] != 2.0 {
		t.Errorf("purge path=/p: %v, want both schemes' copies", got)
	}
	resp, _ := overTLS()
	wantStatus(t, resp, reMiss, "HTTPS client after the purge")
}
