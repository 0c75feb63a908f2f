package main

// End-to-end tests: they build the cellar binary once (TestMain) and run
// it on loopback ports in front of an httptest origin, as an operator
// would.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var cellarBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cellar-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cellarBin = filepath.Join(dir, "cellar")
	args := []string{"build", "-o", cellarBin}
	if os.Getenv("CELLAR_E2E_RACE") != "" {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building cellar:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// instance is one running cellar serve.
type instance struct {
	t     *testing.T
	cmd   *exec.Cmd
	addr  string // proxy, host:port
	admin string // admin, host:port
	logs  *syncBuffer
	done  chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startCellar runs `cellar serve` with args on random loopback ports and
// waits until it listens.
func startCellar(t *testing.T, args ...string) *instance {
	t.Helper()
	all := append([]string{"serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--log-format", "json", "--shutdown-timeout", "5s"}, args...)
	cmd := exec.Command(cellarBin, all...)
	cmd.Env = append(os.Environ(), "CELLAR_UPSTREAM=", "CELLAR_STORE=", "CELLAR_LISTEN=", "CELLAR_ADMIN=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{t: t, cmd: cmd, logs: &syncBuffer{}, done: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan map[string]any, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Bytes()
			in.logs.Write(append(append([]byte(nil), line...), '\n'))
			var m map[string]any
			if !sent && json.Unmarshal(line, &m) == nil && m["msg"] == "listening" {
				ready <- m
				sent = true
			}
		}
		in.done <- cmd.Wait()
		close(ready)
	}()
	select {
	case m, ok := <-ready:
		if !ok {
			t.Fatalf("cellar %v exited before listening:\n%s", all, in.logs.String())
		}
		in.addr, _ = m["addr"].(string)
		in.admin, _ = m["admin"].(string)
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("cellar did not start in time:\n%s", in.logs.String())
	}
	t.Cleanup(func() { in.stop(syscall.SIGKILL) })
	return in
}

// stop sends sig and waits for the process to exit, returning its error.
func (in *instance) stop(sig syscall.Signal) error {
	if in.cmd.ProcessState != nil {
		return nil
	}
	_ = in.cmd.Process.Signal(sig)
	select {
	case err := <-in.done:
		in.done <- err
		return err
	case <-time.After(15 * time.Second):
		_ = in.cmd.Process.Kill()
		in.t.Errorf("cellar did not exit after %v:\n%s", sig, in.logs.String())
		return nil
	}
}

func (in *instance) url(path string) string { return "http://" + in.addr + path }

func (in *instance) get(path string, hdr ...string) (*http.Response, string) {
	in.t.Helper()
	req, _ := http.NewRequest("GET", in.url(path), nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return do(in.t, req)
}

func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return resp, string(b)
}

func (in *instance) purge(query string) map[string]any {
	in.t.Helper()
	req, _ := http.NewRequest("POST", "http://"+in.admin+"/purge?"+query, nil)
	req.Header.Set("X-Cellar-Purge", "1")
	resp, body := do(in.t, req)
	if resp.StatusCode != 200 {
		in.t.Fatalf("purge %s: %d %s", query, resp.StatusCode, body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		in.t.Fatal(err)
	}
	return m
}

// metric returns the value of the sample whose name and labels start with
// series (e.g. `cellar_proxy_requests_total{cache="hit"`), summed over
// the matching samples.
func (in *instance) metric(series string) float64 {
	in.t.Helper()
	resp, body := do(in.t, mustReq("GET", "http://"+in.admin+"/metrics"))
	if resp.StatusCode != 200 {
		in.t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	var sum float64
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, series) {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				in.t.Fatalf("metric line %q", line)
			}
			sum += v
		}
	}
	return sum
}

func mustReq(method, url string) *http.Request {
	r, err := http.NewRequest(method, url, nil)
	if err != nil {
		panic(err)
	}
	return r
}

// origin is a test origin counting the requests of each path.
type origin struct {
	*httptest.Server
	mu     sync.Mutex
	counts map[string]int
	last   map[string]http.Header
}

