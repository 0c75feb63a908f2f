package spec

import (
	"net/http"
	"testing"
)

// RFC 9111 §4.1 and RFC 9110 §4.2.3: the primary key is the target URI in
// normal form, so that equivalent URIs share stored responses.
func TestKey_RFC9110_4_2_3_Normalization(t *testing.T) {
	cases := []struct {
		name string
		a, b string
		same bool
	}{
		{"scheme and host are case-insensitive", "HTTP://Example.COM/a", "http://example.com/a", true},
		{"default http port is dropped", "http://example.com:80/a", "http://example.com/a", true},
		{"default https port is dropped", "https://example.com:443/a", "https://example.com/a", true},
		{"empty port is dropped", "http://example.com:/a", "http://example.com/a", true},
		{"empty path is /", "http://example.com", "http://example.com/", true},
		{"unreserved percent-encoding is decoded", "http://example.com/%7Euser/%61", "http://example.com/~user/a", true},
		{"percent-encoding hex case is normalized", "http://example.com/a%2fb", "http://example.com/a%2Fb", true},
		{"fragment is not part of the key", "http://example.com/a#top", "http://example.com/a", true},
		{"query is part of the key", "http://example.com/a?x=1", "http://example.com/a?x=2", false},
		{"query percent-encoding is normalized", "http://example.com/a?q=%7e", "http://example.com/a?q=~", true},
		{"path is case-sensitive", "http://example.com/A", "http://example.com/a", false},
		{"non-default port matters", "http://example.com:8080/a", "http://example.com/a", false},
		{"scheme matters", "https://example.com/a", "http://example.com/a", false},
		{"encoded slash differs from slash", "http://example.com/a%2Fb", "http://example.com/a/b", false},
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
