package spec

import (
	"slices"
	"testing"
)

// RFC 9111 §3.2: a 304 updates the stored header, but not the fields the
// stored content depends upon, which §3.2 exemplifies by Content-Encoding.
// A 304 carrying "Content-Encoding: br" (a middleware that sets it for one
// client's Accept-Encoding before the inner handler answers 304) leaves
// the stored identity response unlabelled; a stored br response keeps br
// when the 304 has none or another.
func TestUpdate_RFC9111_3_2_KeepsStoredContentEncoding(t *testing.T) {
	for _, tc := range []struct {
		name         string
		stored, resp []string
		want         []string
	}{
		{"identity stays identity", nil, []string{"br"}, nil},
		{"br stays br", []string{"br"}, nil, []string{"br"}},
		{"br is not relabelled gzip", []string{"br"}, []string{"gzip"}, []string{"br"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kv := []string{"ETag", `"a"`, "Content-Length", "10"}
			for _, c := range tc.stored {
				kv = append(kv, "Content-Encoding", c)
			}
			rv := revalidation(t, shared(now150), get(), old("a", 0, kv...))
			nm := []string{"ETag", `"a"`, "Cache-Control", "max-age=60"}
			for _, c := range tc.resp {
				nm = append(nm, "Content-Encoding", c)
			}
			up := as[NeedToBeUpdated](t, rv.Next(notMod(nm...)))
			if len(up.Updates) != 1 {
				t.Fatalf("%d updates, want 1", len(up.Updates))
			}
			if got := up.Updates[0].Response.Header["Content-Encoding"]; !slices.Equal(got, tc.want) {
				t.Errorf("stored Content-Encoding %q after the 304, want %q", got, tc.want)
			}
			if got := up.Updates[0].Response.Header.Get("Cache-Control"); got != "max-age=60" {
				t.Errorf("Cache-Control %q: the other fields must still be updated", got)
			}
		})
	}
}
