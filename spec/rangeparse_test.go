package spec

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestRange_RFC9110_14_1_2_Parse(t *testing.T) {
	type br = ByteRange
	cases := []struct {
		name string
		v    string
		size int64
		want []ByteRange
		out  rangeOutcome
	}{
		// §14.1.2 examples, for a 10000-byte representation.
		{"first 500", "bytes=0-499", 10000, []br{{0, 500}}, rangeSatisfiable},
		{"second 500", "bytes=500-999", 10000, []br{{500, 500}}, rangeSatisfiable},
		{"final 500 (suffix)", "bytes=-500", 10000, []br{{9500, 500}}, rangeSatisfiable},
		{"final 500 (open)", "bytes=9500-", 10000, []br{{9500, 500}}, rangeSatisfiable},
		{"first and last byte", "bytes=0-0,-1", 10000, []br{{0, 1}, {9999, 1}}, rangeSatisfiable},
		{"overlapping kept in order", "bytes=500-600,601-999", 10000, []br{{500, 101}, {601, 399}}, rangeSatisfiable},
		{"unordered kept", "bytes=500-700, 0-10", 10000, []br{{500, 201}, {0, 11}}, rangeSatisfiable},

		{"last-pos clamped", "bytes=5-100", 10, []br{{5, 5}}, rangeSatisfiable},
		{"suffix longer than size", "bytes=-100", 10, []br{{0, 10}}, rangeSatisfiable},
		{"huge last-pos clamped", "bytes=0-99999999999999999999999", 10, []br{{0, 10}}, rangeSatisfiable},
		{"huge suffix", "bytes=-99999999999999999999999", 10, []br{{0, 10}}, rangeSatisfiable},
		{"unit case-insensitive (§14.1)", "Bytes=0-1", 10, []br{{0, 2}}, rangeSatisfiable},
		{"OWS in list", " bytes=0-1 ,\t, 3-4 ,", 10, []br{{0, 2}, {3, 2}}, rangeSatisfiable},
		{"leading empty member", "bytes=,0-1", 10, []br{{0, 2}}, rangeSatisfiable},
		{"unsatisfiable members dropped", "bytes=20-30, 2-3, -0", 10, []br{{2, 2}}, rangeSatisfiable},
		{"last byte exactly", "bytes=9-9", 10, []br{{9, 1}}, rangeSatisfiable},

		{"first-pos at size", "bytes=10-", 10, nil, rangeUnsatisfiable},
		{"first-pos beyond size", "bytes=10-20", 10, nil, rangeUnsatisfiable},
		{"huge first-pos", "bytes=99999999999999999999999-", 10, nil, rangeUnsatisfiable},
		{"zero suffix", "bytes=-0", 10, nil, rangeUnsatisfiable},
		{"empty representation, int-range", "bytes=0-0", 0, nil, rangeUnsatisfiable},
		{"empty representation, suffix ignored", "bytes=-5", 0, nil, rangeIgnored},

		{"empty", "", 10, nil, rangeIgnored},
		{"no =", "bytes", 10, nil, rangeIgnored},
		{"other unit (§14.2)", "items=0-1", 10, nil, rangeIgnored},
		{"empty set", "bytes=", 10, nil, rangeIgnored},
		{"only commas", "bytes= , ,", 10, nil, rangeIgnored},
		{"last < first is invalid (§14.1.1)", "bytes=5-4", 10, nil, rangeIgnored},
		{"one invalid spoils the set", "bytes=0-1, 5-4", 10, nil, rangeIgnored},
		{"no dash", "bytes=5", 10, nil, rangeIgnored},
		{"lone dash", "bytes=-", 10, nil, rangeIgnored},
		{"two dashes", "bytes=1-2-3", 10, nil, rangeIgnored},
		{"negative suffix", "bytes=--5", 10, nil, rangeIgnored},
		{"sign", "bytes=+1-2", 10, nil, rangeIgnored},
		{"inner space", "bytes=1 -2", 10, nil, rangeIgnored},
		{"space before =", "bytes =0-1", 10, nil, rangeIgnored},
		{"hex", "bytes=0x1-2", 10, nil, rangeIgnored},
		{"negative size", "bytes=0-1", -1, nil, rangeIgnored},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, out := parseRange(tc.v, tc.size)
			if out != tc.out || fmt.Sprint(got) != fmt.Sprint(tc.want) || (tc.want == nil) != (got == nil) {
				t.Errorf("parseRange(%q, %d) = %v, %v; want %v, %v", tc.v, tc.size, got, out, tc.want, tc.out)
			}
		})
	}
}

func TestRange_RFC9110_14_2_TooManyRanges(t *testing.T) {
	specs := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf("%d-%d", i, i)
		}
		return "bytes=" + strings.Join(parts, ",")
	}
	if got, out := parseRange(specs(100), 1000); out != rangeSatisfiable || len(got) != 100 {
		t.Errorf("100 ranges: %d ranges, %v", len(got), out)
	}
	if got, out := parseRange(specs(101), 1000); out != rangeIgnored || got != nil {
		t.Errorf("101 ranges: %v, %v; want ignored", got, out)
	}
	// Empty members do not count.
	if _, out := parseRange("bytes=0-0"+strings.Repeat(",", 500), 10); out != rangeSatisfiable {
		t.Errorf("empty members counted: %v", out)
	}
}

func TestContentRange_RFC9110_14_4(t *testing.T) {
	cases := []struct {
		v                     string
		first, last, complete int64
		ok                    bool
	}{
		{"bytes 42-1233/1234", 42, 1233, 1234, true},
		{"bytes 42-1233/*", 42, 1233, -1, true},
		{"bytes 0-0/1", 0, 0, 1, true},
		{"bytes */1234", -1, -1, 1234, true},
		{"bytes */0", -1, -1, 0, true},
		{"BYTES 1-2/3", 1, 2, 3, true},
		{" bytes  1-2/3 ", 1, 2, 3, true},
		{"bytes 9223372036854775806-9223372036854775806/9223372036854775807", 9223372036854775806, 9223372036854775806, math.MaxInt64, true},

		{"", 0, 0, 0, false},
		{"bytes", 0, 0, 0, false},
		{"bytes ", 0, 0, 0, false},
		{"bytes=0-1/2", 0, 0, 0, false},
		{"items 0-1/2", 0, 0, 0, false},
		{"bytes 5-4/10", 0, 0, 0, false},                   // last < first
		{"bytes 0-9/9", 0, 0, 0, false},                    // complete ≤ last
		{"bytes 0-9/10x", 0, 0, 0, false},                  // junk
		{"bytes */*", 0, 0, 0, false},                      // unsatisfied-range needs a length
		{"bytes 0-/10", 0, 0, 0, false},                    // last-pos required
		{"bytes -5/10", 0, 0, 0, false},                    // no suffix form
		{"bytes 0-1", 0, 0, 0, false},                      // no complete-length
		{"bytes 0 -1/2", 0, 0, 0, false},                   // inner space
		{"bytes\t0-1/2", 0, 0, 0, false},                   // SP required
		{"bytes 0-1/-2", 0, 0, 0, false},                   // negative
		{"bytes 0-99999999999999999999/*", 0, 0, 0, false}, // overflow
	}
	for _, tc := range cases {
		f, l, c, ok := parseContentRange(tc.v)
		if f != tc.first || l != tc.last || c != tc.complete || ok != tc.ok {
			t.Errorf("parseContentRange(%q) = %d, %d, %d, %v; want %d, %d, %d, %v",
				tc.v, f, l, c, ok, tc.first, tc.last, tc.complete, tc.ok)
		}
	}
}

func TestRange_Allocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _, _ = parseRange("bytes=0-499, -500", 10000) }); n != 1 {
		t.Errorf("parseRange satisfiable: %v allocs, want 1 (the result)", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = parseRange("bytes=20000-", 10000) }); n != 0 {
		t.Errorf("parseRange unsatisfiable: %v allocs, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _, _, _ = parseContentRange("bytes 0-499/1234") }); n != 0 {
		t.Errorf("parseContentRange: %v allocs, want 0", n)
	}
}

var benchRangesSink []ByteRange

func BenchmarkParseRange(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		benchRangesSink, _ = parseRange("bytes=0-1023", 1<<20)
	}
}

func BenchmarkParseContentRange(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		benchInt64Sink, _, _, _ = parseContentRange("bytes 0-1023/1048576")
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-499", "bytes=-500", "bytes=9500-", "bytes=0-0,-1", "bytes=5-4", "items=1-2",
		"bytes=,,", "bytes=99999999999999999999-", "bytes=-0"} {
		f.Add(s, int64(10000))
	}
	f.Add("bytes=-1", int64(0))
	f.Fuzz(func(t *testing.T, v string, size int64) {
		got, out := parseRange(v, size)
		switch out {
		case rangeSatisfiable:
			if len(got) == 0 || len(got) > rangeMaxSpecs || size <= 0 {
				t.Fatalf("parseRange(%q, %d): %d ranges", v, size, len(got))
			}
			for _, r := range got {
				if r.Start < 0 || r.Length <= 0 || r.Start+r.Length > size || r.Start+r.Length < r.Start {
					t.Fatalf("parseRange(%q, %d): bad range %+v", v, size, r)
				}
			}
		case rangeUnsatisfiable, rangeIgnored:
			if got != nil {
				t.Fatalf("parseRange(%q, %d) = %v, %v", v, size, got, out)
			}
		default:
			t.Fatalf("outcome %v", out)
		}
		// Content-Range must not panic and must be consistent.
		if f, l, c, ok := parseContentRange(v); ok {
			if f == -1 {
				if l != -1 || c < 0 {
					t.Fatalf("parseContentRange(%q) = %d, %d, %d", v, f, l, c)
				}
			} else if f < 0 || l < f || c != -1 && c <= l {
				t.Fatalf("parseContentRange(%q) = %d, %d, %d", v, f, l, c)
			}
		}
	})
}
