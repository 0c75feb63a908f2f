package spec

// Helpers shared by the state-machine tests: a fixed clock, builders for
// requests, responses and stored pairs, and a checker that asserts on what a
// state tells the caller to do (state type, Reason.Code, the Serve plan, the
// Forward request and Cache-Status).

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// t0 is the instant every test's story starts at: responses are received
// then, and lookups happen at t0 plus some elapsed time.
var t0 = time.Date(2024, time.March, 1, 12, 0, 0, 0, time.UTC)

const testURL = "http://example.com/r"

// at returns t0 plus d seconds.
func at(d int) time.Time { return t0.Add(time.Duration(d) * time.Second) }

// hd formats t as an IMF-fixdate (RFC 9110 §5.6.7).
func hd(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

// fixed returns a Clock that always answers t.
func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

// private and shared return Options for a private or shared cache whose
// clock reads now.
func private(now time.Time) Options { return Options{Clock: fixed(now)} }
func shared(now time.Time) Options  { return Options{Shared: true, Clock: fixed(now)} }

// hdr builds a header from name/value pairs; a repeated name adds another
// field line (multi-valued, never joined).
func hdr(kv ...string) http.Header {
	if len(kv)%2 != 0 {
		panic("hdr: odd number of arguments")
	}
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// rq builds a request.
func rq(method, target string, kv ...string) Request {
	return Request{Method: method, URL: mustURL(target), Header: hdr(kv...)}
}

// get builds a GET request for testURL.
func get(kv ...string) Request { return rq(http.MethodGet, testURL, kv...) }

// rsp builds a response received at recv, its request sent at the same
// instant (no response delay).
func rsp(status int, recv time.Time, kv ...string) Response {
	return Response{Status: status, Header: hdr(kv...), RequestTime: recv, ResponseTime: recv}
}

// ok200 is a 200 received at t0 with Date t0 and the given fields.
func ok200(kv ...string) Response {
	return rsp(http.StatusOK, t0, append([]string{"Date", hd(t0)}, kv...)...)
}

// pr builds a stored pair.
func pr(id string, q Request, r Response) Pair { return Pair{ID: id, Request: q, Response: r} }

// storedGET is a pair stored for a plain GET of testURL.
func storedGET(id string, r Response) Pair { return pr(id, get(), r) }

// missFor starts a lookup of req with nothing stored and returns the
// CacheMiss it must give.
func missFor(t *testing.T, o Options, req Request) CacheMiss {
	t.Helper()
	return as[CacheMiss](t, NewIdleClient(o).Next(req, nil))
}

// storeVia runs resp through CacheMiss.Next for req as a cache would on a
// miss and returns the pair to store, with id as its ID. It fails the test
// if the response is not storable.
func storeVia(t *testing.T, o Options, id string, req Request, resp Response) Pair {
	t.Helper()
	sa := as[StoreAndUse](t, missFor(t, o, req).Next(resp))
	sa.Pair.ID = id
	return sa.Pair
}

// as asserts that s has type T and returns it.
func as[T State](t *testing.T, s State) T {
	t.Helper()
	v, ok := s.(T)
	if !ok {
		var zero T
		t.Fatalf("state = %s (%s), want %s", name(s), reasonOf(s), zero.StateName())
	}
	return v
}

func name(s State) string {
	if s == nil {
		return "<nil>"
	}
	return s.StateName()
}

// absent marks a header field that must not be present.
const absent = "<absent>"

// want is what a test expects of a state. Zero fields are not checked.
type want struct {
	state  string            // StateName
	code   string            // Reason.Code
	status int               // Serve.Status
	body   *BodyPlan         // Serve.Body
	header map[string]string // Serve header: field → values joined by ", ", or absent
	fwd    map[string]string // Forward header: field → values joined by ", ", or absent
	cs     string            // CacheStatus.Value("cellar")
	id     string            // ID of the stored pair served (FromCache, NeedToBeUpdated)
}

func plan(b BodyPlan) *BodyPlan { return &b }

// parts returns the reason, serve plan, forward request and served pair a
// state carries (nil where it has none).
func parts(s State) (r Reason, sv *Serve, fwd *Request, p *Pair) {
	switch s := s.(type) {
	case CacheMiss:
		return s.Reason, nil, &s.Forward, nil
	case NeedRevalidation:
		return s.Reason, nil, &s.Forward, nil
	case InvalidateEntries:
		return s.Reason, nil, &s.Forward, nil
	case PartialUpdate:
		return s.Reason, nil, nil, nil
	case FromCache:
		return s.Reason, &s.Serve, nil, s.Pair
	case NeedToBeUpdated:
		return s.Reason, &s.Serve, nil, s.Pair
	case StoreAndUse:
		return s.Reason, &s.Serve, nil, &s.Pair
	case CouldNotBeStored:
		return s.Reason, &s.Serve, nil, nil
	}
	return Reason{}, nil, nil, nil
}

func reasonOf(s State) string {
	r, _, _, _ := parts(s)
	return string(r.Code) + ": " + r.String()
}

func joined(h http.Header, k string) string {
	v, ok := h[http.CanonicalHeaderKey(k)]
	if !ok {
		return absent
	}
	return strings.Join(v, ", ")
}

// check asserts w on s.
func check(t *testing.T, s State, w want) {
	t.Helper()
	if s == nil {
		t.Fatalf("state is nil")
	}
	r, sv, fwd, p := parts(s)
	if w.state != "" && s.StateName() != w.state {
		t.Fatalf("state = %s (%s), want %s", s.StateName(), reasonOf(s), w.state)
	}
	if w.code != "" && string(r.Code) != w.code {
		t.Errorf("Reason.Code = %q (%s), want %q", r.Code, r, w.code)
	}
	if w.status != 0 || w.body != nil || w.header != nil || w.cs != "" {
		if sv == nil {
			t.Fatalf("%s has no Serve plan", s.StateName())
		}
		if w.status != 0 && sv.Status != w.status {
			t.Errorf("Serve.Status = %d, want %d", sv.Status, w.status)
		}
		if w.body != nil && sv.Body != *w.body {
			t.Errorf("Serve.Body = %d, want %d", sv.Body, *w.body)
		}
		h := sv.Header()
		for k, v := range w.header {
			if got := joined(h, k); got != v {
				t.Errorf("served %s = %q, want %q", k, got, v)
			}
		}
		if w.cs != "" {
			if got := sv.CacheStatus.Value("cellar"); got != w.cs {
				t.Errorf("Cache-Status = %q, want %q", got, w.cs)
			}
		}
	}
	if w.fwd != nil {
		if fwd == nil {
			t.Fatalf("%s has no Forward request", s.StateName())
		}
		for k, v := range w.fwd {
			if got := joined(fwd.Header, k); got != v {
				t.Errorf("forwarded %s = %q, want %q", k, got, v)
			}
		}
	}
	if w.id != "" {
		if p == nil {
			t.Errorf("no pair served, want %q", w.id)
		} else if p.ID != w.id {
			t.Errorf("served pair %q, want %q", p.ID, w.id)
		}
	}
}

// lookupCase is one IdleClient.Next case.
type lookupCase struct {
	name   string
	opts   Options
	stored []Pair
	req    Request
	want   want
}

func runLookups(t *testing.T, cases []lookupCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Helper()
			check(t, NewIdleClient(tc.opts).Next(tc.req, tc.stored), tc.want)
		})
	}
}

// storeCase is one CacheMiss.Next case: req missed, resp came back.
type storeCase struct {
	name string
	opts Options
	req  Request
	resp Response
	want want
}

func runStores(t *testing.T, cases []storeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Helper()
			check(t, missFor(t, tc.opts, tc.req).Next(tc.resp), tc.want)
		})
	}
}

// revalidation starts a lookup that must validate and returns its state.
func revalidation(t *testing.T, o Options, req Request, stored ...Pair) NeedRevalidation {
	t.Helper()
	return as[NeedRevalidation](t, NewIdleClient(o).Next(req, stored))
}

func ids(ps []Pair) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }
