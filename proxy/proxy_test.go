package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/memory"
)

// echoTransport answers like an origin behind a cache: it records the
// outgoing request and adds a Cache-Status as the cache would.
type echoTransport struct {
	mu   sync.Mutex
	last *http.Request
	body []byte
}

func (e *echoTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.last, e.body = r, b
	e.mu.Unlock()
	h := http.Header{}
	h.Set("Cache-Status", `Upstream; hit, Cellar; fwd=uri-miss; stored`)
	h.Set("Connection", "X-Hop")
	h.Set("X-Hop", "drop me")
	return &http.Response{StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h,
		Body: io.NopCloser(strings.NewReader("hello")), ContentLength: 5, Request: r}, nil
}

type countObserver struct {
	mu     sync.Mutex
	labels []string
	bytes  int64
}

func (c *countObserver) ObserveRequest(_ string, _ int, label string, n int64, _ time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.labels = append(c.labels, label)
	c.bytes += n
}

func TestProxyRewrite(t *testing.T) {
	up, _ := url.Parse("http://origin.internal:9000/base")
	tr := &echoTransport{}
	obs := &countObserver{}
	var logs bytes.Buffer
	p, err := New(Config{Upstream: up, Transport: tr, Name: "Cellar", ResponseVia: true, Metrics: obs, AccessLog: true,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)), MaxBodyBytes: 10})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "http://cache.example/a?b=c", strings.NewReader("body"))
	req.Header.Set("X-Forwarded-For", "10.1.1.1")
	req.Header.Set("Connection", "X-Secret")
	req.Header.Set("X-Secret", "hop-by-hop")
	req.RemoteAddr = "192.0.2.7:1234"
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, req)

	out := tr.last
	if out.URL.String() != "http://origin.internal:9000/base/a?b=c" || out.Host != "cache.example" {
		t.Errorf("outgoing %s Host %s", out.URL, out.Host)
	}
	if got := out.Header.Get("X-Forwarded-For"); got != "10.1.1.1, 192.0.2.7" {
		t.Errorf("X-Forwarded-For %q", got)
	}
	if out.Header.Get("X-Forwarded-Host") != "cache.example" || out.Header.Get("X-Forwarded-Proto") != "http" {
		t.Errorf("X-Forwarded-*: %v", out.Header)
	}
	if got := out.Header.Get("Via"); got != "1.1 Cellar" {
		t.Errorf("request Via %q", got)
	}
	if out.Header.Get("X-Secret") != "" {
		t.Error("hop-by-hop request field forwarded")
	}
	if string(tr.body) != "body" {
		t.Errorf("body %q", tr.body)
	}
	res := rec.Result()
	if got := res.Header.Get("Via"); got != "1.1 Cellar" {
		t.Errorf("response Via %q", got)
	}
	if res.Header.Get("X-Hop") != "" {
		t.Error("hop-by-hop response field forwarded")
	}
	// Without a cache, the label is "none": the upstream's members, even
	// one of this cache's name, are not this proxy's outcome (RFC 9211 §2:
	// each cache adds its own), which the cache hands over as a value.
	if obs.labels[0] != LabelNone || obs.bytes != 5 {
		t.Errorf("observed %v %d", obs.labels, obs.bytes)
	}
	var line map[string]any
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatalf("access log %q: %v", logs.String(), err)
	}
	for k, want := range map[string]any{"msg": "request", "method": "POST", "path": "/a?b=c", "status": 200.0, "bytes": 5.0, "cache": LabelNone} {
		if line[k] != want {
			t.Errorf("access log %s = %v, want %v", k, line[k], want)
		}
	}
	if _, ok := line["duration"]; !ok {
		t.Error("access log has no duration")
	}

	// Bodies over the limit: refused up front when the length is declared,
	// and cut off when it is not.
	rec = httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest("POST", "http://cache.example/", strings.NewReader("0123456789abc")))
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("declared large body: %d", rec.Code)
	}
	req = httptest.NewRequest("POST", "http://cache.example/", io.MultiReader(strings.NewReader("0123456789abc")))
	req.ContentLength = -1
	rec = httptest.NewRecorder()
	p.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("streamed large body: %d", rec.Code)
	}
}

type failTransport struct{ err error }

func (f failTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, f.err }

func TestProxyUpstreamErrors(t *testing.T) {
	up, _ := url.Parse("http://origin")
	for _, tt := range []struct {
		err  error
		code int
	}{
		{io.ErrUnexpectedEOF, http.StatusBadGateway},
		{context.DeadlineExceeded, http.StatusGatewayTimeout},
	} {
		p, _ := New(Config{Upstream: up, Transport: failTransport{tt.err}})
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, httptest.NewRequest("GET", "http://x/", nil))
		if rec.Code != tt.code || rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%v: %d %v", tt.err, rec.Code, rec.Header())
		}
	}
	if _, err := New(Config{Transport: failTransport{}}); err == nil {
		t.Error("New without Upstream: no error")
	}
}

