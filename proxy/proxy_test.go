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
	p, err := New(Config{Upstream: up, Transport: tr, Name: "Cellar", Metrics: obs, AccessLog: true,
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
	if obs.labels[0] != "uri-miss" || obs.bytes != 5 {
		t.Errorf("observed %v %d", obs.labels, obs.bytes)
	}
	var line map[string]any
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatalf("access log %q: %v", logs.String(), err)
	}
	for k, want := range map[string]any{"msg": "request", "method": "POST", "path": "/a?b=c", "status": 200.0, "bytes": 5.0, "cache": "uri-miss"} {
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

func TestCacheStatusLabel(t *testing.T) {
	for _, tt := range []struct {
		values []string
		want   string
	}{
		{nil, LabelNone},
		{[]string{"Cellar; hit; ttl=30"}, LabelHit},
		{[]string{"Cellar; hit; ttl=-5; detail=stale-while-revalidate"}, LabelHitStale},
		{[]string{"Cellar; fwd=uri-miss; stored"}, "uri-miss"},
		{[]string{"Cellar; fwd=stale; fwd-status=304; ttl=60"}, LabelRevalidated},
		{[]string{"Cellar; fwd=stale; fwd-status=200"}, "stale"},
		{[]string{"Cellar; fwd=bypass"}, "bypass"},
		{[]string{"Origin; hit", "Cellar; fwd=vary-miss"}, "vary-miss"},
		{[]string{`Cellar; fwd=miss; key="a, b"; detail="x, Cellar; hit"`}, "miss"},
		{[]string{"Other; hit"}, LabelNone},
		{[]string{"cellar; fwd=something-new"}, LabelOther},
		{[]string{`"Cellar"; hit`}, LabelHit},
	} {
		if got := CacheStatusLabel(tt.values, "Cellar"); got != tt.want {
			t.Errorf("%q: %q, want %q", tt.values, got, tt.want)
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
		"https://Cache.Example:443/%7Ea/": "http://Cache.Example:443/%7Ea/",
		"http://cache.example/a%2fb?":     "http://cache.example/a%2fb?",
		"/just/a/path":                    "http://origin.internal:9000/just/a/path",
	} {
		got, err := PurgeKey(in, up)
		if err != nil || got != want {
			t.Errorf("PurgeKey(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	base, _ := url.Parse("https://origin/base/")
	if got, _ := PurgeKey("http://h/a", base); got != "https://h/base/a" {
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

// FuzzCacheStatusLabel checks CacheStatusLabel against the straightforward
// version it replaced (which allocated for every request).
func FuzzCacheStatusLabel(f *testing.F) {
	for _, s := range []string{"Cellar; hit; ttl=30", "Cellar; hit; ttl=-5; detail=x", "Origin; hit, Cellar; fwd=URI-miss; stored",
		`Cellar; fwd=miss; key="a, b"; detail="x, Cellar; hit"`, "cellar; fwd=Stale; fwd-status=304", `"Cellar"; HIT=?1`, "Cellar;", ",,Cellar",
		// Quoted values hold the delimiters (issue 11): a ';' inside a
		// string starts no parameter, a ',' no member.
		`Cellar; fwd=uri-miss; detail="a; hit"`, `Cellar; fwd=stale; detail="x;fwd-status=304"`, `Cellar; key="k;ttl=-1"; hit`,
		`Cellar; detail="\"; hit"; fwd=miss`, `"Cel;lar"; hit`, `Cellar; fwd=miss; detail="a, Cellar; hit"`} {
		f.Add(s, "Cellar")
	}
	f.Fuzz(func(t *testing.T, v, name string) {
		values := strings.Split(v, "\n")
		if got, want := CacheStatusLabel(values, name), referenceLabel(values, name); got != want {
			t.Errorf("CacheStatusLabel(%q, %q) = %q, want %q", values, name, got, want)
		}
	})
}

// referenceLabel is CacheStatusLabel written plainly: members and
// parameters split where RFC 9651 puts the delimiters, outside sf-strings
// (§4.2.5), however a quoted value looks.
func referenceLabel(values []string, name string) string {
	split := func(v string, sep byte) []string {
		var out []string
		quoted, escaped, start := false, false, 0
		for i := 0; i < len(v); i++ {
			c := v[i]
			switch {
			case escaped:
				escaped = false
			case quoted && c == '\\':
				escaped = true
			case c == '"':
				quoted = !quoted
			case c == sep && !quoted:
				out = append(out, strings.TrimSpace(v[start:i]))
				start = i + 1
			}
		}
		return append(out, strings.TrimSpace(v[start:]))
	}
	splitList := func(v string) []string { return split(v, ',') }
	var member string
	for _, v := range values {
		for _, m := range splitList(v) {
			item := split(m, ';')[0]
			if strings.EqualFold(strings.Trim(strings.TrimSpace(item), `"`), name) {
				member = m
			}
		}
	}
	if member == "" {
		return LabelNone
	}
	var hit, negTTL bool
	var fwd, fwdStatus string
	for _, p := range split(member, ';')[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch strings.ToLower(k) {
		case "hit":
			hit = v == "" || v == "?1"
		case "fwd":
			fwd = strings.ToLower(v)
		case "fwd-status":
			fwdStatus = v
		case "ttl":
			negTTL = strings.HasPrefix(v, "-")
		}
	}
	switch {
	case hit && negTTL:
		return LabelHitStale
	case hit:
		return LabelHit
	case fwd == "stale" && fwdStatus == "304":
		return LabelRevalidated
	}
	switch fwd {
	case "bypass", "method", "uri-miss", "vary-miss", "miss", "request", "stale", "partial":
		return fwd
	case "":
		return LabelNone
	}
	return LabelOther
}
