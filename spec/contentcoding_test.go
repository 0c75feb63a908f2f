package spec

import (
	"net/http"
	"testing"
	"time"
)

// TestCodingsAcceptedRFC9110_12_5_3: the acceptability of a stored
// response's content codings to a request.
func TestCodingsAcceptedRFC9110_12_5_3(t *testing.T) {
	for _, c := range []struct {
		accept []string // nil: no Accept-Encoding field
		coding []string
		want   bool
	}{
		{nil, nil, true},
		{nil, []string{"br"}, true}, // no field: any coding
		{[]string{"gzip, deflate"}, nil, true},
		{[]string{"gzip, deflate"}, []string{"gzip"}, true},
		{[]string{"gzip, deflate"}, []string{"br"}, false},
		{[]string{"GZIP"}, []string{"x-gzip"}, true},
		{[]string{"x-compress"}, []string{"Compress"}, true},
		{[]string{""}, []string{"gzip"}, false}, // empty: identity only
		{[]string{""}, []string{"identity"}, true},
		{[]string{"gzip;q=0, *"}, []string{"gzip"}, false},
		{[]string{"gzip;q=0, *"}, []string{"br"}, true},
		{[]string{"*;q=0"}, []string{"br"}, false},
		{[]string{"*"}, []string{"zstd"}, true},
		{[]string{"br;q=0.001"}, []string{"br"}, true},
		{[]string{"br ; Q=0"}, []string{"br"}, false},
		{[]string{"br;q=2"}, []string{"br"}, false}, // an unreadable weight accepts nothing
		{[]string{"gzip", "br"}, []string{"gzip, br"}, true},
		{[]string{"gzip"}, []string{"gzip", "br"}, false},
		{[]string{"deflate"}, []string{"identity, deflate"}, true},
	} {
		req := http.Header{}
		if c.accept != nil {
			req["Accept-Encoding"] = c.accept
		}
		resp := http.Header{}
		if c.coding != nil {
			resp["Content-Encoding"] = c.coding
		}
		if got := codingsAccepted(req, resp); got != c.want {
			t.Errorf("Accept-Encoding %q, Content-Encoding %q: accepted = %v, want %v", c.accept, c.coding, got, c.want)
		}
	}
}

// The check runs on every lookup of a coded response: it allocates nothing.
func TestCodingsAcceptedAllocatesNothing(t *testing.T) {
	req := http.Header{"Accept-Encoding": {"gzip, deflate;q=0.5, BR;q=0.9"}}
	resp := http.Header{"Content-Encoding": {"br"}}
	if n := testing.AllocsPerRun(100, func() { codingsAccepted(req, resp) }); n != 0 {
		t.Errorf("codingsAccepted: %v allocations, want 0", n)
	}
}

// TestCodedResponseWithoutVaryRFC9110_12_5_3: a stored br response whose
// origin omitted Vary is not served to a request that does not accept br
// (it goes forward as a vary-miss), and still is to one that does.
func TestCodedResponseWithoutVaryRFC9110_12_5_3(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	opts := Options{Shared: true, Clock: func() time.Time { return now }}
	stored := []Pair{{
		Request: Request{Method: http.MethodGet, Header: http.Header{}},
		Response: Response{Status: 200, RequestTime: now, ResponseTime: now, Header: http.Header{
			"Cache-Control":    {"max-age=600"},
			"Content-Encoding": {"br"},
			"Date":             {formatHTTPDate(now)},
		}},
	}}
	for _, c := range []struct {
		accept string
		hit    bool
	}{{"br, gzip", true}, {"gzip, deflate", false}, {"", false}} {
		req := Request{Method: http.MethodGet, URL: mustURL("http://site.example/page"), Header: http.Header{"Accept-Encoding": {c.accept}}}
		next := NewIdleClient(opts).Next(req, stored)
		switch n := next.(type) {
		case FromCache:
			if !c.hit {
				t.Errorf("Accept-Encoding %q: served the stored br response", c.accept)
			}
		case CacheMiss:
			if c.hit {
				t.Errorf("Accept-Encoding %q: %s, want a hit", c.accept, n.Reason.Code)
			} else if n.Fwd() != FwdVaryMiss {
				t.Errorf("Accept-Encoding %q: fwd=%s, want vary-miss", c.accept, n.Fwd())
			}
		default:
			t.Errorf("Accept-Encoding %q: %s", c.accept, next.StateName())
		}
	}
}

// FuzzCodingsAccepted: the Accept-Encoding parser never panics, identity
// is always acceptable, so is every coding without Accept-Encoding, and a
// coding listed first without a weight is accepted whatever follows.
func FuzzCodingsAccepted(f *testing.F) {
	for _, s := range [][2]string{{"gzip, deflate", "gzip"}, {"br;q=0.5, *;q=0", "zstd"}, {"", "x-gzip"}, {`gzip;x="a,b";q=1`, "gzip"}, {"*;q=1.000", "br, gzip"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, accept, coding string) {
		req := http.Header{"Accept-Encoding": {accept}}
		codingsAccepted(req, http.Header{"Content-Encoding": {coding}})
		if !codingsAccepted(req, http.Header{"Content-Encoding": {"identity"}}) {
			t.Errorf("Accept-Encoding %q refuses identity", accept)
		}
		if !codingsAccepted(http.Header{}, http.Header{"Content-Encoding": {coding}}) {
			t.Errorf("no Accept-Encoding refuses %q", coding)
		}
		if IsToken(coding) && !codingsAccepted(http.Header{"Accept-Encoding": {coding + ", " + accept}}, http.Header{"Content-Encoding": {coding}}) {
			t.Errorf("Accept-Encoding %q refuses %q, listed first", coding+", "+accept, coding)
		}
	})
}
