package proxy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/cellar-http/cellar"
	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store/memory"
)

// statusRig is a real origin, cache, proxy and admin listener, each on its
// own loopback server, with a Status recording the proxy's requests.
type statusRig struct {
	status *Status
	proxy  *httptest.Server
	admin  *httptest.Server
	origin *httptest.Server
}

// statusOrigin answers each path with the caching headers its name says.
func statusOrigin(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/fresh"):
		w.Header().Set("Cache-Control", "max-age=60")
	case strings.HasPrefix(r.URL.Path, "/etag"):
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	case strings.HasPrefix(r.URL.Path, "/big"):
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write([]byte(strings.Repeat("x", 64<<10)))
		return
	case strings.HasPrefix(r.URL.Path, "/vary-cookie"):
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Cookie, Authorization")
		w.Header().Set("Set-Cookie", "session=from-origin-secret")
	case strings.HasPrefix(r.URL.Path, "/fail"):
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = fmt.Fprintf(w, "%s %s\n", r.Method, r.URL.Path)
}

func newStatusRig(t testing.TB, token string) *statusRig {
	t.Helper()
	return newStatusRigExplaining(t, token, nil)
}

// newStatusRigExplaining is newStatusRig with StatusConfig.Explain set.
func newStatusRigExplaining(t testing.TB, token string, explain func(spec.Request, spec.Response, spec.Options) string) *statusRig {
	t.Helper()
	origin := httptest.NewServer(http.HandlerFunc(statusOrigin))
	t.Cleanup(origin.Close)
	st, err := memory.New(memory.Options{MaxBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	cache, err := cellar.New(cellar.Config{Spec: spec.Options{Shared: true}, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cache.Close(); st.Close() })
	status := NewStatus(StatusConfig{Store: st, StoreBudget: 8 << 20, InFlight: cache.InFlight,
		Options: cache.Options(), Version: "test", Explain: explain})
	up, _ := url.Parse(origin.URL)
	p, err := New(Config{Upstream: up, Cache: cache, Transport: status.Upstream(http.DefaultTransport), Status: status})
	if err != nil {
		t.Fatal(err)
	}
	rig := &statusRig{status: status, origin: origin, proxy: httptest.NewServer(p)}
	t.Cleanup(rig.proxy.Close)
	rig.admin = httptest.NewUnstartedServer(Admin(AdminConfig{Store: st, Upstream: up, Token: token, Status: status}))
	rig.admin.Config.RegisterOnShutdown(status.Close)
	rig.admin.Start()
	t.Cleanup(func() { status.Close(); rig.admin.Close() })
	return rig
}

// get sends one request through the proxy and reads the response.
func (rig *statusRig) get(t testing.TB, method, path string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, rig.proxy.URL+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func (rig *statusRig) snapshot(t *testing.T) StatusSnapshot {
	t.Helper()
	resp, err := http.Get(rig.admin.URL + "/status.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/status.json: %s", resp.Status)
	}
	var s StatusSnapshot
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStatusCountsOutcomes: /status.json counts each request once, by the
// cache's outcome (RFC 9211 hit, fwd=uri-miss, a 304 revalidation), the
// 5xx answered, the upstream exchanges and their errors, and the top URLs.
func TestStatusCountsOutcomes(t *testing.T) {
	rig := newStatusRig(t, "")
	rig.get(t, "GET", "/fresh")   // miss
	rig.get(t, "GET", "/fresh")   // hit
	rig.get(t, "GET", "/fresh")   // hit
	rig.get(t, "GET", "/etag")    // miss
	rig.get(t, "GET", "/etag")    // revalidated (304)
	rig.get(t, "POST", "/submit") // fwd=method: not a cacheable method... a miss by RFC 9211
	rig.get(t, "GET", "/fail")    // a 500
	rig.get(t, "GET", "/big")     // miss, 64 KiB
	s := rig.snapshot(t)
	tot := s.Totals
	if tot.Requests != 8 || tot.Hits != 2 || tot.Revalidated != 1 {
		t.Errorf("totals %+v: want 8 requests, 2 hits, 1 revalidated", tot)
	}
	if tot.Hits+tot.Stale+tot.Revalidated+tot.Misses+tot.Pass != tot.Requests {
		t.Errorf("totals %+v: the outcomes do not add up to the requests", tot)
	}
	if tot.Errors != 1 || tot.UpstreamErrors != 1 {
		t.Errorf("errors %d, upstream errors %d: want 1 and 1 (the 500)", tot.Errors, tot.UpstreamErrors)
	}
	if tot.Upstream != 6 {
		t.Errorf("upstream exchanges %d, want 6 (every request but the 2 hits)", tot.Upstream)
	}
	if tot.BytesOut < 64<<10 {
		t.Errorf("bytes out %d, want at least 64 KiB", tot.BytesOut)
	}
	var sum int64
	for _, sec := range s.Seconds {
		sum += sec.Requests
	}
	if sum != 8 || len(s.Seconds) != 300 {
		t.Errorf("%d seconds holding %d requests: want 300 holding 8", len(s.Seconds), sum)
	}
	if len(s.TopRequests) == 0 || !strings.HasSuffix(s.TopRequests[0].Key, "/fresh") || s.TopRequests[0].Weight != 3 {
		t.Errorf("top by requests %+v: want /fresh first with 3", s.TopRequests)
	}
	if len(s.TopBytes) == 0 || !strings.HasSuffix(s.TopBytes[0].Key, "/big") {
		t.Errorf("top by bytes %+v: want /big first", s.TopBytes)
	}
	if s.Store.Entries == 0 || s.Store.Budget != 8<<20 || s.Store.Bytes == 0 {
		t.Errorf("store %+v: want entries, bytes and the budget", s.Store)
	}
	if s.InFlight == nil || s.InFlight.BackgroundMax == 0 {
		t.Errorf("in flight %+v: want the cache's figures", s.InFlight)
	}
}

// TestStatusRoutesAdminGuard: the status routes are guarded as /purge and
// the profiles are. Without a token, a Host that is not loopback (DNS
// rebinding brings one) is refused; with a token, a request without it
// is, and Basic credentials are taken on the status routes only.
func TestStatusRoutesAdminGuard(t *testing.T) {
	const token = "0123456789abcdef-status"
	open := newStatusRig(t, "")
	locked := newStatusRig(t, token)
	basic := func(r *http.Request) { r.SetBasicAuth("ops", token) }
	cases := []struct {
		name   string
		rig    *statusRig
		method string
		path   string
		host   string
		auth   func(*http.Request)
		want   int
	}{
		{"rebinding host /", open, "GET", "/", "evil.example:9090", nil, http.StatusMisdirectedRequest},
		{"rebinding host status.json", open, "GET", "/status.json", "evil.example", nil, http.StatusMisdirectedRequest},
		{"rebinding host decisions", open, "GET", "/decisions", "evil.example", nil, http.StatusMisdirectedRequest},
		{"loopback host", open, "GET", "/status.json", "", nil, http.StatusOK},
		{"localhost page", open, "GET", "/", "localhost:9090", nil, http.StatusOK},
		{"token missing /", locked, "GET", "/", "", nil, http.StatusUnauthorized},
		{"token missing status.json", locked, "GET", "/status.json", "", nil, http.StatusUnauthorized},
		{"token missing decisions", locked, "GET", "/decisions", "", nil, http.StatusUnauthorized},
		{"token missing, remote host", locked, "GET", "/status.json", "cache.example", nil, http.StatusUnauthorized},
		{"wrong bearer", locked, "GET", "/status.json", "", func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, http.StatusUnauthorized},
		{"bearer", locked, "GET", "/status.json", "cache.example", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }, http.StatusOK},
		{"basic on the page", locked, "GET", "/", "cache.example", basic, http.StatusOK},
		{"wrong basic", locked, "GET", "/", "", func(r *http.Request) { r.SetBasicAuth("ops", "nope") }, http.StatusUnauthorized},
		{"basic not taken on purge", locked, "POST", "/purge?path=/x", "", basic, http.StatusUnauthorized},
		{"other paths stay 404", open, "GET", "/nothing", "", nil, http.StatusNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, tc.rig.admin.URL+tc.path, nil)
			if tc.host != "" {
				req.Host = tc.host
			}
			if tc.auth != nil {
				tc.auth(req)
			}
			if tc.path == "/decisions" && tc.want == http.StatusOK {
				t.Fatal("use a stream test for an open /decisions")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("%s %s (Host %q): %s, want %d", tc.method, tc.path, tc.host, resp.Status, tc.want)
			}
		})
	}
}

