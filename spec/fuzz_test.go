package spec

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fuzzHeader reads "Name: value" lines into a header (names canonicalized,
// repeated names giving several field lines).
func fuzzHeader(s string) http.Header {
	h := http.Header{}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k == "" {
			continue
		}
		k = http.CanonicalHeaderKey(strings.TrimSpace(k))
		h[k] = append(h[k], strings.TrimSpace(v))
	}
	return h
}

// fuzzStored reads stored responses separated by blank lines; a block may
// start with a status line of its own.
func fuzzStored(s string, status int, recv time.Time) []Pair {
	var ps []Pair
	for i, block := range strings.Split(s, "\n\n") {
		st := status
		if first, rest, ok := strings.Cut(block, "\n"); ok {
			if n, err := strconv.Atoi(first); err == nil {
				st, block = n, rest
			}
		}
		h := fuzzHeader(block)
		req := get()
		// The stored request carries the fields Vary names, as stored.
		req.Header = h.Clone()
		ps = append(ps, Pair{ID: strconv.Itoa(i), Request: req,
			Response: Response{Status: st, Header: h, RequestTime: recv.Add(-time.Second), ResponseTime: recv}})
	}
	return ps
}

// FuzzStateMachine walks the state machine with requests and responses
// built from fuzzed header text: Idle → (Miss → Next) / (Revalidation →
// Next, UpstreamFailed) / (PartialUpdate → Next) and so on. Nothing may
// panic, and every state must carry a Reason with a code.
func FuzzStateMachine(f *testing.F) {
	f.Add("GET", "Accept-Encoding: gzip", 200, "Cache-Control: max-age=60\nVary: Accept-Encoding\nAccept-Encoding: gzip", 200, "Cache-Control: max-age=60", false, int64(10))
	f.Add("GET", "Cache-Control: max-stale", 200, "Cache-Control: max-age=60, stale-if-error=600\nETag: \"a\"", 503, "", true, int64(300))
	f.Add("GET", "If-None-Match: \"a\"\nRange: bytes=0-9, 20-", 200, "Cache-Control: max-age=10\nETag: \"a\"\nContent-Length: 100", 304, "ETag: \"a\"\nCache-Control: private=\"X\"\nX: 1", true, int64(100))
	f.Add("GET", "Range: bytes=0-99", 206, "Content-Range: bytes 0-49/100\nETag: \"p\"\nCache-Control: max-age=99\n\n206\nContent-Range: bytes 50-99/100\nETag: \"p\"\nCache-Control: max-age=99", 206, "Content-Range: bytes 0-99/100", false, int64(5))
	f.Add("HEAD", "Pragma: no-cache", 200, "Last-Modified: Fri, 01 Mar 2024 11:00:00 GMT\nCDN-Cache-Control: max-age=5, s-maxage=9", 200, "Content-Length: 3", true, int64(-50))
	f.Add("POST", "", 200, "Cache-Control: max-age=60", 201, "Location: /x\nContent-Location: http://other/y", true, int64(0))
	f.Add("GET", "Cache-Control: only-if-cached, max-age=0", 200, "Cache-Control: immutable, max-age=60\nVary: *", 200, "Set-Cookie: a=1\nConnection: x, close\nX: 2", true, int64(1))

	f.Fuzz(func(t *testing.T, method, reqHdr string, storedStatus int, storedHdr string, upStatus int, upHdr string, isShared bool, elapsed int64) {
		elapsed %= 1 << 33 // keep times representable
		o := Options{Shared: isShared, Clock: fixed(at(int(elapsed))), TargetedField: "Cellar-Cache-Control", StaleBudget: time.Minute}
		req := Request{Method: method, URL: mustURL(testURL), Header: fuzzHeader(reqHdr)}
		stored := fuzzStored(storedHdr, storedStatus, t0)
		up := Response{Status: upStatus, Header: fuzzHeader(upHdr), RequestTime: at(int(elapsed) - 1), ResponseTime: at(int(elapsed))}
		walkIdle(t, NewIdleClient(o).Next(req, stored), up)
	})
}

