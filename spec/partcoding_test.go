package spec

import (
	"net/http"
	"testing"
)

// RFC 9111 §3.4 with RFC 9110 §8.4 and §8.8.3: parts combine only when
// their content codings agree. An origin that compresses on the fly and
// keeps the identity content's strong ETag, without Vary, leaves a br part
// (one client's Range with Accept-Encoding: br) beside identity ones: a
// completion or a combining would splice identity bytes into a br body.
func TestPartial_RFC9111_3_4_PartsOfOneCoding(t *testing.T) {
	for _, tc := range []struct {
		a, b []string
		same bool
	}{
		{nil, nil, true},
		{[]string{"br"}, []string{"br"}, true},
		{[]string{"GZIP"}, []string{"x-gzip"}, true},
		{[]string{"identity"}, nil, true},
		{[]string{"gzip, br"}, []string{"gzip", "br"}, true},
		{[]string{"br"}, nil, false},
		{nil, []string{"gzip"}, false},
		{[]string{"gzip, br"}, []string{"br, gzip"}, false},
		{[]string{"gzip"}, []string{"gzip, br"}, false},
	} {
		if got := sameCodings(http.Header{"Content-Encoding": tc.a}, http.Header{"Content-Encoding": tc.b}); got != tc.same {
			t.Errorf("sameCodings(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}

	o := private(at(10))
	tag := []string{"ETag", `"a"`}
	br := append([]string{"Content-Encoding", "br"}, tag...)
	// Combining: a br part and an identity part of the same tag stay apart.
	runLookups(t, []lookupCase{
		{"codings differ: no combining", o, []Pair{part("a", "0-4/10", 0, br...), part("b", "5-9/10", 5, tag...)}, get(),
			want{state: "CacheMiss"}},
		{"same coding combines", o, []Pair{part("a", "0-4/10", 0, br...), part("b", "5-9/10", 5, br...)}, get(),
			want{state: "PartialUpdate"}},
	})
	// Completion: an identity 206 does not complete a br part.
	m := as[CacheMiss](t, NewIdleClient(o).Next(get("Range", "bytes=0-9"), []Pair{part("a", "0-4/10", 0, br...)}))
	r206 := func(kv ...string) Response {
		return rsp(206, at(10), append([]string{"Date", hd(at(10)), "Cache-Control", "max-age=600", "ETag", `"a"`,
			"Content-Range", "bytes 5-9/10", "Content-Length", "5"}, kv...)...)
	}
	if m.Completed(r206()) {
		t.Errorf("an identity 206 completes a br part")
	}
	if !m.Completed(r206("Content-Encoding", "br")) {
		t.Errorf("a br 206 does not complete a br part")
	}
}
