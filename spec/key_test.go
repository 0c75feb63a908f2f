package spec

import (
	"net/http"
	"net/url"
	"testing"
)

// RFC 9110 §4.2.3 lets a cache compare keys "as a simple string", and
// RFC 9110 §7.7 forbids a proxy to rewrite the path and query it forwards:
// the primary key is the target as forwarded (issue 12 item 2), so that
// spellings an origin may tell apart never share stored responses. Only
// what never reaches the next hop differently is normalised.
func TestKey_RFC9110_4_2_3_KeyIsTheForwardedTarget(t *testing.T) {
	cases := []struct {
		name string
		a, b string
		same bool
	}{
		{"scheme is case-insensitive and not sent", "HTTP://example.com/a", "http://example.com/a", true},
		{"empty path is / on the wire (RFC 9112 §3.2.1)", "http://example.com", "http://example.com/", true},
		{"fragment is never sent", "http://example.com/a#top", "http://example.com/a", true},
		{"host case is kept: Host is forwarded as sent", "http://Example.COM/a", "http://example.com/a", false},
		{"default http port is kept", "http://example.com:80/a", "http://example.com/a", false},
		{"default https port is kept", "https://example.com:443/a", "https://example.com/a", false},
		{"empty port is kept", "http://example.com:/a", "http://example.com/a", false},
		{"unreserved percent-encoding is kept", "http://example.com/stric%74/page", "http://example.com/strict/page", false},
		{"tilde encoded and not", "http://example.com/%7Euser", "http://example.com/~user", false},
		{"percent-encoding hex case is kept", "http://example.com/a%2fb", "http://example.com/a%2Fb", false},
		{"encoded slash differs from slash", "http://example.com/a%2Fb", "http://example.com/a/b", false},
		{"empty query differs from none", "http://example.com/a?", "http://example.com/a", false},
		{"dot segments are kept", "http://example.com/a/../b", "http://example.com/b", false},
		{"encoded dot segments are kept", "http://example.com/a/%2E%2E/b", "http://example.com/a/../b", false},
		{"query percent-encoding is kept", "http://example.com/a?q=%7e", "http://example.com/a?q=~", false},
		{"query is part of the key", "http://example.com/a?x=1", "http://example.com/a?x=2", false},
		{"path is case-sensitive", "http://example.com/A", "http://example.com/a", false},
		{"non-default port matters", "http://example.com:8080/a", "http://example.com/a", false},
		{"scheme matters", "https://example.com/a", "http://example.com/a", false},
		{"same spelling, same key", "http://example.com/stric%74/page?", "http://example.com/stric%74/page?", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ka := Key(rq(http.MethodGet, tc.a))
			kb := Key(rq(http.MethodGet, tc.b))
			if (ka == kb) != tc.same {
				t.Errorf("Key(%q) = %q, Key(%q) = %q; same = %v, want %v", tc.a, ka, tc.b, kb, ka == kb, tc.same)
			}
		})
	}
}

// The one function: the key ends with exactly the request target net/http
// writes on the request line for the URL (url.URL.RequestURI), whatever
// the URL's spelling.
func TestKey_RFC9112_3_2_KeyEndsWithRequestLineTarget(t *testing.T) {
	for _, raw := range []string{
		"http://h/stric%74/page", "http://h/a%2fb?x=%7e", "http://h/a?", "http://h/a/./b/../c",
		"http://h", "http://h/a%20b", "http://h/{x}%74", "http://H:80/p;q=1",
	} {
		u := mustURL(raw)
		k := Key(Request{Method: http.MethodGet, URL: u})
		if want := "http://" + u.Host + u.RequestURI(); k != want {
			t.Errorf("Key(%q) = %q, want %q", raw, k, want)
		}
	}
}

