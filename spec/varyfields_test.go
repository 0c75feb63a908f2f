package spec

import (
	"strings"
	"testing"
)

func TestListMembers_RFC9110_5_6_1(t *testing.T) {
	cases := []struct {
		name   string
		values []string
		want   []string
	}{
		{"absent", nil, nil},
		{"empty line", []string{""}, nil},
		{"one", []string{"gzip"}, []string{"gzip"}},
		{"OWS and empty members", []string{" ,gzip ,\t, br,, "}, []string{"gzip", "br"}},
		{"lines", []string{"a, b", "", "c"}, []string{"a", "b", "c"}},
		{"quoted comma", []string{`a;p="x, y", b`}, []string{`a;p="x, y"`, "b"}},
		{"escaped quote", []string{`a="x\", y", b`}, []string{`a="x\", y"`, "b"}},
		{"unterminated quote runs to end of line", []string{`a="x, y`, "b"}, []string{`a="x, y`, "b"}},
		{"trailing backslash in quote", []string{`a="x\`}, []string{`a="x\`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			forEachListMember(tc.values, func(m string) bool { got = append(got, m); return true })
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
				t.Errorf("members of %q = %q, want %q", tc.values, got, tc.want)
			}
		})
	}
	n := 0
	forEachListMember([]string{"a, b, c"}, func(string) bool { n++; return n < 2 })
	if n != 2 {
		t.Errorf("fn returning false did not stop after 2 calls: %d", n)
	}
}

func TestVary_RFC9111_4_1_ValuesMatch(t *testing.T) {
	cases := []struct {
		name  string
		field string
		a, b  []string
		want  bool
	}{
		{"both absent", "Accept-Encoding", nil, nil, true},
		{"one absent", "Accept-Encoding", []string{"gzip"}, nil, false},
		{"absent vs empty", "Accept-Encoding", nil, []string{""}, false},
		{"empty vs empty", "X-Foo", []string{""}, []string{""}, true},
		{"identical", "Accept-Encoding", []string{"gzip, br"}, []string{"gzip, br"}, true},
		{"OWS around commas", "Accept-Encoding", []string{"gzip,br"}, []string{" gzip ,\tbr "}, true},
		{"line split", "Accept-Encoding", []string{"gzip", "br"}, []string{"gzip, br"}, true},
		{"empty members in a known list", "Accept-Encoding", []string{"gzip,,br,"}, []string{"gzip, br"}, true},
		{"case of codings", "Accept-Encoding", []string{"GZIP, Br"}, []string{"gzip, br"}, true},
		{"weight OWS (§12.4.2)", "Accept-Encoding", []string{"gzip;q=1.0, br; q=0.5"}, []string{"gzip ; q=1.0,br;q=0.5"}, true},
		{"Q case", "Accept-Encoding", []string{"br;Q=0.5"}, []string{"br;q=0.5"}, true},
		{"order of a set does not matter", "Accept-Encoding", []string{"gzip, br"}, []string{"br, gzip"}, true},
		{"order matters in an unknown list", "X-Foo", []string{"gzip, br"}, []string{"br, gzip"}, false},
		{"different coding", "Accept-Encoding", []string{"gzip"}, []string{"br"}, false},
		{"extra member", "Accept-Encoding", []string{"gzip"}, []string{"gzip, br"}, false},
		{"prefix member", "Accept-Encoding", []string{"gzip"}, []string{"gzipx"}, false},
		{"Accept-Language case", "Accept-Language", []string{"en-US, fr;q=0.5"}, []string{"en-us,FR; q=0.5"}, true},
		{"Accept-Charset case", "Accept-Charset", []string{"UTF-8"}, []string{"utf-8"}, true},
		{"TE case", "TE", []string{"Trailers"}, []string{"trailers"}, true},
		{"name case-insensitive", "accept-encoding", []string{"GZIP"}, []string{"gzip"}, true},
		{"Accept type case", "Accept", []string{"Text/HTML;Level=1"}, []string{"text/html; level=1"}, true},
		{"Accept parameter value case kept", "Accept", []string{"text/html;level=A"}, []string{"text/html;level=a"}, false},
		{"Accept quoted value kept", "Accept", []string{`a/b;p="X Y"`}, []string{`a/b;p="x y"`}, false},
		{"Accept quoted whitespace kept", "Accept", []string{`a/b;p="x y"`}, []string{`a/b;p="x  y"`}, false},
		{"Accept quoted comma", "Accept", []string{`a/b;p="x,y", c/d`}, []string{`a/b;p="x,y"`, "c/d"}, true},
		{"Accept-Encoding quoted kept", "Accept-Encoding", []string{`x;p="A"`}, []string{`x;p="a"`}, false},
		{"unknown field case-sensitive", "X-Foo", []string{"A"}, []string{"a"}, false},
		{"unknown field lines and OWS", "X-Foo", []string{"a", "b"}, []string{"a ,b"}, true},
		{"unknown field keeps empty members", "X-Foo", []string{"a,,b"}, []string{"a,b"}, false},
		{"unknown field: empty members over lines", "X-Foo", []string{"a,", "b"}, []string{"a,, b"}, true},
		{"unknown field: inner whitespace exact", "X-Foo", []string{"a;b=1"}, []string{"a; b=1"}, false},
		{"Cookie split on ;", "Cookie", []string{"a=1; b=2"}, []string{"a=1;b=2"}, true},
		{"Cookie lines", "Cookie", []string{"a=1", "b=2"}, []string{"a=1; b=2"}, true},
		{"Cookie comma is not a separator", "Cookie", []string{"a=1,2"}, []string{"a=1, 2"}, false},
		{"Cookie case", "Cookie", []string{"a=X"}, []string{"a=x"}, false},
		{"User-Agent exact", "User-Agent", []string{"Mozilla/5.0 (KHTML, like Gecko)"}, []string{"Mozilla/5.0 (KHTML,like Gecko)"}, false},
		{"User-Agent OWS trimmed", "User-Agent", []string{" curl/8.0 "}, []string{"curl/8.0"}, true},
		{"Referer commas exact", "Referer", []string{"https://x/a,,b"}, []string{"https://x/a,b"}, false},
		{"Authorization exact case", "Authorization", []string{"Bearer A"}, []string{"Bearer a"}, false},
		{"Authorization same", "Authorization", []string{"Bearer abc"}, []string{"Bearer abc"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := varyValuesMatch(tc.field, tc.a, tc.b); got != tc.want {
				t.Errorf("varyValuesMatch(%q, %q, %q) = %v, want %v", tc.field, tc.a, tc.b, got, tc.want)
			}
			if got := varyValuesMatch(tc.field, tc.b, tc.a); got != tc.want {
				t.Errorf("varyValuesMatch(%q, %q, %q) = %v, want %v (swapped)", tc.field, tc.b, tc.a, got, tc.want)
			}
		})
	}
}

