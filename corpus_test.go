package cellar

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cellar-http/cellar/spec"
)

// The corpus drives the engine with a scripted origin: each scenario is a
// series of client requests, and for each the upstream requests the cache
// must make and the origin's replies (or failures). No network is used, so
// a failure reproduces exactly; `go test -run TestCorpus/NAME` replays one.

// reply is the origin's answer to one upstream request, and what that
// request must carry.
type reply struct {
	want   map[string]string // upstream request fields (values joined by ", "), or absent
	status int
	header []string // name, value pairs; Date is added from the clock
	body   string
	err    error // a failure instead of a response
}

// step is one client request and what it must get.
type step struct {
	advance time.Duration // the clock moves first
	method  string        // default GET
	header  []string      // request fields, name/value pairs
	origin  []reply       // the upstream requests it causes, in order
	status  int           // the client's status (0: not checked)
	body    *string       // the client's body (nil: not checked)
	want    map[string]string
	cs      []string // substrings of Cache-Status
	// readErr: reading the body must fail (it is incomplete).
	readErr bool
	// errStatus, when not zero, is the status of the UpstreamError
	// RoundTrip must return instead of a response.
	errStatus int
}

type scenario struct {
	name   string
	shared bool
	spec   spec.Options
	steps  []step
}

func str(s string) *string { return &s }

// Failures as net/http reports them.
var (
	errRefused = &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	errReset   = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	errTimeout = timeoutError{}
	errClosed  = fmt.Errorf("net/http: HTTP/1.x transport connection broken: %w", io.ErrUnexpectedEOF)
	errTLS     = errors.New("tls: failed to verify certificate: x509: certificate signed by unknown authority")
)

type timeoutError struct{}

func (timeoutError) Error() string   { return "net/http: timeout awaiting response headers" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// script is the origin: a RoundTripper replaying replies in order.
type script struct {
	t     *testing.T
	clock *fakeClock
	mu    sync.Mutex
	queue []reply
	step  int
}

func (s *script) load(step int, rs []reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) > 0 {
		s.t.Errorf("step %d: %d scripted upstream requests were not made", s.step, len(s.queue))
	}
	s.queue, s.step = append([]reply(nil), rs...), step
}