// TestStatusPageSelfContained: the page loads nothing from elsewhere: no
// src or href to another origin, and a Content-Security-Policy that
// forbids it.
func TestStatusPageSelfContained(t *testing.T) {
	rig := newStatusRig(t, "")
	resp, err := http.Get(rig.admin.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q", ct)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	for _, bad := range []string{"src=\"http", "href=\"http", "src=\"//", "href=\"//", "@import", "<link"} {
		if strings.Contains(string(body), bad) {
			t.Errorf("the page contains %q: it must not load anything from elsewhere", bad)
		}
	}
	for _, want := range []string{`id="chart"`, `id="decisions"`, "EventSource", "status.json"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// sseEvent is one Server-Sent Event read from a stream.
type sseEvent struct {
	name, id, data string
}

// readEvents reads events from a /decisions stream until want returns true
// for the events so far, or the stream ends.
func readEvents(t *testing.T, r *bufio.Reader, want func([]sseEvent) bool) []sseEvent {
	t.Helper()
	var evs []sseEvent
	var cur sseEvent
	for !want(evs) {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended after %d events: %v", len(evs), err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if cur.name != "" {
				evs = append(evs, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "event: "):
			cur.name = line[len("event: "):]
		case strings.HasPrefix(line, "id: "):
			cur.id = line[len("id: "):]
		case strings.HasPrefix(line, "data: "):
			cur.data = line[len("data: "):]
		}
	}
	return evs
}

// openDecisions opens /decisions with query q.
func (rig *statusRig) openDecisions(t *testing.T, q string) *bufio.Reader {
	t.Helper()
	resp, err := http.Get(rig.admin.URL + "/decisions" + q)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("/decisions: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	// The handler subscribed before it sent its header: nothing made from
	// now on is missed.
	return bufio.NewReader(resp.Body)
}

func decode(t *testing.T, ev sseEvent) decisionEvent {
	t.Helper()
	var d decisionEvent
	if err := json.Unmarshal([]byte(ev.data), &d); err != nil {
		t.Fatalf("event %q: %v", ev.data, err)
	}
	return d
}

// TestDecisionsStream: /decisions replays the recent decisions (made while
// nobody watched: untraced), then streams each new one with its trace, the
// RFC sections it cites and its explanation, filtered by ?prefix= and
// ?status=.
func TestDecisionsStream(t *testing.T) {
	rig := newStatusRig(t, "")
	rig.get(t, "GET", "/fresh/before")
	r := rig.openDecisions(t, "?prefix=/fresh")
	evs := readEvents(t, r, func(e []sseEvent) bool { return len(e) == 1 })
	if d := decode(t, evs[0]); !strings.HasSuffix(d.URL, "/fresh/before") || d.Traced {
		t.Errorf("replayed %+v: want /fresh/before, untraced", d)
	}
	rig.get(t, "GET", "/etag/other") // filtered out by the prefix
	rig.get(t, "GET", "/fresh/before")
	evs = readEvents(t, r, func(e []sseEvent) bool { return len(e) == 1 })
	d := decode(t, evs[0])
	if !strings.HasSuffix(d.URL, "/fresh/before") || d.Outcome != LabelHit || !d.Traced {
		t.Fatalf("streamed %+v: want the hit on /fresh/before, traced", d)
	}
	if len(d.Trace) == 0 || d.Trace[0].State != "FromCache" || d.Trace[0].Section == "" {
		t.Errorf("trace %+v: want FromCache with its RFC section", d.Trace)
	}
	if !strings.Contains(strings.Join(d.Sections, " "), "RFC 9111 §4.2") {
		t.Errorf("sections %v: want RFC 9111 §4.2 (fresh)", d.Sections)
	}
	if !strings.Contains(d.Explain, "store:") || !strings.Contains(d.Explain, "max-age") {
		t.Errorf("explanation %q: want the store verdict and its max-age reason", d.Explain)
	}

	// ?status= matches the Cache-Status member: a parameter, a parameter
	// with its value, a value.
	for _, tc := range []struct {
		q     string
		setup []string // before subscribing
		skip  []string // must not come through
		path  string   // must
	}{
		{"?status=hit", nil, []string{"/etag/a"}, "/fresh/before"},
		{"?status=fwd%3Duri-miss", nil, []string{"/fresh/before"}, "/fresh/new"},
		{"?status=fwd-status%3D304&prefix=/etag", []string{"/etag/c", "/fresh/c"}, []string{"/fresh/c", "/etag/d"}, "/etag/c"},
	} {
		t.Run(tc.q, func(t *testing.T) {
			for _, p := range tc.setup {
				rig.get(t, "GET", p)
			}
			r := rig.openDecisions(t, tc.q)
			for _, p := range tc.skip {
				rig.get(t, "GET", p)
			}
			rig.get(t, "GET", tc.path)
			evs := readEvents(t, r, func(e []sseEvent) bool {
				if len(e) == 0 {
					return false
				}
				d := decode(t, e[len(e)-1])
				return d.Traced && strings.HasSuffix(d.URL, tc.path)
			})
			for _, ev := range evs {
				d := decode(t, ev)
				for _, p := range tc.skip {
					if d.Traced && strings.HasSuffix(d.URL, p) {
						t.Errorf("%s let %s through (%s)", tc.q, d.URL, d.CacheStatus)
					}
				}
			}
		})
	}
}

// TestDecisionsRedactCredentials: an explanation shows the values of the
// fields a response varies on; for Cookie, Authorization and Set-Cookie
// the decision stream shows that they are there, never what they hold, so
// that one client's credentials do not reach everyone watching the page.
func TestDecisionsRedactCredentials(t *testing.T) {
	explain := func(req spec.Request, resp spec.Response, _ spec.Options) string {
		return fmt.Sprintf("cookie=%q authorization=%q set-cookie=%q", req.Header["Cookie"], req.Header["Authorization"], resp.Header["Set-Cookie"])
	}
	rig := newStatusRigExplaining(t, "", explain)
	r := rig.openDecisions(t, "?prefix=/vary-cookie")
	req, _ := http.NewRequest("GET", rig.proxy.URL+"/vary-cookie", nil)
	req.Header.Set("Cookie", "session=client-secret")
	req.Header.Set("Authorization", "Bearer token-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	evs := readEvents(t, r, func(e []sseEvent) bool { return len(e) > 0 && decode(t, e[len(e)-1]).Traced })
	d := decode(t, evs[len(evs)-1])
	for _, secret := range []string{"client-secret", "token-secret", "from-origin-secret"} {
		if strings.Contains(evs[len(evs)-1].data, secret) {
			t.Errorf("the decision event holds %q: %s", secret, evs[len(evs)-1].data)
		}
	}
	if strings.Count(d.Explain, "[redacted]") != 3 {
		t.Errorf("explanation %q: want the three fields present, redacted", d.Explain)
	}
}