// RFC 9111 §4.1 ("normalizing both header field values in a way that is
// known to have identical semantics ... e.g., reordering field values when
// order is not significant") with RFC 9110 §12.4.2 and §12.5: the weighted
// content-negotiation fields match when only their weights' spelling, a
// weight of 1, or an order that cannot change the origin's choice differ.
func TestVary_RFC9111_4_1_NormalizedWeights(t *testing.T) {
	cases := []struct {
		name  string
		field string
		a, b  string
		want  bool
	}{
		// Weights (§12.4.2).
		{"q=1 is no weight", "Accept-Encoding", "gzip;q=1, br", "gzip, br", true},
		{"q=1.000 is no weight", "Accept-Language", "en;q=1.000", "en", true},
		{"qvalue as a number", "Accept-Encoding", "gzip;q=0.50", "gzip;q=0.5", true},
		{"q=0. is q=0", "Accept-Encoding", "gzip;q=0.", "gzip;q=0.000", true},
		{"different weights", "Accept-Encoding", "gzip;q=0.5", "gzip;q=0.6", false},
		{"q=0 is not absence", "Accept-Encoding", "gzip, br;q=0", "gzip", false},
		{"invalid qvalue: as written", "Accept-Encoding", "gzip;q=2", "gzip;q=2.0", false},
		{"invalid qvalue: not reordered", "Accept-Encoding", "gzip;q=2, br", "br, gzip;q=2", false},
		{"q=1.5 is invalid", "Accept-Encoding", "gzip;q=1.5", "gzip", false},
		// Accept-Encoding, Accept-Charset, TE: sets (§12.5.3, §12.5.2, §10.1.4).
		{"set: any order", "Accept-Encoding", "gzip, deflate, br", "br,gzip , DEFLATE", true},
		{"set: weighted, any order", "Accept-Encoding", "br;q=0.9, gzip", "gzip, br;q=0.9", true},
		{"set: Accept-Charset", "Accept-Charset", "utf-8, iso-8859-1;q=0.5", "ISO-8859-1;q=0.5, UTF-8", true},
		{"set: TE", "TE", "trailers, deflate;q=0.5", "deflate;q=0.5, trailers", true},
		{"set: members still count", "Accept-Encoding", "gzip, gzip", "gzip", false},
		// Accept-Language (§12.5.4): ranked; equal weights keep their order.
		{"ranked: sorted by weight", "Accept-Language", "fr;q=0.8, en", "en, fr;q=0.8", true},
		{"ranked: the issue's example differs in weight", "Accept-Language", "en, fr", "fr;q=0.9, en", false},
		{"ranked: equal weights keep their order", "Accept-Language", "en, fr", "fr, en", false},
		{"ranked: equal weights written differently", "Accept-Language", "en;q=1, fr;q=1.0", "en, fr", true},
		{"ranked: browser list", "Accept-Language", "en-US,en;q=0.9,fr;q=0.8", "fr;q=0.8, en-us, EN;q=0.90", true},
		// Accept (§12.5.1): ranked; parameters other than q kept.
		{"Accept ranked", "Accept", "*/*;q=0.8, text/html", "text/html, */*;q=0.8", true},
		{"Accept equal weights keep order", "Accept", "text/html, application/xml", "application/xml, text/html", false},
		{"Accept q=1 dropped", "Accept", "text/html;level=1;q=1", "text/html;level=1", true},
		{"Accept q not last: as written", "Accept", "text/html;q=0.5;level=1, a/b", "a/b, text/html;q=0.5;level=1", false},
		{"Accept q in a quoted value is not a weight", "Accept", `a/b;p=";q=0.5"`, `a/b;p=";q=0.5";q=1`, true},
		{"Accept parameter value case kept", "Accept", "a/b;x=Y;q=0.5", "a/b;x=y;q=0.5", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := []string{tc.a}, []string{tc.b}
			if got := varyValuesMatch(tc.field, a, b); got != tc.want {
				t.Errorf("varyValuesMatch(%q, %q, %q) = %v, want %v", tc.field, tc.a, tc.b, got, tc.want)
			}
			if got := varyValuesMatch(tc.field, b, a); got != tc.want {
				t.Errorf("swapped: %v, want %v", got, tc.want)
			}
			ka := string(appendVaryCanonical(nil, tc.field, a))
			kb := string(appendVaryCanonical(nil, tc.field, b))
			if (ka == kb) != tc.want {
				t.Errorf("secondary keys %q and %q: equal = %v, want %v", ka, kb, ka == kb, tc.want)
			}
		})
	}
}

func TestVary_ZeroAllocs(t *testing.T) {
	for _, tc := range []struct {
		field string
		a, b  []string
	}{
		{"Accept-Encoding", []string{"gzip, deflate, br"}, []string{"gzip, deflate, br"}},
		{"Accept-Encoding", []string{"gzip, deflate, br"}, []string{"gzip,deflate", "BR"}},
		{"Accept", []string{"text/html;q=0.9, */*;q=0.8"}, []string{"text/html; q=0.9,*/*; q=0.8"}},
		{"Accept-Encoding", []string{"gzip, deflate, br"}, []string{"br, gzip;q=1.0, deflate"}},
		{"Accept-Language", []string{"en-US,en;q=0.9,fr;q=0.8"}, []string{"fr;q=0.8, en-us, en;q=0.90"}},
		{"X-Foo", []string{"a", "b"}, []string{"a, b"}},
		{"User-Agent", []string{"x"}, []string{"y"}},
		{"Cookie", []string{"a=1", "b=2"}, []string{"a=1; b=2"}},
	} {
		if n := testing.AllocsPerRun(100, func() { _ = varyValuesMatch(tc.field, tc.a, tc.b) }); n != 0 {
			t.Errorf("varyValuesMatch(%q, %q, %q): %v allocs, want 0", tc.field, tc.a, tc.b, n)
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		forEachListMember([]string{"a, b", "c"}, func(string) bool { return true })
	}); n != 0 {
		t.Errorf("forEachListMember: %v allocs, want 0", n)
	}
}

