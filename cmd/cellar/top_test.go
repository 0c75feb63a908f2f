package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestTopOnce: `cellar top --once` reads a running cellar serve's
// /status.json, with the admin token from the variable serve uses
// (CELLAR_ADMIN_TOKEN), and prints the figures once: requests and hit
// ratio, the store against its budget, the work in flight and the top
// URLs. Without the token it says how to give one.
func TestTopOnce(t *testing.T) {
	const token = "top-secret-token-0123456789"
	o := newOrigin(t)
	in := startCellar(t, "--upstream", o.URL, "--store", "memory", "--max-size", "16MiB", "--admin-token", token)
	for range 3 {
		in.get("/max-age/top")
	}
	in.get("/etag")
	env := func(name string) string {
		if name == "CELLAR_ADMIN_TOKEN" {
			return token
		}
		return ""
	}
	var out, errOut bytes.Buffer
	if err := top(context.Background(), []string{"--once", "--admin", in.admin}, env, &out, &errOut); err != nil {
		t.Fatalf("cellar top --once: %v\n%s", err, errOut.String())
	}
	text := out.String()
	for _, want := range []string{
		"cellar top — http://" + in.admin,
		"since start 4 requests   hit ratio 50.0%   (2 hits, 0 stale, 0 revalidated, 2 misses, 0 pass)",
		"of 16.0 MiB",
		"in flight   0 upstream fills   0 collapsed waiting   background 0/",
		"top URLs by requests\n           3  " + in.addr + "/max-age/top\n",
		"top URLs by bytes\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("cellar top --once lacks %q; it printed:\n%s", want, text)
		}
	}
	if strings.Contains(text, "\x1b[") {
		t.Error("--once printed terminal control sequences")
	}

	err := top(context.Background(), []string{"--once", "--admin", "http://" + in.admin}, func(string) string { return "" }, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "CELLAR_ADMIN_TOKEN") {
		t.Errorf("without the token: %v, want an error naming $CELLAR_ADMIN_TOKEN", err)
	}
}

// TestTopAdminAddress: --admin takes serve's listen address as well as a
// URL; one on every interface is reached on loopback.
func TestTopAdminAddress(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:9090":        "http://127.0.0.1:9090",
		":9090":                 "http://127.0.0.1:9090",
		"[::]:9090":             "http://127.0.0.1:9090",
		"https://cache.lan:91/": "https://cache.lan:91",
		"[::1]:9090":            "http://[::1]:9090",
	} {
		u, err := adminURL(in)
		if err != nil || u.String() != want {
			t.Errorf("adminURL(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for _, bad := range []string{"cache.lan", "ftp://x:1", "http://"} {
		if _, err := adminURL(bad); err == nil {
			t.Errorf("adminURL(%q) accepted", bad)
		}
	}
}
