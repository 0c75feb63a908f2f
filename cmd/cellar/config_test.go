package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cellar-http/cellar/store/disk"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestServeDefaults(t *testing.T) {
	c, err := parseServeConfig([]string{"--upstream", "http://127.0.0.1:9000"}, env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":8080" || c.Admin != "127.0.0.1:9090" || c.Store.Kind != "disk" || c.Store.Path != "./cellar-data" ||
		c.MaxSize != 1<<30 || c.MaxVariants != 32 || c.DiskFsync != disk.FsyncInterval || c.DiskSyncInterval != time.Second || c.HotSize != 64<<20 || c.Name != "Cellar" || c.LogFormat != "text" || !c.AccessLog || c.Upstream.String() != "http://127.0.0.1:9000" {
		t.Errorf("defaults: %+v", c)
	}
	// Issue 12: the hardening defaults.
	if c.MaxBodySize != 1<<30 || c.StreamRequestBodies || c.RequestBodyTimeout != 10*time.Second || c.RequestBodyMinRate != 1024 ||
		c.MaxConns <= 0 || c.UpstreamMaxConns != 1024 || c.IgnoreRequestCacheControl || len(c.DropRequestFields)+len(c.PassRequestFields) != 0 {
		t.Errorf("hardening defaults: %+v", c)
	}
	c, err = parseServeConfig([]string{"--upstream", "http://o", "--drop-request-fields", " X-A,,X-B ", "--pass-request-fields", "X-Host",
		"--max-body-size", "0", "--stream-request-bodies", "--ignore-request-cache-control", "--max-conns", "0"}, env(), io.Discard)
	if err != nil || strings.Join(c.DropRequestFields, "|") != "X-A|X-B" || strings.Join(c.PassRequestFields, "|") != "X-Host" ||
		!c.StreamRequestBodies || !c.IgnoreRequestCacheControl || c.MaxConns != 0 || c.MaxBodySize != 0 {
		t.Errorf("hardening flags: %v %+v", err, c)
	}
}

func TestServeFlagsAndEnv(t *testing.T) {
	c, err := parseServeConfig(
		[]string{"--max-size", "512MiB", "--store", "redis://127.0.0.1:6380/2", "--targeted-field", "Cellar-Cache-Control", "--h2c", "--disk-fsync", "always", "--hot-size", "0"},
		env("CELLAR_UPSTREAM", "https://origin.example/base", "CELLAR_MAX_SIZE", "1GB", "CELLAR_LISTEN", "127.0.0.1:0", "CELLAR_DISK_FSYNC", "none",
			"CELLAR_ADMIN", "off", "CELLAR_LOG_LEVEL", "debug", "CELLAR_UPSTREAM_TIMEOUT", "5s"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// The command line wins over the environment.
	if c.MaxSize != 512<<20 || c.DiskFsync != disk.FsyncAlways || c.HotSize != 0 {
		t.Errorf("max-size %d, disk-fsync %v, hot-size %d", c.MaxSize, c.DiskFsync, c.HotSize)
	}
	if c.Upstream.String() != "https://origin.example/base" || c.Listen != "127.0.0.1:0" || c.Admin != "" ||
		c.LogLevel.String() != "DEBUG" || c.UpstreamTimeout != 5*time.Second || !c.H2C || c.Targeted != "Cellar-Cache-Control" {
		t.Errorf("config: %+v", c)
	}
	if c.Store.Kind != "redis" || c.Store.Redis.Addrs[0] != "127.0.0.1:6380" || c.Store.Redis.DB != 2 || c.Store.Redis.MaxBytes != 512<<20 {
		t.Errorf("store: %+v", c.Store)
	}
	c, err = parseServeConfig([]string{"--store", "redis+cluster://10.0.0.1:7000,10.0.0.2:7000", "--demo-origin", "127.0.0.1:0", "--store", "memory"}, env(), io.Discard)
	if err != nil || c.Store.Kind != "memory" || c.Upstream.String() != "http://127.0.0.1:0" {
		t.Errorf("demo origin as upstream: %v %+v", err, c)
	}
	c, err = parseServeConfig([]string{"--upstream", "http://o", "--store", "disk:/var/cache/cellar"},
		env("CELLAR_DISK_FSYNC", "none", "CELLAR_DISK_SYNC_INTERVAL", "250ms"), io.Discard)
	if err != nil || c.Store.Kind != "disk" || c.DiskFsync != disk.FsyncNone || c.DiskSyncInterval != 250*time.Millisecond {
		t.Errorf("disk-fsync and disk-sync-interval from the environment: %v %+v", err, c)
	}
	c, err = parseServeConfig([]string{"--upstream", "http://o", "--store", "redis+cluster://10.0.0.1:7000,10.0.0.2:7000"}, env(), io.Discard)
	if err != nil || len(c.Store.Redis.Addrs) != 2 {
		t.Errorf("cluster: %v %+v", err, c)
	}
}

func TestSizes(t *testing.T) {
	for in, want := range map[string]int64{
		"1GiB": 1 << 30, "1gib": 1 << 30, "512MiB": 512 << 20, "10GB": 10e9, "1.5G": 3 << 29,
		"100": 100, "64k": 64 << 10, "2 MB": 2e6, "0": 0, "7B": 7,
	} {
		got, err := parseBytes(in)
		if err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "-1GiB", "ten", "1XB", "1e30GiB"} {
		if _, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q): no error", in)
		}
	}
}