func BenchmarkVaryValuesMatch(b *testing.B) {
	for _, bc := range []struct {
		name  string
		field string
		a, b  []string
	}{
		{"identical", "Accept-Encoding", []string{"gzip, deflate, br, zstd"}, []string{"gzip, deflate, br, zstd"}},
		{"normalized", "Accept-Encoding", []string{"gzip, deflate, br, zstd"}, []string{"gzip,deflate,br,zstd"}},
		{"accept-language", "Accept-Language", []string{"en-US,en;q=0.9,fr;q=0.8"}, []string{"en-us, en; q=0.9, fr; q=0.8"}},
		{"reordered", "Accept-Encoding", []string{"gzip, deflate, br, zstd"}, []string{"zstd, br, deflate, gzip"}},
		{"mismatch", "Accept-Encoding", []string{"gzip"}, []string{"br"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				benchBoolSink = varyValuesMatch(bc.field, bc.a, bc.b)
			}
		})
	}
}

func FuzzVaryValuesMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"gzip, br", "GZIP,br"}, {`a;p="x, y"`, "b"}, {"a=1; b=2", "c"}, {`"`, `"x`}, {"", ","}, {"a ; b", "a;b"},
	} {
		f.Add(s[0], s[1])
	}
	names := []string{"Accept-Encoding", "Accept", "Cookie", "User-Agent", "X-Foo"}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, name := range names {
			x, y := []string{a, b}, []string{b}
			if !varyValuesMatch(name, x, x) {
				t.Fatalf("%s: %q does not match itself", name, x)
			}
			if varyValuesMatch(name, x, y) != varyValuesMatch(name, y, x) {
				t.Fatalf("%s: match of %q and %q is not symmetric", name, x, y)
			}
		}
		// Splitting a list into field lines does not matter (RFC 9111 §4.1)
		// when no quoted string runs across the split.
		if !strings.Contains(a, `"`) {
			for _, name := range []string{"Accept-Encoding", "Accept", "X-Foo"} {
				if !varyValuesMatch(name, []string{a, b}, []string{a + ", " + b}) {
					t.Fatalf("%s: lines %q,%q do not match joined", name, a, b)
				}
			}
		}
		// Members are trimmed and non-empty.
		forEachListMember([]string{a, b}, func(m string) bool {
			if m == "" || m != lexTrimOWS(m) || !strings.Contains(a+"\n"+b, m) {
				t.Fatalf("bad member %q of %q,%q", m, a, b)
			}
			return true
		})
	})
}

// FuzzVaryKeyAgreesWithMatch is a differential test of the two halves of
// §4.1 selection: the secondary key (variantKey, through
// appendVaryCanonical) and the matcher (varyValuesMatch) must agree, or a
// stored variant would replace one it does not match, or match one it
// does not replace. Field values never hold NUL, CR or LF (RFC 9110
// §5.5), which the key uses as separators.
func FuzzVaryKeyAgreesWithMatch(f *testing.F) {
	for _, s := range [][3]string{
		{"gzip, br", "br,GZIP", "x"}, {"en;q=0.9, fr", "fr, en;q=0.90", ""}, {`a/b;p="x, y";q=0.5`, "c/d", "a/b"},
		{"a=1; b=2", "b=2;a=1", ""}, {"gzip;q=1", "gzip", "gzip;q=2"}, {"", ",", " "},
	} {
		f.Add(s[0], s[1], s[2])
	}
	names := []string{"Accept-Encoding", "Accept-Language", "Accept", "Accept-Charset", "TE", "Cookie", "User-Agent", "X-Foo"}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		if strings.ContainsAny(a+b+c, "\x00\r\n") {
			t.Skip()
		}
		sets := [][]string{nil, {a}, {b}, {a, c}, {b, c}, {c}}
		for _, name := range names {
			for _, x := range sets {
				for _, y := range sets {
					m := varyValuesMatch(name, x, y)
					kx := string(appendVaryCanonical(nil, name, x))
					ky := string(appendVaryCanonical(nil, name, y))
					if m != (kx == ky) {
						t.Fatalf("%s: varyValuesMatch(%q, %q) = %v, but keys %q and %q", name, x, y, m, kx, ky)
					}
				}
			}
		}
	})
}
