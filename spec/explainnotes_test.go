package spec

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// Explain and ExplainNotes tell each decision of issue 10 with its
// section: §4.4, §4.3.4 (and RFC 9110 §8.8.2.2), §4.3.5, §4.1, §4.3.2,
// RFC 9110 §5.6.7 and §9.3.3.
func TestExplain_RFC9111_Notes(t *testing.T) {
	o := shared(t0)
	opted := o
	opted.CacheableMethods = []string{"GET", "HEAD", "POST"}
	cases := []struct {
		name  string
		opts  Options
		req   Request
		resp  Response
		codes []string
	}{
		{"unsafe method", o, rq(http.MethodPut, testURL), rsp(204, t0), []string{"invalidates"}},
		{"unsafe method, error", o, rq(http.MethodDelete, testURL), rsp(404, t0), []string{"no-invalidation"}},
		{"304 strong ETag", o, get(), rsp(304, t0, "ETag", `"a"`), []string{"304-strong-etag"}},
		{"304 weak ETag", o, get(), rsp(304, t0, "ETag", `W/"a"`), []string{"304-weak-etag"}},
		{"304 Last-Modified without Date", o, get(), rsp(304, t0, "Last-Modified", hd(at(-60))), []string{"304-strong-last-modified"}},
		{"304 Last-Modified at its Date", o, get(), rsp(304, t0, "Date", hd(t0), "Last-Modified", hd(t0)), []string{"304-weak-last-modified"}},
		{"304 without validator", o, get(), rsp(304, t0), []string{"304-no-validator"}},
		{"HEAD 200 with ETag", o, rq(http.MethodHead, testURL), ok200("ETag", `"a"`, "Last-Modified", hd(at(-60))),
			[]string{"head-compares", "ims-last-modified"}},
		{"HEAD 200 without validators", o, rq(http.MethodHead, testURL), ok200(), []string{"head-freshens-nothing", "ims-date"}},
		{"Vary normalized", o, get(), ok200("Vary", "Accept-Encoding, Accept-Language, Cookie"), []string{"vary-normalized", "ims-date"}},
		{"Vary invalid", o, get(), ok200("Vary", "Accept Encoding"), []string{"vary-invalid", "ims-date"}},
		{"no Date", o, get(), rsp(200, t0), []string{"ims-received"}},
		{"lenient dates", o, get(), ok200("Expires", "Fri, 01 Mar 2024 13:00:00 gmt", "Last-Modified", "1 Mar 2024 11:00 GMT"),
			[]string{"ims-last-modified", "lenient-date", "lenient-date"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, r := range ExplainNotes(tc.req, tc.resp, tc.opts) {
				got = append(got, string(r.Code))
				if r.Section == "" || r.Text == "" {
					t.Errorf("note %q without section or text", r.Code)
				}
			}
			if !slices.Equal(got, tc.codes) {
				t.Errorf("notes = %q, want %q", got, tc.codes)
			}
		})
	}
	// With an opted-in method, invalidation says it reaches its keys.
	n := ExplainNotes(rq(http.MethodPut, testURL), rsp(204, t0), opted)
	if len(n) != 1 || n[0].Code != "invalidates" || !strings.Contains(n[0].Text, "body-hashed") {
		t.Errorf("notes = %v", n)
	}

	// RFC 9110 §9.3.3: Explain says a POST response is kept for GET.
	e := Explain(rq(http.MethodPost, testURL), ok200("Cache-Control", "max-age=60", "Content-Location", testURL), o)
	if !e.Storable || e.Store.Code != "post-content-location" {
		t.Errorf("POST with Content-Location: storable %v, %s", e.Storable, e.Store)
	}
	e = Explain(rq(http.MethodPost, testURL), ok200("Cache-Control", "max-age=60"), o)
	if e.Storable || e.Store.Code != "method-not-cacheable" {
		t.Errorf("POST without Content-Location: storable %v, %s", e.Storable, e.Store)
	}
}
