package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cellar-http/cellar/store/redis/redistest"
)

// TestE2ERedisDownAtStart: issue 13, item 2. A Redis that is down when the
// proxy starts does not stop it: it serves without the cache (Cache-Status
// fwd=bypass), says so in /readyz and cellar_store_breaker_open, and
// connects once the server is up, after which responses are stored again.
func TestE2ERedisDownAtStart(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	o := newOrigin(t)
	c := startCellar(t, "--upstream", o.URL, "--store", "redis://"+srv.Addr+"/0")
	resp, body := c.get("/max-age/down")
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Cache-Status"), "fwd=bypass") {
		t.Fatalf("with Redis down: %d %q, Cache-Status %q", resp.StatusCode, body, resp.Header.Get("Cache-Status"))
	}
	if _, ready := do(t, mustReq("GET", "http://"+c.admin+"/readyz")); !strings.Contains(ready, "breaker open") {
		t.Errorf("/readyz with Redis down: %q", ready)
	}
	if v := c.metric("cellar_store_breaker_open"); v != 1 {
		t.Errorf("cellar_store_breaker_open = %v with Redis down", v)
	}
	if !strings.Contains(c.logs.String(), "cannot be reached at start") {
		t.Errorf("no log line says the store is unreachable:\n%s", c.logs.String())
	}

	srv.Restart()
	deadline := time.Now().Add(30 * time.Second)
	for c.metric("cellar_store_breaker_open") != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the proxy did not connect to Redis once it was up:\n%s", c.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, ready := do(t, mustReq("GET", "http://"+c.admin+"/readyz")); ready != "ok\nstore: available\n" {
		t.Errorf("/readyz with Redis up: %q", ready)
	}
	wantStatus(t, mustGet(c, "/max-age/up"), reMiss, "first request with Redis up")
	wantStatus(t, mustGet(c, "/max-age/up"), reHit, "second request with Redis up")
}

func mustGet(in *instance, path string) *http.Response {
	resp, _ := in.get(path)
	return resp
}