// TestCacheStatusLabel (RFC 9211 §2): the label is read from the value
// the cache hands over, not parsed back from the field.
func TestCacheStatusLabel(t *testing.T) {
	for _, tt := range []struct {
		cs   spec.CacheStatus
		want string
	}{
		{spec.CacheStatus{}, LabelNone},
		{spec.CacheStatus{Hit: true, TTL: 30, HasTTL: true}, LabelHit},
		{spec.CacheStatus{Hit: true, TTL: 0, HasTTL: true}, LabelHit},
		{spec.CacheStatus{Hit: true, TTL: -5, HasTTL: true, Detail: "stale-while-revalidate"}, LabelHitStale},
		{spec.CacheStatus{Fwd: spec.FwdURIMiss, Stored: true}, "uri-miss"},
		{spec.CacheStatus{Fwd: spec.FwdStale, FwdStatus: 304, TTL: 60, HasTTL: true}, LabelRevalidated},
		{spec.CacheStatus{Fwd: spec.FwdStale, FwdStatus: 200}, "stale"},
		{spec.CacheStatus{Fwd: spec.FwdRequest, FwdStatus: 304}, "request"},
		{spec.CacheStatus{Fwd: spec.FwdBypass}, "bypass"},
		{spec.CacheStatus{Fwd: spec.FwdMiss, Key: "a, b", Detail: "x, Cellar; hit"}, "miss"},
		{spec.CacheStatus{Detail: "request-too-large"}, LabelNone},
		{spec.CacheStatus{Fwd: "something-new"}, LabelOther},
	} {
		if got := CacheStatusLabel(tt.cs); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.cs, got, tt.want)
		}
	}
	// Every fwd value of RFC 9211 §2.2 is its own label, and a metrics series.
	for _, f := range spec.FwdReasons {
		if got := CacheStatusLabel(spec.CacheStatus{Fwd: f}); got != string(f) || index(cacheLabels[:], got) < 0 {
			t.Errorf("fwd=%s: label %q, in the metrics labels: %v", f, got, index(cacheLabels[:], got) >= 0)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:9090": true, "localhost:9090": true, "[::1]:9090": true, "127.3.2.1:1": true,
		":9090": false, "0.0.0.0:9090": false, "[::]:9090": false, "192.168.1.2:9090": false, "example.com:1": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v", addr, got)
		}
	}
	if CheckAdminAddr(":9090", "") == nil || CheckAdminAddr(":9090", "tok") != nil || CheckAdminAddr("127.0.0.1:9090", "") != nil {
		t.Error("CheckAdminAddr")
	}
}

func TestPurgeKey(t *testing.T) {
	up, _ := url.Parse("http://origin.internal:9000")
	for in, want := range map[string]string{
		"http://cache.example/a?b=c":      "http://cache.example/a?b=c",
		"https://Cache.Example:443/%7Ea/": "https://Cache.Example:443/%7Ea/",
		"http://cache.example/a%2fb?":     "http://cache.example/a%2fb?",
		"/just/a/path":                    "http://origin.internal:9000/just/a/path",
	} {
		got, err := PurgeKey(in, up)
		if err != nil || got != want {
			t.Errorf("PurgeKey(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	base, _ := url.Parse("https://origin/base/")
	if got, _ := PurgeKey("http://h/a", base); got != "http://h/base/a" {
		t.Errorf("with a base path: %q", got)
	}
	if _, err := PurgeKey("relative", up); err == nil {
		t.Error("relative: no error")
	}
}

func put(t *testing.T, st store.Store, rawURL string, tags ...string) {
	t.Helper()
	u, _ := url.Parse(rawURL)
	w, err := st.Create(context.Background(), store.Entry{
		Key:  spec.Key(spec.Request{Method: "GET", URL: u}),
		Pair: spec.Pair{Request: spec.Request{Method: "GET", URL: u}, Response: spec.Response{Status: 200, Header: http.Header{}}},
		Tags: tags,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestAdminPurge(t *testing.T) {
	st, err := memory.New(memory.Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	up, _ := url.Parse("http://origin")
	put(t, st, "http://c/a")
	put(t, st, "http://c/dir/1", "t1")
	put(t, st, "http://c/dir/2", "t1", "t2")
	put(t, st, "http://c/other", "t2")
	h := Admin(AdminConfig{Store: st, Upstream: up, Token: "s3cret-token-0123",
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "metrics") })})

	do := func(method, target, token string) (int, map[string]any) {
		req := httptest.NewRequest(method, target, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var body map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		return rec.Code, body
	}
	if code, _ := do("POST", "/purge?url=http://c/a", ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d", code)
	}
	if code, _ := do("POST", "/purge?url=http://c/a", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", code)
	}
	tok := "s3cret-token-0123"
	if code, _ := do("POST", "/purge", tok); code != http.StatusBadRequest {
		t.Errorf("nothing to purge: %d", code)
	}
	if code, _ := do("GET", "/purge?url=http://c/a", tok); code != http.StatusMethodNotAllowed {
		t.Errorf("GET purge: %d", code)
	}
	if code, body := do("POST", "/purge?url=http://c/a", tok); code != 200 || body["purged"] != 1.0 {
		t.Errorf("purge url: %d %v", code, body)
	}
	if code, body := do("POST", "/purge?url=http://c/a", tok); code != 200 || body["purged"] != 0.0 {
		t.Errorf("purge url again: %d %v", code, body)
	}
	if code, body := do("POST", "/purge?prefix=http://c/dir/", tok); code != 200 || body["purged"] != 2.0 {
		t.Errorf("purge prefix: %d %v", code, body)
	}
	if code, body := do("POST", "/purge?tag=t2", tok); code != 200 || body["purged"] != 1.0 {
		t.Errorf("purge tag: %d %v", code, body)
	}
	if st.Stats().Entries != 0 {
		t.Errorf("%d entries left", st.Stats().Entries)
	}
	for _, path := range []string{"/healthz", "/metrics"} {
		if code, _ := do("GET", path, ""); code != 200 {
			t.Errorf("%s without a token: %d", path, code)
		}
	}
}
