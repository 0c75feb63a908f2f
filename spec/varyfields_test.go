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
		{"order matters", "Accept-Encoding", []string{"gzip, br"}, []string{"br, gzip"}, false},
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

func TestVary_ZeroAllocs(t *testing.T) {
	for _, tc := range []struct {
		field string
		a, b  []string
	}{
		{"Accept-Encoding", []string{"gzip, deflate, br"}, []string{"gzip, deflate, br"}},
		{"Accept-Encoding", []string{"gzip, deflate, br"}, []string{"gzip,deflate", "BR"}},
		{"Accept", []string{"text/html;q=0.9, */*;q=0.8"}, []string{"text/html; q=0.9,*/*; q=0.8"}},
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
