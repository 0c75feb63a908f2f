package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// hostGet sends GET path to the instance with the given Host header.
func (in *instance) hostGet(host, path string) *http.Response {
	in.t.Helper()
	req := mustReq("GET", in.url(path))
	req.Host = host
	resp, _ := do(in.t, req)
	return resp
}

// TestE2EKeyHostAndPurgePath: by default the key takes the client's Host,
// so one path fetched as localhost and as 127.0.0.1 is stored twice, and
// purge path= removes both (listing the keys it tried). With --key-host the
// two names share one entry, which a purge of either URL removes; the origin
// sees the key's host (RFC 9111 §4: the key names what is forwarded).
func TestE2EKeyHostAndPurgePath(t *testing.T) {
	var mu sync.Mutex
	var hosts []string
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts = append(hosts, r.Host)
		mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=300")
		io.WriteString(w, "x")
	}))
	defer o.Close()

	c := startCellar(t, "--upstream", o.URL, "--store", "memory")
	_, port, _ := net.SplitHostPort(c.addr)
	local, loop := "localhost:"+port, "127.0.0.1:"+port
	wantStatus(t, c.hostGet(local, "/x"), reMiss, "GET as localhost")
	wantStatus(t, c.hostGet(loop, "/x"), reMiss, "GET as 127.0.0.1 (another key)")
	c.hostGet(local, "/x?q=1")
	got := c.purge("path=/x")
	detail, _ := got["detail"].([]any)
	if got["purged"] != 2.0 || len(detail) != 1 || fmt.Sprint(detail[0].(map[string]any)["keys"]) != fmt.Sprintf("[http://%s/x http://%s/x]", loop, local) {
		t.Errorf("purge path=/x: %v", got)
	}
	wantStatus(t, c.hostGet(local, "/x?q=1"), reHit, "another query survives")

	k := startCellar(t, "--upstream", o.URL, "--store", "memory", "--key-host", "www.example")
	_, port, _ = net.SplitHostPort(k.addr)
	local, loop = "localhost:"+port, "127.0.0.1:"+port
	mu.Lock()
	hosts = nil
	mu.Unlock()
	wantStatus(t, k.hostGet(local, "/x"), reMiss, "--key-host: GET as localhost")
	wantStatus(t, k.hostGet(loop, "/x"), reHit, "--key-host: GET as 127.0.0.1 (the same key)")
	mu.Lock()
	if len(hosts) != 1 || hosts[0] != "www.example" {
		t.Errorf("origin saw Hosts %q, want [www.example]: the request is forwarded with the key's host", hosts)
	}
	mu.Unlock()
	got = k.purge("url=" + url.QueryEscape("http://"+loop+"/x"))
	if got["purged"] != 1.0 || !strings.Contains(fmt.Sprint(got["detail"]), "key:http://www.example/x") {
		t.Errorf("--key-host: purge url: %v", got)
	}
	wantStatus(t, k.hostGet(local, "/x"), reMiss, "--key-host: GET after purge")
}

// TestE2ENotReusable: a dynamic page (no freshness, no validator) is served
// and not stored (RFC 9111 §3, §4.2.4): Cache-Status says why, and the store
// stays empty.
func TestE2ENotReusable(t *testing.T) {
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "dynamic")
	}))
	defer o.Close()
	c := startCellar(t, "--upstream", o.URL, "--store", "disk:"+t.TempDir())
	for range 2 {
		resp, body := c.get("/page")
		if cs := resp.Header.Get("Cache-Status"); body != "dynamic" || cs != "Cellar; fwd=uri-miss; fwd-status=200; detail=not-reusable" {
			t.Errorf("GET /page: %q, Cache-Status %q", body, cs)
		}
	}
	if n := c.metric("cellar_store_entries"); n != 0 {
		t.Errorf("%v entries stored", n)
	}
}

// TestE2EErrorCacheStatus: a 502 (upstream refused) and a 504 (upstream
// timeout) carry Cache-Status like every other response (RFC 9211).
func TestE2EErrorCacheStatus(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	c := startCellar(t, "--upstream", refused, "--store", "memory")
	resp, _ := c.get("/a")
	if cs := resp.Header.Get("Cache-Status"); resp.StatusCode != http.StatusBadGateway || cs != "Cellar; fwd=uri-miss; detail=upstream-refused" {
		t.Errorf("refused: %d, Cache-Status %q", resp.StatusCode, cs)
	}

	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	s := startCellar(t, "--upstream", slow.URL, "--store", "memory", "--upstream-timeout", "100ms")
	resp, _ = s.get("/a")
	if cs := resp.Header.Get("Cache-Status"); resp.StatusCode != http.StatusGatewayTimeout || cs != "Cellar; fwd=uri-miss; detail=upstream-timeout" {
		t.Errorf("timeout: %d, Cache-Status %q", resp.StatusCode, cs)
	}
}