func (o *origin) count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts[path]
}

func (o *origin) header(path string) http.Header {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last[path]
}

func newOrigin(t *testing.T) *origin {
	o := &origin{counts: map[string]int{}, last: map[string]http.Header{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/max-age/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300")
		w.Header().Set("ETag", `"m1"`)
		fmt.Fprintf(w, "max-age body for %s", r.URL.Path)
	})
	mux.HandleFunc("/etag", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("ETag", `"e1"`)
		if r.Header.Get("If-None-Match") == `"e1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "etag body")
	})
	mux.HandleFunc("/tagged/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300")
		w.Header().Set("Surrogate-Key", "all "+strings.TrimPrefix(r.URL.Path, "/tagged/"))
		io.WriteString(w, "tagged")
	})
	mux.HandleFunc("/swr", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=1, stale-while-revalidate=30")
		io.WriteString(w, "swr")
	})
	mux.HandleFunc("/no-store", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, "fresh every time")
	})
	mux.HandleFunc("/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(5 * time.Second): // far apart: a buffering proxy cannot pass for a streaming one
			}
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300")
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "01234")
		w.(http.Flusher).Flush()
		time.Sleep(time.Second)
		io.WriteString(w, "56789")
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "want an upgrade", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		// Echo lines, upper-cased, until the client closes.
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			brw.WriteString(strings.ToUpper(line))
			brw.Flush()
		}
	})
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.counts[r.URL.Path]++
		o.last[r.URL.Path] = r.Header.Clone()
		o.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(o.Close)
	return o
}

var (
	reMiss = regexp.MustCompile(`Cellar; fwd=uri-miss.*; stored`)
	reHit  = regexp.MustCompile(`Cellar; hit`)
)

func wantStatus(t *testing.T, resp *http.Response, re *regexp.Regexp, what string) {
	t.Helper()
	if got := resp.Header.Get("Cache-Status"); !re.MatchString(got) {
		t.Errorf("%s: Cache-Status %q does not match %s", what, got, re)
	}
}

func TestE2EServe(t *testing.T) {
	o := newOrigin(t)
	c := startCellar(t, "--upstream", o.URL, "--store", "disk:"+t.TempDir(), "--max-size", "64MiB")

	// Miss, then hit.
	resp, body := c.get("/max-age/a")
	wantStatus(t, resp, reMiss, "first GET")
	if body != "max-age body for /max-age/a" || resp.StatusCode != 200 {
		t.Fatalf("first GET: %d %q", resp.StatusCode, body)
	}
	// RFC 9110 §7.6.3: the request forwarded carries Via (below); the
	// response does not without --response-via.
	if v := resp.Header.Get("Via"); v != "" {
		t.Errorf("response Via %q without --response-via", v)
	}
	h := o.header("/max-age/a")
	if h.Get("X-Forwarded-For") != "127.0.0.1" || h.Get("X-Forwarded-Host") != c.addr || h.Get("X-Forwarded-Proto") != "http" || !strings.Contains(h.Get("Via"), "1.1 Cellar") {
		t.Errorf("origin saw %v", h)
	}
	resp, body = c.get("/max-age/a")
	wantStatus(t, resp, reHit, "second GET")
	if body != "max-age body for /max-age/a" || o.count("/max-age/a") != 1 {
		t.Errorf("second GET: %q, origin hit %d times", body, o.count("/max-age/a"))
	}
	// The client's own conditional request is answered by the cache.
	resp, _ = c.get("/max-age/a", "If-None-Match", `"m1"`)
	if resp.StatusCode != http.StatusNotModified || o.count("/max-age/a") != 1 {
		t.Errorf("conditional GET: %d, origin hit %d times", resp.StatusCode, o.count("/max-age/a"))
	}

	// Revalidation: no-cache is stored, then validated with If-None-Match.
	resp, _ = c.get("/etag")
	wantStatus(t, resp, reMiss, "first /etag")
	resp, body = c.get("/etag")
	wantStatus(t, resp, regexp.MustCompile(`Cellar; fwd=stale; fwd-status=304`), "second /etag")
	if body != "etag body" || o.header("/etag").Get("If-None-Match") != `"e1"` || o.count("/etag") != 2 {
		t.Errorf("revalidation: body %q, origin saw %v, %d requests", body, o.header("/etag"), o.count("/etag"))
	}

	// no-store is never stored.
	c.get("/no-store")
	resp, _ = c.get("/no-store")
	if o.count("/no-store") != 2 || reHit.MatchString(resp.Header.Get("Cache-Status")) {
		t.Errorf("no-store: origin saw %d, %q", o.count("/no-store"), resp.Header.Get("Cache-Status"))
	}

	// Purge by URL.
	if got := c.purge("url=" + c.url("/max-age/a")); got["purged"] != 1.0 {
		t.Errorf("purge url: %v", got)
	}
	resp, _ = c.get("/max-age/a")
	wantStatus(t, resp, reMiss, "GET after purge by URL")

	// Purge by prefix.
	c.get("/max-age/p/1")
	c.get("/max-age/p/2")
	c.get("/max-age/q")
	if got := c.purge("prefix=" + c.url("/max-age/p/")); got["purged"] != 2.0 {
		t.Errorf("purge prefix: %v", got)
	}
	resp, _ = c.get("/max-age/p/1")
	wantStatus(t, resp, reMiss, "GET after purge by prefix")
	resp, _ = c.get("/max-age/q")
	wantStatus(t, resp, reHit, "GET of a URL outside the prefix")

	// Purge by tag (Surrogate-Key).
	c.get("/tagged/red")
	c.get("/tagged/blue")
	if got := c.purge("tag=red"); got["purged"] != 1.0 {
		t.Errorf("purge tag red: %v", got)
	}
	resp, _ = c.get("/tagged/blue")
	wantStatus(t, resp, reHit, "GET of another tag")
	resp, _ = c.get("/tagged/red")
	wantStatus(t, resp, reMiss, "GET after purge by tag")
	if got := c.purge("tag=all"); got["purged"] != 2.0 {
		t.Errorf("purge tag all: %v", got)
	}

	// Metrics count what happened.
	for series, want := range map[string]float64{
		`cellar_proxy_requests_total{cache="hit"`:                    4,
		`cellar_proxy_requests_total{cache="revalidated"`:            1,
		`cellar_proxy_requests_total{cache="uri-miss"`:               12, // two of them /no-store
		`cellar_cache_revalidations_total{result="not_modified"}`:    1,
		`cellar_cache_served_total{outcome="hit"}`:                   4,
		`cellar_upstream_request_duration_seconds_count{code="200"}`: 12,
		`cellar_store_entries`:                                       4,
	} {
		if got := c.metric(series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if c.metric(`cellar_proxy_response_bytes_total{source="cache"}`) == 0 || c.metric(`cellar_proxy_response_bytes_total{source="upstream"}`) == 0 {
		t.Error("bytes from cache or upstream not counted")
	}
	if resp, _ := do(t, mustReq("GET", "http://"+c.admin+"/healthz")); resp.StatusCode != 200 {
		t.Errorf("/healthz: %d", resp.StatusCode)
	}

	// The access log has one line per request with its cache status.
	if !strings.Contains(c.logs.String(), `"msg":"request","method":"GET","host":"`+c.addr+`","path":"/max-age/a","proto":"HTTP/1.1","status":200`) ||
		!strings.Contains(c.logs.String(), `"cache":"hit"`) {
		t.Errorf("access log:\n%s", c.logs.String())
	}

	// SIGTERM: a clean exit, store closed.
	if err := c.stop(syscall.SIGTERM); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, c.logs.String())
	}
	if !strings.Contains(c.logs.String(), `"msg":"stopped"`) {
		t.Errorf("no clean stop:\n%s", c.logs.String())
	}
}
