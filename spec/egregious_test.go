package spec

import (
	"strings"
	"testing"
)

// RFC 9110 §14.2 and §17.15: overlapping and adjacent ranges are coalesced,
// a Range of too many parts is answered with the whole representation, and
// no answer is larger than the representation plus its part headers (100
// "0-" ranges on 1 MB made a 100 MB answer).
func TestRange_RFC9110_17_15_EgregiousRanges(t *testing.T) {
	const size = 1 << 20
	stored := storedGET("p", ok200("Cache-Control", "max-age=600", "ETag", `"a"`, "Content-Length", itoa(size), "Content-Type", "text/plain"))
	many := func(spec string, n int) string {
		return "bytes=" + strings.TrimSuffix(strings.Repeat(spec+",", n), ",")
	}
	disjoint := func(n int) string {
		var b strings.Builder
		b.WriteString("bytes=")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(itoa(i*100) + "-" + itoa(i*100+9))
		}
		return b.String()
	}
	cases := []struct {
		name  string
		rng   string
		want  want
		parts int
	}{
		{"100 times 0- is one range", many("0-", 100), want{status: 206, body: plan(BodyRanges),
			header: map[string]string{"Content-Range": "bytes 0-1048575/1048576", "Content-Length": itoa(size)}}, 0},
		{"overlapping ranges merge", "bytes=100-199, 150-299, 0-9", want{status: 206}, 2},
		{"adjacent ranges merge", "bytes=0-9, 10-19, 20-29", want{status: 206,
			header: map[string]string{"Content-Range": "bytes 0-29/1048576", "Content-Length": "30"}}, 0},
		{"suffix overlapping the start", "bytes=-1048576, 0-0", want{status: 206,
			header: map[string]string{"Content-Range": "bytes 0-1048575/1048576"}}, 0},
		{"16 disjoint parts are served", disjoint(16), want{status: 206}, 16},
		{"17 disjoint parts: the whole representation", disjoint(17), want{status: 200, body: plan(BodyAll),
			header: map[string]string{"Content-Length": itoa(size), "Content-Range": absent}}, 0},
		{"disjoint parts keep the order asked", "bytes=500-509, 0-9", want{status: 206}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fc := as[FromCache](t, NewIdleClient(private(at(10))).Next(get("Range", tc.rng), []Pair{stored}))
			check(t, fc, tc.want)
			parts, _ := fc.Serve.Parts()
			if len(parts) != tc.parts {
				t.Fatalf("%d parts, want %d", len(parts), tc.parts)
			}
			var content, framing int64
			for _, p := range parts {
				content += p.Range.Length
				framing += int64(len(p.Header))
			}
			if content > size {
				t.Errorf("parts hold %d bytes of a %d-byte representation", content, size)
			}
			if n := fc.Serve.ContentLength(size); n > size+framing+100 {
				t.Errorf("answer of %d bytes for a %d-byte representation", n, size)
			}
			if tc.name == "disjoint parts keep the order asked" && parts[0].Range.Start != 500 {
				t.Errorf("first part starts at %d, want 500 (RFC 9110 §14.6: the order asked)", parts[0].Range.Start)
			}
		})
	}
}