// TestServeRefusesInvalidConfig checks that each bad setting is refused
// with a message naming the flag (or its environment variable).
func TestServeRefusesInvalidConfig(t *testing.T) {
	dir := t.TempDir()
	badPEM := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(badPEM, []byte("not a pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	up := []string{"--upstream", "http://127.0.0.1:9000"}
	for _, tt := range []struct {
		args []string
		env  []string
		want string
	}{
		{nil, nil, "--upstream is required"},
		{[]string{"--upstream", "127.0.0.1:9000"}, nil, "--upstream \"127.0.0.1:9000\" must start with http:// or https://"},
		{[]string{"--upstream", "ftp://x"}, nil, "must start with http:// or https://"},
		{[]string{"--upstream", "http://"}, nil, "has no host"},
		{[]string{"--upstream", "http://u:p@x"}, nil, "must not carry credentials"},
		{[]string{"--upstream", "http://x/?q=1"}, nil, "must not have a query"},
		{append(up, "--max-size", "lots"), nil, "invalid value \"lots\" for flag -max-size"},
		{append(up, "--max-size", "0"), nil, "--max-size must be positive"},
		{append(up, "--max-variants", "0"), nil, "--max-variants must be positive"},
		{up, []string{"CELLAR_MAX_SIZE", "1 potato"}, "invalid value \"1 potato\" for --max-size (from $CELLAR_MAX_SIZE)"},
		{up, []string{"CELLAR_SHUTDOWN_TIMEOUT", "soon"}, "--shutdown-timeout (from $CELLAR_SHUTDOWN_TIMEOUT)"},
		{append(up, "--disk-fsync", "sometimes"), nil, "invalid value \"sometimes\" for flag -disk-fsync: disk store: unknown fsync policy \"sometimes\" (want interval, index, none or always)"},
		{append(up, "--disk-fsync", "Index"), nil, "invalid value \"Index\" for flag -disk-fsync"},
		{append(up, "--disk-sync-interval", "0s"), nil, "--disk-sync-interval must be positive, got 0s"},
		{up, []string{"CELLAR_DISK_FSYNC", "fdatasync"}, "invalid value \"fdatasync\" for --disk-fsync (from $CELLAR_DISK_FSYNC)"},
		{append(up, "--store", "s3://bucket"), nil, "--store \"s3://bucket\": unknown store \"s3\""},
		{append(up, "--store", "tape"), nil, "--store \"tape\": want memory, disk:PATH"},
		{append(up, "--store", "disk:"), nil, "the disk store needs a directory"},
		{append(up, "--store", "redis://a:1,b:2"), nil, "use redis+cluster://"},
		{append(up, "--listen", "8080"), nil, "--listen \"8080\" is not HOST:PORT"},
		{append(up, "--listen", ":http2"), nil, "--listen \":http2\": bad port"},
		{append(up, "--admin", "0.0.0.0:9090"), nil, "--admin \"0.0.0.0:9090\" is not a loopback address: set --admin-token"},
		{append(up, "--admin", ":9090"), nil, "is not a loopback address"},
		{append(up, "--admin", ":9090", "--admin-token", "short"), nil, "--admin-token is too short"},
		{append(up, "--listen", "127.0.0.1:9090"), nil, "--admin \"127.0.0.1:9090\" must differ from --listen"},
		{append(up, "--name", "my cache"), nil, "--name \"my cache\" is not an HTTP token"},
		{append(up, "--targeted-field", "Bad Field"), nil, "--targeted-field \"Bad Field\""},
		{append(up, "--read-timeout", "-1s"), nil, "--read-timeout must not be negative"},
		{append(up, "--background-workers", "-2"), nil, "--background-workers must not be negative"},
		{append(up, "--max-header-bytes", "10B"), nil, "--max-header-bytes must be between"},
		{append(up, "--tls-cert", badPEM), nil, "--tls-cert and --tls-key must be given together"},
		{append(up, "--tls-cert", badPEM, "--tls-key", badPEM), nil, "--tls-cert/--tls-key:"},
		{append(up, "--log-format", "xml"), nil, "--log-format must be text or json"},
		{append(up, "--log-level", "loud"), nil, "--log-level must be debug, info, warn or error"},
		{append(up, "extra"), nil, "unexpected argument \"extra\""},
		{[]string{"--demo-origin", "0.0.0.0:9000"}, nil, "--demo-origin \"0.0.0.0:9000\" must be a loopback address"},
		{append(up, "--no-such-flag"), nil, "flag provided but not defined: -no-such-flag"},
		{append(up, "--drop-request-fields", "X-Ok, Bad Field"), nil, "\"Bad Field\" is not a field name"},
		{append(up, "--max-body-size", "0"), nil, "--max-body-size 0 (no limit) needs --stream-request-bodies"},
		{append(up, "--max-conns", "-1"), nil, "--max-conns must not be negative"},
		{append(up, "--upstream-max-conns", "-1"), nil, "--upstream-max-conns must not be negative"},
		{append(up, "--request-body-min-rate", "0"), nil, "--request-body-min-rate must be positive"},
	} {
		_, err := parseServeConfig(tt.args, env(tt.env...), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v %v: got %v, want an error containing %q", tt.args, tt.env, err, tt.want)
			continue
		}
		if _, ok := err.(*usageError); !ok {
			t.Errorf("%v: %T is not a usage error", tt.args, err)
		}
	}
}

func TestRunExitCodes(t *testing.T) {
	ctx := context.Background()
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"serve"}, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "cellar serve: --upstream is required") {
		t.Errorf("serve without upstream: %d %q", code, errb.String())
	}
	errb.Reset()
	if code := run(ctx, []string{"frobnicate"}, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "unknown command") {
		t.Errorf("unknown command: %d %q", code, errb.String())
	}
	out.Reset()
	if code := run(ctx, []string{"version"}, nil, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "cellar ") {
		t.Errorf("version: %d %q", code, out.String())
	}
	errb.Reset()
	if code := run(ctx, []string{"serve", "-h"}, nil, &out, &errb); code != 0 || !strings.Contains(errb.String(), "$CELLAR_MAX_SIZE") {
		t.Errorf("serve -h: %d %q", code, errb.String())
	}
	errb.Reset()
	if code := run(ctx, []string{"demo-origin", "-h"}, nil, &out, &errb); code != 0 || !strings.Contains(errb.String(), "$CELLAR_DEMO_LISTEN") {
		t.Errorf("demo-origin -h: %d %q", code, errb.String())
	}
}

