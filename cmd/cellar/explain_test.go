package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testAt is the time the stored example responses were received (their
// Date), so that ages and lifetimes are exact.
const testAt = "Tue, 01 Apr 2025 12:00:00 GMT"

// verdict is what one cache concluded, as Reason codes; "" means absent.
type verdict struct{ store, lifetime, validate, staleNo string }

func explainFile(t *testing.T, file string, args ...string) (*report, string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "explain", file))
	if err != nil {
		t.Fatal(err)
	}
	run1 := func(extra ...string) string {
		var out, errb bytes.Buffer
		argv := append([]string{"explain", "-", "--at", testAt, "--url", "http://example.invalid/"}, args...)
		argv = append(argv, extra...)
		if code := run(context.Background(), argv, bytes.NewReader(data), &out, &errb); code != 0 {
			t.Fatalf("cellar %s: exit %d: %s", strings.Join(argv, " "), code, errb.String())
		}
		return out.String()
	}
	var rep report
	if err := json.Unmarshal([]byte(run1("--json")), &rep); err != nil {
		t.Fatalf("%s: bad JSON: %v", file, err)
	}
	return &rep, run1()
}

func codes(x explained) verdict {
	v := verdict{store: x.Store.Code, lifetime: x.Lifetime.Code}
	if x.MustValidate != nil {
		v.validate = x.MustValidate.Code
	}
	if x.StaleProhibited != nil {
		v.staleNo = x.StaleProhibited.Code
	}
	return v
}

func TestExplainReasons(t *testing.T) {
	nf := "no-explicit-freshness"
	tests := []struct {
		file            string
		args            []string
		shared, private verdict
		storable        [2]bool // shared, private
		text            []string
	}{
		{file: "max-age.http", shared: verdict{"max-age", "max-age", "", ""}, private: verdict{"max-age", "max-age", "", ""}, storable: [2]bool{true, true},
			text: []string{
				"GET http://example.invalid/ → 200 OK",
				"store:       yes — max-age allows storing it (RFC 9111 §3) [max-age]",
				"lifetime:    1h0m0s — max-age gives the freshness lifetime (RFC 9111 §5.2.2.1) [max-age]",
				"Cache-Control: max-age=3600 → 1h0m0s",
				"freshness:   fresh for 1h0m0s more (lifetime − age)",
				`validators:  If-None-Match: "v1"; If-Modified-Since: Mon, 31 Mar 2025 12:00:00 GMT (RFC 9111 §4.3.1)`,
				"origin down: served stale for up to 1h0m0s past its lifetime — when the origin cannot be reached (refused, reset, closed or timed out), it is served stale up to the stale budget past its lifetime; stale-if-error applies to 500, 502, 503 and 504 only (RFC 5861 §4) (RFC 9111 §4.2.4) [stale-budget]",
				"ranges:      Range requests are answered from it: overlapping and adjacent ranges are coalesced, and more than 16 parts get the whole representation (§17.15) (RFC 9110 §14.2) [ranges]",
				"vary:        none",
			}},
		{file: "s-maxage.http", shared: verdict{"s-maxage", "s-maxage", "", "s-maxage"}, private: verdict{"max-age", "max-age", "", ""}, storable: [2]bool{true, true},
			text: []string{"lifetime:    10m0s — s-maxage gives the freshness lifetime in a shared cache (RFC 9111 §5.2.2.10) [s-maxage]", "lifetime:    1m0s — max-age"}},
		{file: "expires.http", shared: verdict{"expires", "expires", "", ""}, private: verdict{"expires", "expires", "", ""}, storable: [2]bool{true, true},
			text: []string{"Expires Tue, 01 Apr 2025 13:00:00 GMT − Date Tue, 01 Apr 2025 12:00:00 GMT = 1h0m0s"}},
		{file: "heuristic.http", shared: verdict{"heuristic", "heuristic", "", ""}, private: verdict{"heuristic", "heuristic", "", ""}, storable: [2]bool{true, true},
			text: []string{"lifetime:    16h48m0s — no explicit expiration: a fraction of the time since Last-Modified (RFC 9111 §4.2.2) [heuristic]", "10% × (Date Tue, 01 Apr 2025 12:00:00 GMT − Last-Modified Tue, 25 Mar 2025 12:00:00 GMT), at most 24h = 16h48m0s"}},
		{file: "no-store.http", shared: verdict{"no-store", "max-age", "", ""}, private: verdict{"no-store", "max-age", "", ""},
			text: []string{"store:       no — the response's no-store forbids storing it (RFC 9111 §5.2.2.5) [no-store]"}},
		{file: "private.http", shared: verdict{"private", nf, "", ""}, private: verdict{"private-cache", nf, "", ""}, storable: [2]bool{false, true}},
		{file: "public.http", shared: verdict{"public", "heuristic", "", ""}, private: verdict{"public", "heuristic", "", ""}, storable: [2]bool{true, true},
			text: []string{"lifetime:    24h0m0s"}},
		{file: "not-cacheable.http", shared: verdict{"not-cacheable", nf, "", ""}, private: verdict{"not-cacheable", nf, "", ""}},
		{file: "no-lifetime.http", shared: verdict{"not-reusable", nf, "", ""}, private: verdict{"not-reusable", nf, "", ""},
			text: []string{"freshness:   stale: no freshness left", "store:       no — no freshness left, no validator"}},
		{file: "set-cookie.http", shared: verdict{"set-cookie", "max-age", "", ""}, private: verdict{"max-age", "max-age", "", ""}, storable: [2]bool{false, true},
			text: []string{"Set-Cookie: (present)"}},
		{file: "vary-star.http", shared: verdict{"vary-star", "max-age", "", ""}, private: verdict{"vary-star", "max-age", "", ""}},
		{file: "not-modified.http", shared: verdict{"not-modified", "max-age", "", ""}, private: verdict{"not-modified", "max-age", "", ""}},
		{file: "must-understand.http", shared: verdict{"must-understand", "max-age", "", ""}, private: verdict{"must-understand", "max-age", "", ""}},
		{file: "partial-unusable.http", shared: verdict{"partial-unusable", "max-age", "", ""}, private: verdict{"partial-unusable", "max-age", "", ""}},
		{file: "partial-length-mismatch.http", shared: verdict{"partial-length-mismatch", "max-age", "", ""}, private: verdict{"partial-length-mismatch", "max-age", "", ""}},
		{file: "partial.http", shared: verdict{"max-age", "max-age", "", ""}, private: verdict{"max-age", "max-age", "", ""}, storable: [2]bool{true, true},
			text: []string{"ranges:      a stored part holding bytes 0-3: ranges within it are served from it", "completed by asking the origin for the rest alone, then combined (§3.4) (RFC 9111 §3.3) [partial]"}},
		{file: "status-not-final.http", shared: verdict{"status-not-final", nf, "", ""}, private: verdict{"status-not-final", nf, "", ""}},
		{file: "no-cache.http", shared: verdict{"heuristic", nf, "no-cache", "no-cache"}, private: verdict{"heuristic", nf, "no-cache", "no-cache"}, storable: [2]bool{true, true},
			text: []string{"validate:    before every use — the response's no-cache requires validation before each use (RFC 9111 §5.2.2.4) [no-cache]", `validators:  If-None-Match: "abc"`}},
		{file: "must-revalidate.http", shared: verdict{"max-age", "max-age", "", "must-revalidate"}, private: verdict{"max-age", "max-age", "", "must-revalidate"}, storable: [2]bool{true, true},
			text: []string{"stale:       never served stale — must-revalidate forbids serving it stale (RFC 9111 §5.2.2.2) [must-revalidate]",
				"origin down: must-revalidate forbids serving it stale: when the origin cannot be reached, the cache answers 504 (RFC 9111 §5.2.2.2) [stale-forbidden]"}},
		{file: "max-age.http", args: []string{"-H", "Cache-Control: min-fresh=10"}, shared: verdict{"max-age", "max-age", "", ""}, private: verdict{"max-age", "max-age", "", ""}, storable: [2]bool{true, true},
			text: []string{"request:     the request's max-age or min-fresh refuses a stale response", "(RFC 9111 §5.2.1.3) [stale-refused]"}},
		{file: "proxy-revalidate.http", shared: verdict{"max-age", "max-age", "", "proxy-revalidate"}, private: verdict{"max-age", "max-age", "", ""}, storable: [2]bool{true, true}},
		{file: "invalid-max-age.http", shared: verdict{"not-reusable", "invalid-max-age", "", ""}, private: verdict{"not-reusable", "invalid-max-age", "", ""}},
		{file: "invalid-s-maxage.http", shared: verdict{"not-reusable", "invalid-s-maxage", "", "s-maxage"}, private: verdict{"not-reusable", nf, "", ""}},
		{file: "invalid-expires.http", shared: verdict{"not-reusable", "invalid-expires", "", ""}, private: verdict{"not-reusable", "invalid-expires", "", ""},
			text: []string{"Expires: 0 (not an HTTP-date) → 0s"}},
		{file: "swr.http", shared: verdict{"max-age", "max-age", "", ""}, private: verdict{"max-age", "max-age", "", ""}, storable: [2]bool{true, true},
			text: []string{"stale:       stale-while-revalidate 30s (RFC 5861 §3), stale-if-error 5m0s (RFC 5861 §4)"}},
		{file: "vary.http", args: []string{"-H", "Accept-Encoding: gzip, br"}, shared: verdict{"max-age", "max-age", "", ""}, private: verdict{"max-age", "max-age", "", ""}, storable: [2]bool{true, true},
			text: []string{"vary:        secondary key Accept-Encoding (gzip, br), Accept-Language (absent) (RFC 9111 §4.1)"}},
		{file: "cdn.http", shared: verdict{"max-age", "max-age", "", ""}, private: verdict{"max-age", "max-age", "", ""}, storable: [2]bool{true, true},
			text: []string{"policy:      CDN-Cache-Control", "CDN-Cache-Control: max-age=600 → 10m0s", "Cache-Control: max-age=10 → 10s"}},
		{file: "targeted.http", args: []string{"--targeted-field", "Cellar-Cache-Control"}, shared: verdict{"max-age", "max-age", "", ""}, private: verdict{"max-age", "max-age", "", ""}, storable: [2]bool{true, true},
			text: []string{"policy:      Cellar-Cache-Control", "Cellar-Cache-Control: max-age=3600, stale-if-error=60 → 1h0m0s"}},
		{file: "age.http", shared: verdict{"max-age", "max-age", "", ""}, private: verdict{"max-age", "max-age", "", ""}, storable: [2]bool{true, true},
			text: []string{
				"age:         1m40s (RFC 9111 §4.2.3)",
				"apparent_age = max(0, response_time − date_value), in whole seconds = 50s",
				"corrected_age_value = age_value 1m40s + response_delay 0s = 1m40s",
				"freshness:   fresh for 8m20s more",
			}},
		{file: "curl-h2.http", shared: verdict{"max-age", "max-age", "", ""}, private: verdict{"max-age", "max-age", "", ""}, storable: [2]bool{true, true},
			text: []string{"→ 200 OK", `If-None-Match: W/"x"`}},
		{file: "max-age.http", args: []string{"-H", "Authorization: Bearer secret"}, shared: verdict{"authorization", "max-age", "", ""}, private: verdict{"max-age", "max-age", "", ""}, storable: [2]bool{false, true},
			text: []string{"Authorization: (present)"}},
		{file: "max-age.http", args: []string{"-H", "Cache-Control: no-store"}, shared: verdict{"request-no-store", "max-age", "", ""}, private: verdict{"request-no-store", "max-age", "", ""}},
		{file: "max-age.http", args: []string{"--method", "POST"}, shared: verdict{"method-not-cacheable", "max-age", "", ""}, private: verdict{"method-not-cacheable", "max-age", "", ""},
			text: []string{"also:        POST invalidates every stored response for http://example.invalid/ (RFC 9111 §4.4) [invalidates]"}},
		{file: "post-content-location.http", args: []string{"--method", "POST", "--url", "https://example.com/doc"}, shared: verdict{"post-content-location", "max-age", "", ""}, private: verdict{"post-content-location", "max-age", "", ""}, storable: [2]bool{true, true},
			text: []string{"store:       yes — the POST response has explicit freshness and a Content-Location equal to its target URI, so it is stored to answer a later GET (RFC 9110 §9.3.3) [post-content-location]"}},
		{file: "not-modified-no-validator.http", shared: verdict{"not-modified", "max-age", "", ""}, private: verdict{"not-modified", "max-age", "", ""},
			text: []string{"[304-no-validator]"}},
		{file: "not-modified.http", shared: verdict{"not-modified", "max-age", "", ""}, private: verdict{"not-modified", "max-age", "", ""},
			text: []string{"[304-strong-etag]"}},
		{file: "vary.http", args: []string{"--method", "HEAD"}, shared: verdict{"head-response", "max-age", "", ""}, private: verdict{"head-response", "max-age", "", ""},
			text: []string{"[head-freshens-nothing]", "Accept-Encoding compared as a set (any order); Accept-Language ranked by weight", "[vary-normalized]", "[ims-date]"}},
		{file: "max-age.http", args: []string{"--method", "HEAD", "--url", "https://example.com/h"}, shared: verdict{"head-response", "max-age", "", ""}, private: verdict{"head-response", "max-age", "", ""},
			text: []string{"[head-compares]", "[ims-last-modified]"}},
		{file: "max-age.http", args: []string{"--method", "HEAD", "--url", "https://example.com/a"}, shared: verdict{"head-response", "max-age", "", ""}, private: verdict{"head-response", "max-age", "", ""},
			text: []string{"HEAD https://example.com/a → 200 OK"}},
		// Issue 12 items 1 and 5: a body the key ignores, and Cookie with
		// only heuristic freshness in a shared cache.
		{file: "max-age.http", args: []string{"--with-body"}, shared: verdict{"request-content", "max-age", "", ""}, private: verdict{"request-content", "max-age", "", ""},
			text: []string{"store:       no — the request has content that is not part of the cache key"}},
		{file: "heuristic.http", args: []string{"-H", "Cookie: session=x"}, shared: verdict{"cookie-heuristic", "heuristic", "", ""}, private: verdict{"heuristic", "heuristic", "", ""}, storable: [2]bool{false, true},
			text: []string{"[cookie-heuristic]"}},
		{file: "max-age.http", args: []string{"-H", "Cookie: session=x"}, shared: verdict{"max-age", "max-age", "", ""}, private: verdict{"max-age", "max-age", "", ""}, storable: [2]bool{true, true}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		name := strings.TrimSuffix(tt.file, ".http") + strings.Join(tt.args, "_")
		t.Run(name, func(t *testing.T) {
			rep, text := explainFile(t, tt.file, tt.args...)
			if got := codes(rep.Shared); got != tt.shared {
				t.Errorf("shared: got %+v, want %+v", got, tt.shared)
			}
			if got := codes(rep.Private); got != tt.private {
				t.Errorf("private: got %+v, want %+v", got, tt.private)
			}
			if got := [2]bool{rep.Shared.Storable, rep.Private.Storable}; got != tt.storable {
				t.Errorf("storable (shared, private): got %v, want %v", got, tt.storable)
			}
			for _, want := range tt.text {
				if !strings.Contains(text, want) {
					t.Errorf("text output lacks %q:\n%s", want, text)
				}
			}
			for _, x := range []explained{rep.Shared, rep.Private} {
				for _, r := range []*reasonJSON{&x.Store, &x.Lifetime, x.MustValidate, x.StaleProhibited} {
					if r == nil {
						continue
					}
					seen[r.Code] = true
					if r.Section == "" || r.Text == "" {
						t.Errorf("reason %q has no text or section", r.Code)
					}
					if !strings.Contains(text, "["+r.Code+"]") {
						t.Errorf("text output lacks reason code [%s]", r.Code)
					}
				}
			}
		})
	}
	// Every Reason code spec.Explain can give is exercised by an example.
	all := []string{
		"method-not-cacheable", "head-response", "status-not-final", "not-modified", "must-understand",
		"request-no-store", "no-store", "private", "authorization", "set-cookie", "vary-star",
		"partial-unusable", "partial-length-mismatch", "s-maxage", "max-age", "expires", "public", "private-cache", "heuristic",
		"not-cacheable", "invalid-s-maxage", "invalid-max-age", "invalid-expires", "no-explicit-freshness",
		"no-cache", "must-revalidate", "proxy-revalidate", "request-content", "cookie-heuristic",
		"post-content-location", "not-reusable",
	}
	var missing []string
	for _, c := range all {
		if !seen[c] {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		t.Errorf("reason codes no example covers: %v", missing)
	}
}

func TestExplainFetch(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		w.Header().Set("Location", "/elsewhere")
		if r.Header.Get("Accept-Encoding") != "" {
			w.Header().Set("X-Saw-Accept-Encoding", "yes")
		}
		w.WriteHeader(http.StatusMovedPermanently)
	}))
	defer origin.Close()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"explain", origin.URL + "/old", "-H", "Accept-Language: fr", "--json"}, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var rep report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	// The redirect itself is explained, not followed, and the transport
	// did not add Accept-Encoding behind our back.
	if rep.Status != http.StatusMovedPermanently || rep.Header.Get("X-Saw-Accept-Encoding") != "" {
		t.Errorf("status %d, header %v", rep.Status, rep.Header)
	}
	if !rep.Shared.Storable || rep.Shared.LifetimeSeconds != 60 || !slices.Equal(rep.Shared.Vary, []string{"Accept-Language"}) {
		t.Errorf("shared: %+v", rep.Shared)
	}
}

func TestExplainUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"explain"}, "want exactly one URL"},
		{[]string{"explain", "a", "b"}, "want exactly one URL"},
		{[]string{"explain", "ftp://x/"}, "not an http(s) URL"},
		{[]string{"explain", "-", "--at", "yesterday"}, "--at \"yesterday\""},
		{[]string{"explain", "http://x/", "--at", testAt}, "apply only to a response read from stdin"},
		{[]string{"explain", "-", "-H", "nocolon"}, "-H \"nocolon\""},
		{[]string{"explain", "-", "--method", "GE T"}, "--method"},
		{[]string{"explain", "-", "--bogus"}, "flag provided but not defined: -bogus"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), tt.args, strings.NewReader(""), &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %q", tt.args, code, errb.String(), tt.want)
		}
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"explain", "-"}, strings.NewReader("not http"), &out, &errb); code != 1 || !strings.Contains(errb.String(), "no HTTP response header") {
		t.Errorf("garbage on stdin: exit %d, %q", code, errb.String())
	}
}
