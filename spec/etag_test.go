package spec

import (
	"strings"
	"testing"
)

func TestETag_RFC9110_8_8_3_Parse(t *testing.T) {
	cases := []struct {
		in   string
		want entityTag
		ok   bool
	}{
		{`"xyzzy"`, entityTag{opaque: `"xyzzy"`}, true},
		{`W/"xyzzy"`, entityTag{weak: true, opaque: `"xyzzy"`}, true},
		{`""`, entityTag{opaque: `""`}, true},
		{`W/""`, entityTag{weak: true, opaque: `""`}, true},
		{` "a" `, entityTag{opaque: `"a"`}, true},
		{`"a,b"`, entityTag{opaque: `"a,b"`}, true},
		{`"a\"`, entityTag{opaque: `"a\"`}, true},                       // backslash is an etagc, not an escape
		{"\"caf\xc3\xa9\"", entityTag{opaque: "\"caf\xc3\xa9\""}, true}, // obs-text
		{``, entityTag{}, false},
		{`xyzzy`, entityTag{}, false},
		{`"xyzzy`, entityTag{}, false},
		{`w/"xyzzy"`, entityTag{}, false}, // %s"W/" is case-sensitive
		{`W/`, entityTag{}, false},
		{`W/ "a"`, entityTag{}, false},
		{`"a" "b"`, entityTag{}, false},
		{`"a b"`, entityTag{}, false}, // SP is not an etagc
		{"\"a\x7fb\"", entityTag{}, false},
		{`"a"x`, entityTag{}, false},
		{`*`, entityTag{}, false},
	}
	for _, tc := range cases {
		got, ok := parseETag(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseETag(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestETag_RFC9110_8_8_3_2_Comparison is the table of §8.8.3.2.
func TestETag_RFC9110_8_8_3_2_Comparison(t *testing.T) {
	w1 := entityTag{weak: true, opaque: `"1"`}
	w2 := entityTag{weak: true, opaque: `"2"`}
	s1 := entityTag{opaque: `"1"`}
	cases := []struct {
		a, b          entityTag
		strong, weakM bool
	}{
		{w1, w1, false, true},
		{w1, w2, false, false},
		{w1, s1, false, true},
		{s1, s1, true, true},
		{entityTag{}, entityTag{}, false, false},
	}
	for _, tc := range cases {
		if got := strongMatch(tc.a, tc.b); got != tc.strong {
			t.Errorf("strongMatch(%+v, %+v) = %v", tc.a, tc.b, got)
		}
		if got := weakMatch(tc.a, tc.b); got != tc.weakM {
			t.Errorf("weakMatch(%+v, %+v) = %v", tc.a, tc.b, got)
		}
		if strongMatch(tc.a, tc.b) != strongMatch(tc.b, tc.a) || weakMatch(tc.a, tc.b) != weakMatch(tc.b, tc.a) {
			t.Errorf("comparison of %+v and %+v is not symmetric", tc.a, tc.b)
		}
	}
}

func TestETag_RFC9110_13_1_ListMatches(t *testing.T) {
	strongX := entityTag{opaque: `"x"`}
	weakX := entityTag{weak: true, opaque: `"x"`}
	cases := []struct {
		name   string
		values []string
		t      entityTag
		weak   bool
		want   bool
	}{
		{"absent", nil, strongX, true, false},
		{"star (§13.1.2)", []string{"*"}, strongX, true, true},
		{"star with OWS", []string{" * "}, entityTag{}, false, true},
		{"star matches no tag too", []string{"*"}, entityTag{}, true, true},
		{"star followed by junk is not a star", []string{"*x"}, strongX, true, false},
		{"single strong", []string{`"x"`}, strongX, false, true},
		{"weak list member, weak comparison (If-None-Match)", []string{`W/"x"`}, strongX, true, true},
		{"weak list member, strong comparison (If-Match)", []string{`W/"x"`}, strongX, false, false},
		{"weak stored tag, strong comparison", []string{`"x"`}, weakX, false, false},
		{"weak stored tag, weak comparison", []string{`"x"`}, weakX, true, true},
		{"list", []string{`"a", "b", "x"`}, strongX, false, true},
		{"list over lines", []string{`"a"`, `"b"`, ` "x" `}, strongX, false, true},
		{"comma inside opaque-tag", []string{`"a,x", "b"`}, entityTag{opaque: `"a,x"`}, false, true},
		{"comma inside opaque-tag does not split", []string{`"a,"x"`}, strongX, false, false},
		{"empty members", []string{`, ,"x",`}, strongX, false, true},
		{"no match", []string{`"a", W/"b"`}, strongX, true, false},
		{"malformed member skipped", []string{`junk, "x"`}, strongX, false, true},
		{"malformed after tag skipped", []string{`"a"junk, "x"`}, strongX, false, true},
		{"tag followed by junk does not match", []string{`"x"junk`}, strongX, false, false},
		{"unterminated", []string{`"x`}, strongX, false, false},
		{"zero tag never matches a tag", []string{`""`}, entityTag{}, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := etagListMatches(tc.values, tc.t, tc.weak); got != tc.want {
				t.Errorf("etagListMatches(%q, %+v, %v) = %v, want %v", tc.values, tc.t, tc.weak, got, tc.want)
			}
		})
	}
}

func TestETag_ZeroAllocs(t *testing.T) {
	tag := entityTag{opaque: `"x"`}
	v := []string{`"a", W/"b"`, `"x"`}
	if n := testing.AllocsPerRun(100, func() {
		_, _ = parseETag(`W/"xyzzy"`)
		_ = etagListMatches(v, tag, true)
	}); n != 0 {
		t.Errorf("%v allocs, want 0", n)
	}
}

var benchBoolSink bool

func BenchmarkETagListMatches(b *testing.B) {
	tag, _ := parseETag(`"33a64df551425fcc55e4d42a148795d9f25f89d4"`)
	v := []string{`W/"67ab43", "54ed21", "33a64df551425fcc55e4d42a148795d9f25f89d4"`}
	b.ReportAllocs()
	for b.Loop() {
		benchBoolSink = etagListMatches(v, tag, true)
	}
}

func FuzzETag(f *testing.F) {
	for _, s := range []string{`"x"`, `W/"x"`, `""`, `"a,b"`, `*`, `W/`, `"a" , W/"b"`, "\"\xff\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tag, ok := parseETag(s)
		if !ok {
			if tag != (entityTag{}) {
				t.Fatalf("failed parse returned %+v", tag)
			}
		} else {
			if len(tag.opaque) < 2 || tag.opaque[0] != '"' || tag.opaque[len(tag.opaque)-1] != '"' ||
				!strings.Contains(s, tag.opaque) {
				t.Fatalf("parseETag(%q) = %+v", s, tag)
			}
			if !weakMatch(tag, tag) || strongMatch(tag, tag) == tag.weak {
				t.Fatalf("comparison of %+v with itself", tag)
			}
			// A tag is found in a list holding just it, and among others.
			if !etagListMatches([]string{s}, tag, true) || !etagListMatches([]string{`"-", ` + s + `, W/"-"`}, tag, tag.weak) {
				t.Fatalf("%q not found in a list holding it", s)
			}
		}
		// Any list: no panic; a list without '*' and without the tag's
		// opaque-tag cannot match it.
		probe := entityTag{opaque: `"probe"`}
		if etagListMatches([]string{s}, probe, true) && !strings.Contains(s, "*") && !strings.Contains(s, `"probe"`) {
			t.Fatalf("etagListMatches(%q) matched %+v", s, probe)
		}
	})
}
