package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
)

// TestSizesNeedAUnit: a byte size without a unit is refused (but 0), and
// an absurd store budget too; sizes are shown as they were written.
func TestSizesNeedAUnit(t *testing.T) {
	up := []string{"--upstream", "http://127.0.0.1:9000"}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{append(up, "--max-size", "10"), `10 has no unit: write 10B if you mean bytes`},
		{append(up, "--max-size", "1048576"), `1048576 has no unit`},
		{append(up, "--max-body-size", "100"), `100 has no unit`},
		{append(up, "--max-size", "10B"), `--max-size 10B is too small for a cache`},
		{append(up, "--max-size", "512KiB"), `--max-size 512KiB is too small`},
	} {
		_, err := parseServeConfig(tt.args, env(), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: got %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
	for in, want := range map[string]int64{"1TB": 1e12, "1GiB": 1 << 30, "2 MB": 2e6} {
		c, err := parseServeConfig(append(up, "--max-size", in), env(), io.Discard)
		if err != nil || c.MaxSize != want || c.MaxSizeText != in {
			t.Errorf("--max-size %s: %v, %d bytes shown as %q", in, err, c.MaxSize, c.MaxSizeText)
		}
	}
	c, err := parseServeConfig(append(up, "--max-body-size", "0", "--stream-request-bodies"), env(), io.Discard)
	if err != nil || c.MaxBodySize != 0 || c.MaxSizeText != "1GiB" {
		t.Errorf("0 needs no unit, the default shows as 1GiB: %v %+v", err, c)
	}
}

// TestSizeLoggedAsWritten: the start-up line logs --max-size as the
// operator wrote it (1TB was logged as 976562500KiB).
func TestSizeLoggedAsWritten(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // serve starts, logs, and stops at once
	var logs bytes.Buffer
	code := run(ctx, []string{"serve", "--upstream", "http://127.0.0.1:1", "--store", "memory", "--max-size", "1TB",
		"--listen", "127.0.0.1:0", "--admin", "off", "--log-format", "json"}, nil, io.Discard, &logs)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, logs.String())
	}
	for line := range strings.Lines(logs.String()) {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "listening" {
			if m["max_size"] != "1TB" {
				t.Errorf("max_size logged as %v", m["max_size"])
			}
			return
		}
	}
	t.Errorf("no listening line: %s", logs.String())
}

// TestUnknownFlagOnce: an unknown flag is reported once, with a hint,
// not before and after the whole usage text.
func TestUnknownFlagOnce(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"serve", "--max-sise", "1GiB"}, nil, &out, &errb)
	msg := errb.String()
	if code != 2 || strings.Count(msg, "flag provided but not defined: -max-sise") != 1 ||
		!strings.Contains(msg, "did you mean --max-size?") || !strings.Contains(msg, "Run 'cellar serve -h'") ||
		strings.Contains(msg, "Flags (each") {
		t.Errorf("exit %d, stderr:\n%s", code, msg)
	}
	errb.Reset()
	if code := run(context.Background(), []string{"serve", "-h"}, nil, &out, &errb); code != 0 || strings.Count(errb.String(), "--max-size") != 1 {
		t.Errorf("-h: exit %d:\n%s", code, errb.String())
	}
}

// TestErrorsNameTheVariable: a value that came from the environment is
// refused naming the variable, also by the checks after parsing; a flag
// on the command line wins and is named alone.
func TestErrorsNameTheVariable(t *testing.T) {
	for _, tt := range []struct {
		args []string
		env  []string
		want string
	}{
		{nil, []string{"CELLAR_UPSTREAM", "127.0.0.1:9000"}, `--upstream "127.0.0.1:9000" must start with http:// or https:// (--upstream was set by $CELLAR_UPSTREAM)`},
		{[]string{"--upstream", "http://o"}, []string{"CELLAR_MAX_SIZE", "1KiB"}, `(--max-size was set by $CELLAR_MAX_SIZE)`},
		{[]string{"--upstream", "http://o"}, []string{"CELLAR_KEY_HOST", "http://x/"}, `(--key-host was set by $CELLAR_KEY_HOST)`},
		{[]string{"--upstream", "http://o", "--max-size=1KiB"}, []string{"CELLAR_MAX_SIZE", "1GiB"}, `--max-size 1KiB is too small`},
	} {
		_, err := parseServeConfig(tt.args, env(tt.env...), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v %v: got %v, want %q", tt.args, tt.env, err, tt.want)
		}
		if len(tt.args) == 3 && err != nil && strings.Contains(err.Error(), "$") {
			t.Errorf("%v: the command line won, yet the error names a variable: %v", tt.args, err)
		}
	}
}

// TestStoreUnknownScheme: file:///x is an unknown store, not a bad Redis URL.
func TestStoreUnknownScheme(t *testing.T) {
	_, err := parseServeConfig([]string{"--upstream", "http://o", "--store", "file:///var/cache/cellar"}, env(), io.Discard)
	if err == nil || strings.Contains(err.Error(), "redis") && !strings.Contains(err.Error(), "want memory") ||
		!strings.Contains(err.Error(), `unknown store "file"`) || !strings.Contains(err.Error(), "disk:/var/cache/cellar") {
		t.Errorf("got %v", err)
	}
	if _, err := parseServeConfig([]string{"--upstream", "http://o", "--store", "valkey://127.0.0.1:6379"}, env(), io.Discard); err != nil {
		t.Errorf("valkey://: %v", err)
	}
}

// TestKeyHostFlag: --key-host takes request, upstream or an authority.
func TestKeyHostFlag(t *testing.T) {
	up := []string{"--upstream", "http://origin.internal:9000"}
	for in, want := range map[string]string{"request": "", "upstream": "origin.internal:9000", "www.example.com": "www.example.com", "cache.example:8080": "cache.example:8080"} {
		c, err := parseServeConfig(append(up, "--key-host", in), env(), io.Discard)
		if err != nil || c.keyHostName() != want {
			t.Errorf("--key-host %s: %v, %q", in, err, c.keyHostName())
		}
	}
	for _, in := range []string{"", "http://x", "x/y", "user@x", ":80"} {
		if _, err := parseServeConfig(append(up, "--key-host", in), env(), io.Discard); err == nil || !strings.Contains(err.Error(), "--key-host") {
			t.Errorf("--key-host %q: %v", in, err)
		}
	}
}

// TestTrustedProxiesFlag: --trusted-proxies takes comma-separated CIDR
// prefixes or addresses (the peers whose X-Forwarded-Proto is the
// client's scheme); anything else is refused at startup with the flag and
// the member at fault named. The default trusts no one.
func TestTrustedProxiesFlag(t *testing.T) {
	up := []string{"--upstream", "http://origin.internal:9000"}
	c, err := parseServeConfig(up, env(), io.Discard)
	if err != nil || len(c.TrustedProxies) != 0 {
		t.Errorf("default: %v, %v; want none trusted", err, c.TrustedProxies)
	}
	for in, want := range map[string]string{
		"10.0.0.0/8":                         "[10.0.0.0/8]",
		" 10.0.0.0/8, fd00::/8 ,":            "[10.0.0.0/8 fd00::/8]",
		"10.1.2.3/8":                         "[10.0.0.0/8]",
		"192.0.2.7":                          "[192.0.2.7/32]",
		"2001:db8::1":                        "[2001:db8::1/128]",
		"::ffff:10.0.0.0/104":                "[10.0.0.0/8]",
		"::ffff:192.0.2.7":                   "[192.0.2.7/32]",
		"10.0.0.0/8,10.0.0.0/8,127.0.0.1/32": "[10.0.0.0/8 127.0.0.1/32]",
	} {
		c, err := parseServeConfig(append(up, "--trusted-proxies", in), env(), io.Discard)
		if err != nil || fmt.Sprint(c.TrustedProxies) != want {
			t.Errorf("--trusted-proxies %q: %v, %v; want %s", in, err, c.TrustedProxies, want)
		}
	}
	if c, err := parseServeConfig(up, env("CELLAR_TRUSTED_PROXIES", "172.16.0.0/12"), io.Discard); err != nil || fmt.Sprint(c.TrustedProxies) != "[172.16.0.0/12]" {
		t.Errorf("$CELLAR_TRUSTED_PROXIES: %v, %v", err, c.TrustedProxies)
	}
	for _, in := range []string{"10.0.0.0/33", "10.0.0/8", "example.com", "10.0.0.0/8,bad", "10.0.0.0/", "fe80::1%eth0", "fe80::1%eth0/64", "::ffff:10.0.0.0/80", "*"} {
		_, err := parseServeConfig(append(up, "--trusted-proxies", in), env(), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--trusted-proxies") || !strings.Contains(err.Error(), "want a CIDR prefix") {
			t.Errorf("--trusted-proxies %q: %v, want an error naming the flag", in, err)
			continue
		}
		if _, ok := err.(*usageError); !ok {
			t.Errorf("--trusted-proxies %q: %T is not a usage error", in, err)
		}
	}
}

