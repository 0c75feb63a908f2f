package spec

import (
	"net/http"
	"slices"
	"strings"
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

// RFC 9111 §4.4: every stored response for an invalidated URI goes, those
// stored for opted-in methods and under body-hashed keys included: their
// keys start with the prefix Prefixes names, and no other URI's do.
func TestInvalidate_RFC9111_4_4_OtherMethodsAndBodyKeys(t *testing.T) {
	target := Key(get())
	post := Key(rq(http.MethodPost, testURL))
	bodyKeyed := post + " body-sha256=abc" // as the engine extends it
	other := Key(rq(http.MethodPost, testURL+"2"))
	elsewhere := Key(rq(http.MethodPost, "http://example.com/new"))
	resp := rsp(201, t0, "Location", "/new")

	inv := as[InvalidateEntries](t, NewIdleClient(private(t0)).Next(rq(http.MethodPut, testURL), nil))
	if got := inv.Prefixes(resp); got != nil {
		t.Errorf("Prefixes = %q with only GET and HEAD cached; want none (no scan)", got)
	}

	o := Options{Clock: fixed(t0), CacheableMethods: []string{"GET", "HEAD", "POST"}}
	inv = as[InvalidateEntries](t, NewIdleClient(o).Next(rq(http.MethodPut, testURL), nil))
	prefixes := inv.Prefixes(resp)
	if want := []string{target + " ", "http://example.com/new "}; !slices.Equal(prefixes, want) {
		t.Fatalf("Prefixes = %q, want %q", prefixes, want)
	}
	covered := func(k string) bool {
		for _, p := range prefixes {
			if strings.HasPrefix(k, p) {
				return true
			}
		}
		return slices.Contains(inv.Keys(resp), k)
	}
	for k, want := range map[string]bool{target: true, post: true, bodyKeyed: true, elsewhere: true, other: false} {
		if covered(k) != want {
			t.Errorf("key %q invalidated = %v, want %v", k, !want, want)
		}
	}
	if got := inv.Prefixes(rsp(404, t0)); len(got) != 0 {
		t.Errorf("an error response invalidates %q", got)
	}
}

// RFC 9110 §9.3.3 and RFC 9111 §4: a POST response with explicit freshness
// and a Content-Location equal to the target URI is stored, after the
// invalidation, to answer a later GET of that URI.
func TestInvalidate_RFC9110_9_3_3_PostResponseReusedForGET(t *testing.T) {
	cases := []struct {
		name   string
		opts   Options
		req    Request
		resp   Response
		stored bool
	}{
		{"max-age and Content-Location = target", private(t0), rq(http.MethodPost, testURL),
			ok200("Cache-Control", "max-age=60", "Content-Location", testURL), true},
		{"relative Content-Location", private(t0), rq(http.MethodPost, testURL),
			ok200("Cache-Control", "max-age=60", "Content-Location", "/r"), true},
		{"Content-Location in another normal form", private(t0), rq(http.MethodPost, testURL),
			ok200("Cache-Control", "max-age=60", "Content-Location", "HTTP://EXAMPLE.com:80/%72"), true},
		{"Expires", private(t0), rq(http.MethodPost, testURL),
			ok200("Expires", hd(at(60)), "Content-Location", testURL), true},
		{"s-maxage in a shared cache", shared(t0), rq(http.MethodPost, testURL),
			ok200("Cache-Control", "s-maxage=60", "Content-Location", testURL), true},
		{"no Content-Location", private(t0), rq(http.MethodPost, testURL), ok200("Cache-Control", "max-age=60"), false},
		{"Content-Location elsewhere", private(t0), rq(http.MethodPost, testURL),
			ok200("Cache-Control", "max-age=60", "Content-Location", "/other"), false},
		{"no explicit freshness (heuristic)", private(t0), rq(http.MethodPost, testURL),
			ok200("Last-Modified", hd(at(-3600)), "Content-Location", testURL), false},
		{"public only", private(t0), rq(http.MethodPost, testURL),
			ok200("Cache-Control", "public", "Content-Location", testURL), false},
		{"no-store", private(t0), rq(http.MethodPost, testURL),
			ok200("Cache-Control", "max-age=60, no-store", "Content-Location", testURL), false},
		{"201", private(t0), rq(http.MethodPost, testURL),
			rsp(201, t0, "Date", hd(t0), "Cache-Control", "max-age=60", "Content-Location", testURL), false},
		{"PUT is not POST", private(t0), rq(http.MethodPut, testURL),
			ok200("Cache-Control", "max-age=60", "Content-Location", testURL), false},
		{"Authorization in a shared cache", shared(t0), rq(http.MethodPost, testURL, "Authorization", "x"),
			ok200("Cache-Control", "max-age=60", "Content-Location", testURL), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inv := as[InvalidateEntries](t, NewIdleClient(tc.opts).Next(tc.req, nil))
			sa, ok := inv.Store(tc.resp)
			if ok != tc.stored {
				t.Fatalf("stored = %v, want %v (%s)", ok, tc.stored, sa.Reason)
			}
			if !ok {
				return
			}
			check(t, sa, want{code: "post-content-location", status: 200})
			if sa.Key != Key(get()) || sa.Pair.Request.Method != http.MethodGet {
				t.Errorf("stored under %q for %s, want the GET key", sa.Key, sa.Pair.Request.Method)
			}
			if !strings.Contains(sa.Serve.CacheStatus.Value("c"), "stored") {
				t.Errorf("Cache-Status = %q", sa.Serve.CacheStatus.Value("c"))
			}
			// A later GET (and HEAD) of the target is answered from it.
			sa.Pair.ID = "post"
			check(t, NewIdleClient(tc.opts).Next(get(), []Pair{sa.Pair}), want{state: "FromCache", code: "fresh", id: "post"})
			check(t, NewIdleClient(tc.opts).Next(rq(http.MethodHead, testURL), []Pair{sa.Pair}), want{state: "FromCache", id: "post"})
		})
	}
}