// walkIdle follows an IdleClient's next state to its end.
func walkIdle(t *testing.T, s IdleNext, up Response) {
	t.Helper()
	fuzzCheck(t, s)
	switch s := s.(type) {
	case CacheMiss:
		walkMiss(t, s, up)
	case FromCache:
		if s.Refresh != nil {
			walkRevalidation(t, *s.Refresh, up)
		}
	case NeedRevalidation:
		walkRevalidation(t, s, up)
	case PartialUpdate:
		if len(s.Parts) < 2 || len(s.Parts) != len(s.Ranges) {
			t.Fatalf("PartialUpdate with %d parts, %d ranges", len(s.Parts), len(s.Ranges))
		}
		for _, r := range s.Ranges {
			if r.Start < 0 || r.Length <= 0 {
				t.Fatalf("PartialUpdate range %v", r)
			}
		}
		switch n := s.Next(Pair{ID: "combined", Request: s.Parts[0].Request, Response: s.Combined}).(type) {
		case CacheMiss:
			fuzzCheck(t, n)
			walkMiss(t, n, up)
		case FromCache:
			fuzzCheck(t, n)
		case NeedRevalidation:
			fuzzCheck(t, n)
			walkRevalidation(t, n, up)
		}
	case InvalidateEntries:
		_ = s.Keys(up)
		sv := s.Serve(up)
		fuzzServe(t, &sv)
	}
}

func walkMiss(t *testing.T, m CacheMiss, up Response) {
	t.Helper()
	switch r := m.Next(up).(type) {
	case StoreAndUse:
		fuzzCheck(t, r)
	case CouldNotBeStored:
		fuzzCheck(t, r)
	}
}

func walkRevalidation(t *testing.T, nr NeedRevalidation, up Response) {
	t.Helper()
	fuzzCheck(t, nr)
	if up, ok := nr.UpstreamFailed(); ok {
		fuzzCheck(t, up)
	}
	switch n := nr.Next(up).(type) {
	case NeedToBeUpdated:
		fuzzCheck(t, n)
	case CacheMiss:
		fuzzCheck(t, n)
		walkMiss(t, n, up)
	}
}

// fuzzCheck asserts what every state must satisfy.
func fuzzCheck(t *testing.T, s State) {
	t.Helper()
	r, sv, _, _ := parts(s)
	if r.Code == "" {
		t.Fatalf("%s has no Reason.Code (%+v)", s.StateName(), r)
	}
	if sv != nil {
		fuzzServe(t, sv)
	}
}

func fuzzServe(t *testing.T, sv *Serve) {
	t.Helper()
	h := sv.Header()
	_ = sv.CacheStatus.Value("cellar")
	if sv.Body == BodyRanges {
		if len(sv.Ranges) == 0 {
			t.Fatalf("BodyRanges without ranges")
		}
		for _, r := range sv.Ranges {
			if r.Start < 0 || r.Length <= 0 {
				t.Fatalf("served range %v", r)
			}
		}
		parts, _ := sv.Parts()
		if n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64); err != nil || n != sv.ContentLength(-1) && parts != nil {
			t.Fatalf("Content-Length %q, plan %d", h.Get("Content-Length"), sv.ContentLength(-1))
		}
	}
}

// Bad input never panics (issue 3): a request without URL or header,
// responses without header or times still give decisions with reasons.
func TestStateMachine_BadInputNeverPanics(t *testing.T) {
	bare := Response{Status: 200}
	withCC := Response{Status: 200, Header: http.Header{"Cache-Control": {"max-age=60"}}}
	for _, req := range []Request{{Method: "GET"}, {}, {Method: "POST"}, {Method: "GET", URL: mustURL("/relative")}} {
		for _, stored := range [][]Pair{nil, {{}}, {{Request: req, Response: bare}}, {{Response: withCC}}} {
			for _, up := range []Response{{}, bare, withCC, {Status: 304}, {Status: 206, Header: http.Header{"Content-Range": {"bytes 0-0/1"}}}} {
				for _, o := range []Options{{}, {Shared: true, Clock: fixed(t0)}} {
					walkIdle(t, NewIdleClient(o).Next(req, stored), up)
				}
			}
		}
	}
}