func (s *script) RoundTrip(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		s.t.Errorf("step %d: unexpected upstream request %s %s %v", s.step, req.Method, req.URL, req.Header)
		return nil, errors.New("script: no reply")
	}
	r := s.queue[0]
	s.queue = s.queue[1:]
	for k, v := range r.want {
		got, ok := req.Header[http.CanonicalHeaderKey(k)]
		g := strings.Join(got, ", ")
		if !ok {
			g = absent
		}
		if g != v {
			s.t.Errorf("step %d: upstream %s = %q, want %q", s.step, k, g, v)
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	h := http.Header{"Date": {s.clock.Now().UTC().Format(http.TimeFormat)}}
	for i := 0; i+1 < len(r.header); i += 2 {
		h.Add(r.header[i], r.header[i+1])
	}
	status := r.status
	if status == 0 {
		status = 200
	}
	cl := int64(-1)
	if v := h.Get("Content-Length"); v != "" {
		cl, _ = strconv.ParseInt(v, 10, 64)
	}
	return &http.Response{
		Status: strconv.Itoa(status) + " " + http.StatusText(status), StatusCode: status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(strings.NewReader(r.body)), ContentLength: cl, Request: req,
	}, nil
}

// absent marks a field that must not be present.
const absent = "<absent>"

func runScenario(t *testing.T, sc scenario) {
	clock := newClock()
	s := &script{t: t, clock: clock}
	c := newTestCache(t, clock, sc.shared, Config{Spec: sc.spec, Upstream: s})
	for i, st := range sc.steps {
		clock.Advance(st.advance)
		s.load(i, st.origin)
		method := st.method
		if method == "" {
			method = "GET"
		}
		req, _ := http.NewRequest(method, "http://origin.test/r", nil)
		for j := 0; j+1 < len(st.header); j += 2 {
			req.Header.Add(st.header[j], st.header[j+1])
		}
		resp, err := c.RoundTrip(req)
		if st.errStatus != 0 {
			var ue *UpstreamError
			if !errors.As(err, &ue) {
				t.Fatalf("step %d: got %v, want an UpstreamError with status %d", i, err, st.errStatus)
			}
			if ue.Status() != st.errStatus {
				t.Errorf("step %d: UpstreamError status %d (%s), want %d", i, ue.Status(), ue.Answer.Reason, st.errStatus)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		b, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if (rerr != nil) != st.readErr {
			t.Errorf("step %d: reading the body: %v (%d bytes), want error %v", i, rerr, len(b), st.readErr)
		}
		cs := resp.Header.Get("Cache-Status")
		if st.status != 0 && resp.StatusCode != st.status {
			t.Errorf("step %d: status %d (%s), want %d", i, resp.StatusCode, cs, st.status)
		}
		if st.body != nil && string(b) != *st.body {
			t.Errorf("step %d: body %q, want %q", i, b, *st.body)
		}
		for k, v := range st.want {
			got, ok := resp.Header[http.CanonicalHeaderKey(k)]
			g := strings.Join(got, ", ")
			if !ok {
				g = absent
			}
			if g != v {
				t.Errorf("step %d: %s = %q, want %q", i, k, g, v)
			}
		}
		for _, sub := range st.cs {
			if !strings.Contains(cs, sub) {
				t.Errorf("step %d: Cache-Status %q lacks %q", i, cs, sub)
			}
		}
		if l := resp.Header.Get("Content-Length"); l != "" && l != strconv.Itoa(len(b)) && !st.readErr {
			t.Errorf("step %d: Content-Length %s but %d bytes", i, l, len(b))
		}
	}
	s.load(len(sc.steps), nil)
}

func TestCorpus(t *testing.T) {
	for _, group := range [][]scenario{staleCorpus, partialCorpus} {
		for _, sc := range group {
			t.Run(sc.name, func(t *testing.T) { runScenario(t, sc) })
		}
	}
}

// fill is the first step of most scenarios: a miss that stores a response.
func fill(cc string, kv ...string) step {
	return step{origin: []reply{{header: append([]string{"Cache-Control", cc, "ETag", `"v1"`, "Content-Length", "4"}, kv...), body: "good"}},
		status: 200, body: str("good")}
}

// staleCorpus: serving stale on disconnection (RFC 9111 §4.2.4, §5.2.2.2),
// stale-if-error's statuses (RFC 5861 §4), and the request directives that
// refuse stale responses (§5.2.1.1, §5.2.1.3).
var staleCorpus = []scenario{
	{name: "RFC9111_4_2_4 refused connection serves stale by default", shared: true, steps: []step{
		fill("max-age=10"),
		{advance: time.Minute, origin: []reply{{err: errRefused, want: map[string]string{"If-None-Match": `"v1"`}}},
			status: 200, body: str("good"), cs: []string{"fwd=stale", "detail=stale-budget"}},
	}},
	{name: "RFC9111_4_2_4 reset, closed and timeout are disconnections", steps: []step{
		fill("max-age=10"),
		{advance: time.Minute, origin: []reply{{err: errReset}}, body: str("good"), cs: []string{"detail=stale-budget"}},
		{origin: []reply{{err: errClosed}}, body: str("good"), cs: []string{"detail=stale-budget"}},
		{origin: []reply{{err: errTimeout}}, body: str("good"), cs: []string{"detail=stale-budget"}},
	}},
	{name: "RFC9111_4_2_4 the budget does not cover other failures", steps: []step{
		fill("max-age=10"),
		{advance: time.Minute, origin: []reply{{err: errTLS}}, errStatus: 502},
	}},
	{name: "RFC9111_4_2_4 the budget is bounded", steps: []step{
		fill("max-age=10"),
		{advance: spec.DefaultStaleBudget + time.Minute, origin: []reply{{err: errRefused}}, errStatus: 504},
	}},
	{name: "RFC9111_4_2_4 a negative budget turns it off", spec: spec.Options{StaleBudget: -1}, steps: []step{
		fill("max-age=10"),
		{advance: time.Minute, origin: []reply{{err: errRefused}}, errStatus: 504},
	}},
	{name: "RFC9111_5_2_2_2 must-revalidate: 504 when disconnected", shared: true, steps: []step{
		fill("max-age=10, must-revalidate"),
		{advance: time.Minute, origin: []reply{{err: errRefused}}, errStatus: 504},
	}},
	{name: "RFC9111_5_2_2_8 proxy-revalidate: 504 in a shared cache", shared: true, steps: []step{
		fill("max-age=10, proxy-revalidate"),
		{advance: time.Minute, origin: []reply{{err: errRefused}}, errStatus: 504},
	}},
	{name: "RFC9111_5_2_2_10 s-maxage: 504 in a shared cache", shared: true, steps: []step{
		fill("s-maxage=10"),
		{advance: time.Minute, origin: []reply{{err: errReset}}, errStatus: 504},
	}},
	{name: "RFC9111_5_2_2_4 no-cache: 504", steps: []step{
		fill("no-cache, max-age=100"),
		{advance: time.Second, origin: []reply{{err: errRefused}}, errStatus: 504},
	}},
	{name: "RFC9110_15_6_3 a miss to an unreachable origin is 502, 504 after a timeout", steps: []step{
		{origin: []reply{{err: errRefused}}, errStatus: 502},
		{origin: []reply{{err: errTimeout}}, errStatus: 504},
	}},
	{name: "RFC5861_4 only 500 502 503 504 trigger stale-if-error", steps: []step{
		fill("max-age=10, stale-if-error=600", "Vary", "X-V"),
		{advance: time.Minute, origin: []reply{{status: 503, body: "down"}}, status: 200, body: str("good"), cs: []string{"fwd-status=503", "detail=stale-if-error"}},
		{origin: []reply{{status: 501, body: "nope"}}, status: 501, body: str("nope")},
	}},
	{name: "RFC5861_4 505 and 511 are passed on", steps: []step{
		fill("max-age=10, stale-if-error=600"),
		{advance: time.Minute, origin: []reply{{status: 505, body: "v"}}, status: 505},
	}},
	{name: "RFC9111_5_2_1_1 request max-age refuses stale-while-revalidate", steps: []step{
		fill("max-age=10, stale-while-revalidate=600"),
		{advance: time.Minute, header: []string{"Cache-Control", "max-age=3600"},
			origin: []reply{{status: 304, header: []string{"Cache-Control", "max-age=10, stale-while-revalidate=600", "ETag", `"v1"`}}},
			status: 200, body: str("good"), cs: []string{"fwd=stale", "fwd-status=304"}},
	}},
	{name: "RFC9111_5_2_1_3 request min-fresh refuses stale on disconnection", steps: []step{
		fill("max-age=10"),
		{advance: time.Minute, header: []string{"Cache-Control", "min-fresh=1"}, origin: []reply{{err: errRefused}}, errStatus: 504},
		{header: []string{"Cache-Control", "min-fresh=1, max-stale=3600"}, status: 200, body: str("good"), cs: []string{"detail=max-stale"}},
	}},
}

// digits is a 100-byte representation whose bytes say where they are.
var digits = strings.Repeat("0123456789", 10)

// partialCorpus: storing, serving and completing partial content
// (RFC 9111 §3.3, §3.4; RFC 9110 §14).
var partialCorpus = []scenario{
	{name: "RFC9111_3_3 a 206 whose Content-Length disagrees with its Content-Range is not stored", steps: []step{
		{header: []string{"Range", "bytes=0-9"}, origin: []reply{{status: 206, body: "01234",
			header: []string{"Cache-Control", "max-age=600", "ETag", `"v1"`, "Content-Range", "bytes 0-9/100", "Content-Length", "5"}}},
			status: 206, cs: []string{"detail=partial-length-mismatch"}},
		{header: []string{"Range", "bytes=0-4"}, origin: []reply{{status: 206, body: "01234",
			header: []string{"Cache-Control", "max-age=600", "ETag", `"v1"`, "Content-Range", "bytes 0-4/100", "Content-Length", "5"}}},
			status: 206, body: str("01234"), cs: []string{"stored"}},
	}},
	{name: "RFC9111_3_3 a 206 without Content-Length shorter than its range is not stored", steps: []step{
		{header: []string{"Range", "bytes=0-9"}, origin: []reply{{status: 206, body: "01234",
			header: []string{"Cache-Control", "max-age=600", "ETag", `"v1"`, "Content-Range", "bytes 0-9/100"}}},
			status: 206, readErr: true},
		{header: []string{"Range", "bytes=0-9"}, origin: []reply{{status: 206, body: "0123456789",
			header: []string{"Cache-Control", "max-age=600", "ETag", `"v1"`, "Content-Range", "bytes 0-9/100"}}},
			status: 206, body: str("0123456789")},
		{header: []string{"Range", "bytes=0-9"}, status: 206, body: str("0123456789"), cs: []string{"hit"}},
	}},
	{name: "RFC9111_3_3 a sub-range of a stored 206 is served from it", steps: []step{
		{header: []string{"Range", "bytes=10-29"}, origin: []reply{{status: 206, body: digits[10:30],
			header: []string{"Cache-Control", "max-age=600", "ETag", `"v1"`, "Content-Range", "bytes 10-29/100", "Content-Length", "20"}}},
			status: 206, body: str(digits[10:30])},
		{header: []string{"Range", "bytes=12-15"}, status: 206, body: str("2345"), cs: []string{"hit"},
			want: map[string]string{"Content-Range": "bytes 12-15/100", "Content-Length": "4"}},
		{header: []string{"Range", "bytes=10-29"}, status: 206, body: str(digits[10:30]), cs: []string{"hit"}},
	}},
	{name: "RFC9111_4_3_2 If-None-Match on a Range request is answered 304 from a stored 206", steps: []step{
		{header: []string{"Range", "bytes=0-9"}, origin: []reply{{status: 206, body: digits[:10],
			header: []string{"Cache-Control", "max-age=600", "ETag", `"v1"`, "Content-Range", "bytes 0-9/100", "Content-Length", "10"}}},
			status: 206},
		{header: []string{"Range", "bytes=0-4", "If-None-Match", `"v1"`}, status: 304, body: str(""), cs: []string{"hit"},
			want: map[string]string{"Etag": `"v1"`, "Content-Range": absent}},
		{header: []string{"Range", "bytes=50-60", "If-None-Match", `W/"v1"`}, status: 304, cs: []string{"hit"}},
	}},
	{name: "RFC9111_3_4 the missing end of a range is asked for alone and combined", steps: []step{
		{header: []string{"Range", "bytes=0-4"}, origin: []reply{{status: 206, body: "01234",
			header: []string{"Cache-Control", "max-age=600", "ETag", `"v1"`, "Content-Range", "bytes 0-4/10", "Content-Length", "5"}}},
			status: 206},
		{header: []string{"Range", "bytes=0-9"}, origin: []reply{{status: 206, body: "56789",
			want:   map[string]string{"Range": "bytes=5-9", "If-Range": `"v1"`},
			header: []string{"Cache-Control", "max-age=600", "ETag", `"v1"`, "Content-Range", "bytes 5-9/10", "Content-Length", "5"}}},
			status: 206, body: str("0123456789"), want: map[string]string{"Content-Range": "bytes 0-9/10"}},
		{status: 200, body: str("0123456789"), cs: []string{"hit"}},
	}},
	{name: "RFC9111_3_4 a changed representation: the client's own request goes upstream", steps: []step{
		{header: []string{"Range", "bytes=0-4"}, origin: []reply{{status: 206, body: "01234",
			header: []string{"Cache-Control", "max-age=600", "ETag", `"v1"`, "Content-Range", "bytes 0-4/10", "Content-Length", "5"}}},
			status: 206},
		{header: []string{"Range", "bytes=0-"}, origin: []reply{
			{want: map[string]string{"Range": "bytes=5-9", "If-Range": `"v1"`}, body: "abcdefghij",
				header: []string{"Cache-Control", "max-age=600", "ETag", `"v2"`, "Content-Length", "10"}},
			{want: map[string]string{"Range": "bytes=0-", "If-Range": absent}, status: 206, body: "abcdefghij",
				header: []string{"Cache-Control", "max-age=600", "ETag", `"v2"`, "Content-Range", "bytes 0-9/10", "Content-Length", "10"}}},
			status: 206, body: str("abcdefghij")},
	}},
	{name: "RFC9110_14_2 overlapping ranges are coalesced", steps: []step{
		{origin: []reply{{body: digits, header: []string{"Cache-Control", "max-age=600", "ETag", `"v1"`, "Content-Length", "100"}}}, status: 200},
		{header: []string{"Range", "bytes=0-, 0-, 0-"}, status: 206, body: str(digits), want: map[string]string{"Content-Range": "bytes 0-99/100"}},
		{header: []string{"Range", "bytes=10-19, 15-29, 30-39"}, status: 206, body: str(digits[10:40]), want: map[string]string{"Content-Range": "bytes 10-39/100"}},
	}},
}
