package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cellar-http/cellar/store/redis/redistest"
)

// TestE2ERedisShared runs two instances on one Redis: one fills, the
// other hits, and a purge through either is seen by both.
func TestE2ERedisShared(t *testing.T) {
	srv := redistest.Start(t) // skips without redis-server, fails on CI
	o := newOrigin(t)
	store := "redis://" + srv.Addr + "/0"
	a := startCellar(t, "--upstream", o.URL, "--store", store)
	b := startCellar(t, "--upstream", o.URL, "--store", store)

	// Both are asked for the same Host, so they share keys.
	host := "shared.example"
	get := func(in *instance, path string) *http.Response {
		req := mustReq("GET", in.url(path))
		req.Host = host
		resp, _ := do(t, req)
		return resp
	}
	wantStatus(t, get(a, "/max-age/r"), reMiss, "instance A")
	wantStatus(t, get(b, "/max-age/r"), reHit, "instance B")
	if n := o.count("/max-age/r"); n != 1 {
		t.Errorf("origin asked %d times, want 1", n)
	}
	wantStatus(t, get(b, "/tagged/x"), reMiss, "tagged on B")
	wantStatus(t, get(a, "/tagged/x"), reHit, "tagged on A")
	if got := b.purge("tag=x"); got["purged"] != 1.0 {
		t.Errorf("purge through B: %v", got)
	}
	wantStatus(t, get(a, "/tagged/x"), reMiss, "A after B purged")
	if got := a.purge("url=http://" + host + "/max-age/r"); got["purged"] != 1.0 {
		t.Errorf("purge url through A: %v", got)
	}
	wantStatus(t, get(b, "/max-age/r"), reMiss, "B after A purged")
}

// TestE2EDiskRestartAfterKill: what was stored before a SIGKILL is served
// from the disk store after a restart, without asking the origin.
func TestE2EDiskRestartAfterKill(t *testing.T) {
	o := newOrigin(t)
	dir := filepath.Join(t.TempDir(), "cellar-data")
	c := startCellar(t, "--upstream", o.URL, "--store", "disk:"+dir)
	host := "restart.example"
	get := func(in *instance, path string) (*http.Response, string) {
		req := mustReq("GET", in.url(path))
		req.Host = host
		return do(t, req)
	}
	for _, p := range []string{"/max-age/1", "/max-age/2", "/tagged/k"} {
		resp, _ := get(c, p)
		wantStatus(t, resp, reMiss, p)
	}
	_ = c.stop(syscall.SIGKILL)

	c2 := startCellar(t, "--upstream", o.URL, "--store", "disk:"+dir)
	for _, p := range []string{"/max-age/1", "/max-age/2", "/tagged/k"} {
		resp, body := get(c2, p)
		wantStatus(t, resp, reHit, p+" after restart")
		if o.count(p) != 1 || body == "" {
			t.Errorf("%s: origin asked %d times, body %q", p, o.count(p), body)
		}
	}
	if got := c2.purge("tag=k"); got["purged"] != 1.0 {
		t.Errorf("tag index after restart: %v", got)
	}
}

// TestE2EStreamingUpgradeLimits: event streams flow through as they come,
// WebSocket upgrades pass through, and oversized headers and bodies are
// refused.
func TestE2EStreamingUpgradeLimits(t *testing.T) {
	o := newOrigin(t)
	c := startCellar(t, "--upstream", o.URL, "--store", "memory", "--max-header-bytes", "4KiB", "--max-body-size", "1KiB")

	// The first event arrives long before the second is even written
	// (5 s later): the proxy does not buffer the stream.
	start := time.Now()
	resp, err := http.Get(c.url("/events"))
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "data: 0\n" {
		t.Fatalf("first event %q, %v", line, err)
	}
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Errorf("first event after %v: buffered", d)
	}
	resp.Body.Close()

	// WebSocket: the upgrade and the bytes after it pass through.
	conn, err := net.Dial("tcp", c.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: ws.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(conn)
	up, err := http.ReadResponse(br, nil)
	if err != nil || up.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", up, err)
	}
	io.WriteString(conn, "ping\n")
	if got, err := br.ReadString('\n'); err != nil || got != "PING\n" {
		t.Errorf("echo through the upgraded connection: %q %v", got, err)
	}

	// A header section over --max-header-bytes gets 431.
	req := mustReq("GET", c.url("/max-age/big"))
	req.Header.Set("X-Big", strings.Repeat("x", 8<<10))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("big header: %d", resp.StatusCode)
	}
	// A body over --max-body-size gets 413.
	resp, err = http.Post(c.url("/max-age/post"), "text/plain", strings.NewReader(strings.Repeat("y", 2<<10)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("big body: %d", resp.StatusCode)
	}
}

// TestE2EGracefulShutdown: SIGTERM lets an in-flight response finish.
func TestE2EGracefulShutdown(t *testing.T) {
	o := newOrigin(t)
	c := startCellar(t, "--upstream", o.URL, "--store", "disk:"+t.TempDir())
	resp, err := http.Get(c.url("/slow")) // the origin takes 1 s for the second half
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	time.Sleep(100 * time.Millisecond)
	stopped := make(chan error, 1)
	go func() { stopped <- c.stop(syscall.SIGTERM) }()
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != "0123456789" {
		t.Errorf("in-flight body %q, %v", body, err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("exit: %v\n%s", err, c.logs.String())
	}
}

// TestE2EHTTP2 serves HTTP/2 over TLS and, with --h2c, without it.
func TestE2EHTTP2(t *testing.T) {
	o := newOrigin(t)
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	c := startCellar(t, "--upstream", o.URL, "--store", "memory", "--tls-cert", cert, "--tls-key", key, "--response-via")
	pool := x509.NewCertPool()
	pemBytes, _ := os.ReadFile(cert)
	pool.AppendCertsFromPEM(pemBytes)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	for i, want := range []string{"uri-miss", "hit"} {
		resp, err := client.Get("https://" + c.addr + "/max-age/h2")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.ProtoMajor != 2 || !strings.Contains(resp.Header.Get("Cache-Status"), want) || resp.Header.Get("Via") == "" {
			t.Errorf("TLS request %d: %s, Cache-Status %q, Via %q", i, resp.Proto, resp.Header.Get("Cache-Status"), resp.Header.Get("Via"))
		}
	}

	h := startCellar(t, "--upstream", o.URL, "--store", "memory", "--h2c", "--response-via")
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	resp, err := (&http.Client{Transport: tr}).Get(h.url("/max-age/h2c"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Via names the protocol each hop received (RFC 9110 §7.6.3): HTTP/2
	// from the client, HTTP/1.1 from the origin.
	if resp.ProtoMajor != 2 || o.header("/max-age/h2c").Get("Via") != "2 Cellar" || resp.Header.Get("Via") != "1.1 Cellar" {
		t.Errorf("h2c: %s, Via to origin %q, Via to client %q", resp.Proto, o.header("/max-age/h2c").Get("Via"), resp.Header.Get("Via"))
	}
}

// TestE2EDemoOrigin runs the README's first command, with random ports.
func TestE2EDemoOrigin(t *testing.T) {
	c := startCellar(t, "--demo-origin", "127.0.0.1:0", "--store", "disk:"+t.TempDir())
	resp, body := c.get("/max-age")
	wantStatus(t, resp, reMiss, "demo /max-age")
	resp, body2 := c.get("/max-age")
	wantStatus(t, resp, reHit, "demo /max-age again")
	if body != body2 || !strings.Contains(body, "origin request #1") {
		t.Errorf("bodies %q %q", body, body2)
	}
	resp, _ = c.get("/")
	if resp.StatusCode != 200 {
		t.Errorf("demo index: %d", resp.StatusCode)
	}
}

// TestE2ERefusesBadConfig: the binary exits with status 2 and names the
// flag, before listening on anything.
func TestE2ERefusesBadConfig(t *testing.T) {
	for _, tt := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"serve"}, nil, "--upstream is required"},
		{[]string{"serve", "--upstream", "http://127.0.0.1:1", "--max-size", "huge"}, nil, `invalid value "huge" for flag -max-size`},
		{[]string{"serve", "--upstream", "http://127.0.0.1:1"}, []string{"CELLAR_ADMIN=0.0.0.0:0"}, "is not a loopback address: set --admin-token"},
		{[]string{"serve", "--upstream", "http://127.0.0.1:1", "--store", "redis://"}, nil, "--store \"redis://\""},
		{[]string{"serve", "--upstream", "http://127.0.0.1:1", "--listen", "127.0.0.1:0", "--admin", "off", "--store", "disk:/dev/null/x"}, nil, "--store disk:/dev/null/x"},
	} {
		cmd := exec.Command(cellarBin, tt.args...)
		cmd.Env = append(os.Environ(), tt.env...)
		out, err := cmd.CombinedOutput()
		code := -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code < 1 || !strings.Contains(string(out), tt.want) {
			t.Errorf("%v %v: exit %d, output %q; want a failure mentioning %q", tt.args, tt.env, code, out, tt.want)
		}
	}
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

// TestE2ECoalescingAndBackgroundRefresh: concurrent misses make one
// upstream request, and a stale-while-revalidate hit is refreshed in the
// background; /metrics counts both.
func TestE2ECoalescingAndBackgroundRefresh(t *testing.T) {
	o := newOrigin(t)
	c := startCellar(t, "--upstream", o.URL, "--store", "memory")
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, body := c.get("/slow")
			if body != "0123456789" {
				t.Errorf("coalesced body %q", body)
			}
		}()
	}
	wg.Wait()
	if n := o.count("/slow"); n != 1 {
		t.Errorf("origin asked %d times for /slow, want 1", n)
	}
	// All four followers arrive within the second the fill takes, but a
	// very slow machine may let one in after it: then it is a hit.
	coalesced, hits := c.metric("cellar_cache_coalesced_total"), c.metric(`cellar_cache_served_total{outcome="hit"}`)
	if coalesced < 1 || coalesced+hits != 4 {
		t.Errorf("cellar_cache_coalesced_total = %v and %v hits, want 4 together", coalesced, hits)
	}

	c.get("/swr")
	time.Sleep(1100 * time.Millisecond) // past max-age=1, inside stale-while-revalidate
	resp, _ := c.get("/swr")
	if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "hit") {
		t.Errorf("stale-while-revalidate: Cache-Status %q", cs)
	}
	deadline := time.Now().Add(30 * time.Second)
	for o.count("/swr") < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if got := c.metric(`cellar_cache_background_refreshes_total{result="ok"}`); got != 1 || o.count("/swr") != 2 {
		t.Errorf("background refreshes %v, origin asked %d times", got, o.count("/swr"))
	}
	if got := c.metric(`cellar_proxy_requests_total{cache="hit-stale"`); got != 1 {
		t.Errorf("hit-stale requests %v", got)
	}
}