// FuzzTrustedProxy: any member of --trusted-proxies parses to a valid,
// masked prefix that is not IPv4-mapped, or is refused; none panics.
func FuzzTrustedProxy(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "192.0.2.7", "fd00::/8", "::ffff:10.0.0.0/104", "fe80::1%eth0", "10.0.0.0/33", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseTrustedProxy(s)
		if err != nil {
			return
		}
		if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			t.Fatalf("parseTrustedProxy(%q) = %v", s, p)
		}
	})
}

// TestExplainStdinURL: explain - takes the URL from --url or from a
// request pasted before the response, and otherwise says what to do.
func TestExplainStdinURL(t *testing.T) {
	resp := "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\n\r\nbody"
	for _, tt := range []struct {
		name, in string
		args     []string
		want     string // the first line of the text output, or the error
		code     int
	}{
		{"--url", resp, []string{"--url", "https://a.example/x"}, "GET https://a.example/x → 200 OK", 0},
		{"request line and Host", "GET /x?y=1 HTTP/1.1\r\nHost: b.example\r\nAccept: */*\r\n\r\n" + resp, nil, "GET http://b.example/x?y=1 → 200 OK", 0},
		{"curl -v's > prefix", "> GET /v HTTP/2\n> Host: c.example\n> \n" + resp, nil, "GET http://c.example/v → 200 OK", 0},
		{"absolute-form request line", "GET http://d.example/abs HTTP/1.1\n\n" + resp, nil, "GET http://d.example/abs → 200 OK", 0},
		{"--url wins over the pasted request", "GET /x HTTP/1.1\nHost: b.example\n\n" + resp, []string{"--url", "http://e.example/"}, "GET http://e.example/ → 200 OK", 0},
		{"no URL anywhere", resp, nil, "which URL does the response answer? Give it with --url URL", 2},
		{"request line without Host", "GET /x HTTP/1.1\n\n" + resp, nil, "which URL does the response answer?", 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), append([]string{"explain", "-"}, tt.args...), strings.NewReader(tt.in), &out, &errb)
			got := out.String() + errb.String()
			if code != tt.code || !strings.Contains(got, tt.want) {
				t.Errorf("exit %d (want %d), output:\n%s\nwant %q", code, tt.code, got, tt.want)
			}
		})
	}
}

// FuzzPastedRequest: any pasted text splits without panicking, and what
// is left is a suffix of it.
func FuzzPastedRequest(f *testing.F) {
	f.Add([]byte("GET /x HTTP/1.1\r\nHost: a\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"))
	f.Add([]byte("> GET http://a/b HTTP/2\n> \n< HTTP/2 200\n"))
	f.Add([]byte("HTTP/1.1 200 OK\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		target, rest := pastedRequest(data)
		if !bytes.HasSuffix(data, rest) {
			t.Fatalf("rest %q is not a suffix of %q", rest, data)
		}
		if target != "" && !strings.HasPrefix(target, "http") {
			t.Fatalf("target %q", target)
		}
	})
}
