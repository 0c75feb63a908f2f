package spec

import (
	"net/http"
	"slices"
	"testing"
)

// RFC 9111 §4.4: a non-error response to an unsafe method invalidates the
// target URI, and the Location and Content-Location URIs of the same
// origin.
func TestInvalidate_RFC9111_4_4_UnsafeMethods(t *testing.T) {
	fresh := storedGET("p", ok200("Cache-Control", "max-age=600"))
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, "PROPFIND", "FOO"} {
		t.Run(m, func(t *testing.T) {
			req := rq(m, testURL, "Content-Type", "text/plain", "If-Match", `"x"`)
			s := NewIdleClient(private(t0)).Next(req, []Pair{fresh})
			check(t, s, want{state: "InvalidateEntries", code: "unsafe-method",
				fwd: map[string]string{"Content-Type": "text/plain", "If-Match": `"x"`}})
			inv := s.(InvalidateEntries)
			if inv.Forward.Method != m {
				t.Errorf("Forward.Method = %s", inv.Forward.Method)
			}
		})
	}
	// A cacheable POST (opted in) is looked up, not invalidating.
	o := Options{Clock: fixed(t0), CacheableMethods: []string{"GET", "HEAD", "POST"}}
	check(t, NewIdleClient(o).Next(rq(http.MethodPost, testURL), nil), want{state: "CacheMiss", code: "uri-miss"})
	// Safe methods never invalidate.
	check(t, NewIdleClient(private(t0)).Next(rq(http.MethodOptions, testURL), nil), want{state: "CacheMiss", code: "method-not-cacheable"})
}

func TestInvalidate_RFC9111_4_4_Keys(t *testing.T) {
	target := Key(get())
	key := func(u string) string { return Key(rq(http.MethodGet, u)) }
	cases := []struct {
		name   string
		status int
		kv     []string
		want   []string
	}{
		{"2xx invalidates the target", 200, nil, []string{target}},
		{"204", 204, nil, []string{target}},
		{"3xx is not an error", 303, nil, []string{target}},
		{"4xx is an error: nothing", 404, nil, nil},
		{"5xx is an error: nothing", 500, nil, nil},
		{"1xx is not final: nothing", 100, nil, nil},
		{"same-origin Location", 201, []string{"Location", "http://example.com/new"}, []string{target, key("http://example.com/new")}},
		{"relative Location", 201, []string{"Location", "/a/b?c"}, []string{target, key("http://example.com/a/b?c")}},
		{"same-origin Content-Location", 200, []string{"Content-Location", "other"}, []string{target, key("http://example.com/other")}},
		{"both", 200, []string{"Location", "/l", "Content-Location", "/c"}, []string{target, key("http://example.com/l"), key("http://example.com/c")}},
		{"origin compared after normalization; both spellings invalidated", 200, []string{"Location", "HTTP://EXAMPLE.COM:80/x"}, []string{target, "http://EXAMPLE.COM:80/x", key("http://example.com/x")}},
		{"odd spelling of the target: its normal form too", 200, []string{"Location", "/stric%74/page"}, []string{target, "http://example.com/stric%74/page", "http://example.com/strict/page"}},
		{"Location naming the target is not repeated", 200, []string{"Location", "/r"}, []string{target}},
		{"other host is not invalidated", 201, []string{"Location", "http://evil.example/r"}, []string{target}},
		{"other scheme is not invalidated", 201, []string{"Location", "https://example.com/r2"}, []string{target}},
		{"other port is not invalidated", 201, []string{"Content-Location", "http://example.com:8080/r2"}, []string{target}},
		{"unparsable Location ignored", 201, []string{"Location", "http://[::1"}, []string{target}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inv := as[InvalidateEntries](t, NewIdleClient(private(t0)).Next(rq(http.MethodPost, testURL), nil))
			if got := inv.Keys(rsp(tc.status, t0, tc.kv...)); !slices.Equal(got, tc.want) {
				t.Errorf("Keys = %q, want %q", got, tc.want)
			}
		})
	}
	// The invalidated keys are the one a GET of the target as sent is
	// stored under, and that of its normal form (RFC 9110 §4.2.3).
	inv := as[InvalidateEntries](t, NewIdleClient(private(t0)).Next(rq(http.MethodDelete, "HTTP://Example.com:80/r#f"), nil))
	if got, want := inv.Keys(rsp(204, t0)), []string{"http://Example.com:80/r", target}; !slices.Equal(got, want) {
		t.Errorf("Keys = %q, want %q", got, want)
	}
}

func TestInvalidate_RFC9111_4_4_Serve(t *testing.T) {
	inv := as[InvalidateEntries](t, NewIdleClient(shared(t0)).Next(rq(http.MethodPost, testURL), nil))
	sv := inv.Serve(rsp(201, t0, "Location", "/new", "Connection", "close"))
	check(t, inv, want{state: "InvalidateEntries"})
	if sv.Status != 201 || sv.Body != BodyAll {
		t.Errorf("Serve = %d %d", sv.Status, sv.Body)
	}
	h := sv.Header()
	if joined(h, "Location") != "/new" || joined(h, "Connection") != absent {
		t.Errorf("served header = %v", h)
	}
	if got := sv.CacheStatus.Value("cellar"); got != "cellar; fwd=method; fwd-status=201" {
		t.Errorf("Cache-Status = %q", got)
	}
}