// RFC 9110 §4.2.3: NormalizeURI is the normal form, which unsafe requests
// invalidate besides the key as sent.
func TestNormalizeURI_RFC9110_4_2_3(t *testing.T) {
	for in, want := range map[string]string{
		"HTTP://Example.COM:80/%7Euser/%61": "http://example.com/~user/a",
		"https://example.com:443/a%2fb":     "https://example.com/a%2Fb",
		"http://example.com:/stric%74/page": "http://example.com/strict/page",
		"http://example.com/a?q=%7e#f":      "http://example.com/a?q=~",
	} {
		if got := NormalizeURI(mustURL(in)); got != want {
			t.Errorf("NormalizeURI(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestKey_RFC9111_4_1_Method(t *testing.T) {
	get := Key(rq(http.MethodGet, testURL))
	if head := Key(rq(http.MethodHead, testURL)); head != get {
		t.Errorf("HEAD key %q != GET key %q: a stored GET answers HEAD (RFC 9110 §9.3.2)", head, get)
	}
	if post := Key(rq(http.MethodPost, testURL)); post == get {
		t.Errorf("POST key %q equals GET key: responses to other methods must not answer GET", post)
	}
	if got := NormalizeURI(nil); got != "" {
		t.Errorf("NormalizeURI(nil) = %q, want empty", got)
	}
	if got, want := NormalizeURI(mustURL("HTTP://Example.com:80")), "http://example.com/"; got != want {
		t.Errorf("NormalizeURI = %q, want %q", got, want)
	}
}

// RFC 9111 §4.1: the secondary key (StoreAndUse.Variant) depends only on
// the normalized values of the fields Vary nominates, so that storing an
// equivalent variant replaces the stored one.
func TestKey_RFC9111_4_1_VariantKey(t *testing.T) {
	o := private(t0)
	variant := func(req Request, vary ...string) string {
		t.Helper()
		kv := []string{"Cache-Control", "max-age=60"}
		for _, v := range vary {
			kv = append(kv, "Vary", v)
		}
		return as[StoreAndUse](t, missFor(t, o, req).Next(ok200(kv...))).Variant
	}
	base := variant(get("Accept-Encoding", "gzip, br"), "Accept-Encoding")
	cases := []struct {
		name string
		got  string
		same bool
	}{
		{"case of a case-insensitive field", variant(get("Accept-Encoding", "GZIP,BR"), "Accept-Encoding"), true},
		{"whitespace around commas", variant(get("Accept-Encoding", " gzip ,  br "), "Accept-Encoding"), true},
		{"several field lines", variant(get("Accept-Encoding", "gzip", "Accept-Encoding", "br"), "Accept-Encoding"), true},
		{"case of the Vary field name", variant(get("Accept-Encoding", "gzip, br"), "accept-encoding"), true},
		{"other values", variant(get("Accept-Encoding", "br"), "Accept-Encoding"), false},
		{"field absent", variant(get(), "Accept-Encoding"), false},
		{"no Vary", variant(get("Accept-Encoding", "gzip, br")), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.got == base) != tc.same {
				t.Errorf("variant %q vs %q: same = %v, want %v", tc.got, base, tc.got == base, tc.same)
			}
		})
	}
	// Fields that are not lists compare their lines byte for byte, so a
	// comma in User-Agent is not a separator.
	ua := variant(get("User-Agent", "x (a, b)"), "User-Agent")
	if ua == variant(get("User-Agent", "x (a,b)"), "User-Agent") {
		t.Errorf("User-Agent values differing inside a comment share a variant")
	}
	if ua != variant(get("User-Agent", " x (a, b) "), "User-Agent") {
		t.Errorf("surrounding whitespace separates User-Agent variants")
	}
	if v := variant(get()); v != "" {
		t.Errorf("variant without Vary = %q, want empty", v)
	}
}

// FuzzKeyIsRequestTarget: for any request target a server parses, the key
// ends with the target net/http forwards for it (issue 12 item 2).
func FuzzKeyIsRequestTarget(f *testing.F) {
	for _, s := range []string{"/stric%74/page", "/a%2fb?", "/a/../b?q=%7e", "*", "/{x}%74", "//h/p"} {
		f.Add("Example.com:80", s)
	}
	f.Fuzz(func(t *testing.T, host, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		u.Scheme, u.Host = "http", host
		if got, want := Key(Request{Method: http.MethodGet, URL: u}), "http://"+host+u.RequestURI(); got != want {
			t.Fatalf("Key = %q, want %q", got, want)
		}
	})
}