// TestServeBodyKey: --body-key is off by default; it lists method tokens,
// which the cache then keys on their body (issue 12 item 1).
func TestServeBodyKey(t *testing.T) {
	up := []string{"--upstream", "http://127.0.0.1:9000"}
	c, err := parseServeConfig(up, env(), io.Discard)
	if err != nil || c.BodyKey != nil {
		t.Fatalf("default: %v %q", err, c.BodyKey)
	}
	c, err = parseServeConfig(append(up, "--body-key", "POST, QUERY,POST"), env(), io.Discard)
	if err != nil || !slices.Equal(c.BodyKey, []string{"POST", "QUERY"}) {
		t.Fatalf("--body-key: %v %q", err, c.BodyKey)
	}
	c, err = parseServeConfig(up, env("CELLAR_BODY_KEY", "GET"), io.Discard)
	if err != nil || !slices.Equal(c.BodyKey, []string{"GET"}) {
		t.Fatalf("$CELLAR_BODY_KEY: %v %q", err, c.BodyKey)
	}
	for _, bad := range []string{"PO ST", "CONNECT", "GET;POST"} {
		if _, err := parseServeConfig(append(up, "--body-key", bad), env(), io.Discard); err == nil || !strings.Contains(err.Error(), "--body-key") {
			t.Errorf("--body-key %q: %v", bad, err)
		}
	}
}

// RFC 9111 §4.2.4: `cellar serve` serves stale on disconnection by default
// (the core's default budget); --stale-budget 0 turns it off. RFC 9111
// §7.3: --store-set-cookie opts in to storing Set-Cookie responses.
func TestServeStaleBudgetAndSetCookie(t *testing.T) {
	c, err := parseServeConfig([]string{"--upstream", "http://o"}, env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.StaleBudget != time.Hour || staleBudget(c.StaleBudget) != time.Hour || c.StoreSetCookie {
		t.Errorf("defaults: stale budget %v (spec %v), store-set-cookie %v", c.StaleBudget, staleBudget(c.StaleBudget), c.StoreSetCookie)
	}
	c, err = parseServeConfig([]string{"--upstream", "http://o", "--stale-budget", "0", "--store-set-cookie"}, env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if staleBudget(c.StaleBudget) >= 0 || !c.StoreSetCookie {
		t.Errorf("--stale-budget 0: spec budget %v (want negative: off); store-set-cookie %v", staleBudget(c.StaleBudget), c.StoreSetCookie)
	}
	c, err = parseServeConfig([]string{"--upstream", "http://o"}, env("CELLAR_STORE_SET_COOKIE", "true", "CELLAR_STALE_BUDGET", "10m"), io.Discard)
	if err != nil || !c.StoreSetCookie || c.StaleBudget != 10*time.Minute {
		t.Errorf("from the environment: %v %+v", err, c)
	}
}
