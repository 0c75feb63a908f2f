package spec

import (
	"strings"
	"testing"
)

// dirDS builds a valid deltaSeconds.
func dirDS(n int64) deltaSeconds { return deltaSeconds{set: true, secs: n} }

// dirDSBad is a deltaSeconds whose argument was invalid.
var dirDSBad = deltaSeconds{set: true, invalid: true}

type directivesCase struct {
	name   string
	values []string
	want   directives
}

func runDirectivesCases(t *testing.T, cases []directivesCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseDirectives(tc.values); got != tc.want {
				t.Errorf("parseDirectives(%q)\n got %+v\nwant %+v", tc.values, got, tc.want)
			}
		})
	}
}

func TestDirectives_RFC9111_5_2_Syntax(t *testing.T) {
	runDirectivesCases(t, []directivesCase{
		{"absent", nil, directives{}},
		{"empty line", []string{""}, directives{}},
		{"only commas and OWS", []string{" , ,\t,"}, directives{}},
		{"max-age", []string{"max-age=3600"}, directives{present: true, maxAge: dirDS(3600)}},
		{"typical static", []string{"public, max-age=31536000, immutable"},
			directives{present: true, public: true, maxAge: dirDS(31536000), immutable: true}},
		{"typical no-store", []string{"no-cache, no-store, must-revalidate"},
			directives{present: true, noCache: true, noStore: true, mustRevalidate: true}},
		{"case-insensitive names", []string{"Max-Age=5, NO-STORE, Private"},
			directives{present: true, maxAge: dirDS(5), noStore: true, private: true}},
		{"stray commas and OWS", []string{",, max-age=5 ,\t, public ,"},
			directives{present: true, maxAge: dirDS(5), public: true}},
		{"BWS around =", []string{"max-age = 7"}, directives{present: true, maxAge: dirDS(7)}},
		{"all request directives", []string{"max-age=1, max-stale=2, min-fresh=3, no-cache, no-store, no-transform, only-if-cached"},
			directives{present: true, maxAge: dirDS(1), maxStale: dirDS(2), minFresh: dirDS(3), noCache: true, noStore: true, noTransform: true, onlyIfCached: true}},
		{"all response directives", []string{"must-revalidate, must-understand, no-cache, no-store, no-transform, private, proxy-revalidate, public, s-maxage=9"},
			directives{present: true, mustRevalidate: true, mustUnderstand: true, noCache: true, noStore: true, noTransform: true, private: true, proxyRevalidate: true, public: true, sMaxAge: dirDS(9)}},
		{"flag with argument still counts", []string{"no-store=1"}, directives{present: true, noStore: true}},
		{"junk member skipped", []string{"=5, \"x\", max-age=5"}, directives{present: true, maxAge: dirDS(5)}},
		{"junk after argument makes it invalid", []string{"max-age=5 6, public"},
			directives{present: true, maxAge: dirDSBad, public: true}},
		{"junk after flag keeps flag", []string{"no-store junk"}, directives{present: true, noStore: true}},
		{"non-ASCII ignored", []string{"\xff\xfe, max-age=1"}, directives{present: true, maxAge: dirDS(1)}},
	})
}

func TestDirectives_RFC9110_5_3_FieldLinesCombine(t *testing.T) {
	runDirectivesCases(t, []directivesCase{
		{"two lines", []string{"max-age=5", "public"}, directives{present: true, maxAge: dirDS(5), public: true}},
		{"empty lines between", []string{"", "no-store", "", ""}, directives{present: true, noStore: true}},
		{"first line wins for duplicates", []string{"max-age=5", "max-age=10"}, directives{present: true, maxAge: dirDS(5)}},
	})
}

func TestDirectives_RFC9111_5_2_QuotedCommas(t *testing.T) {
	runDirectivesCases(t, []directivesCase{
		{"no-cache list with commas", []string{`no-cache="set-cookie, x-foo", max-age=5`},
			directives{present: true, noCache: true, noCacheFields: "set-cookie, x-foo", maxAge: dirDS(5)}},
		{"private list with commas", []string{`private="a,b,c", public`},
			directives{present: true, private: true, privateFields: "a,b,c", public: true}},
		{"extension with quoted commas and escaped quote", []string{`ext="a, \"b, c", max-age=1`},
			directives{present: true, maxAge: dirDS(1)}},
		{"quoted max-age accepted", []string{`max-age="60"`}, directives{present: true, maxAge: dirDS(60)}},
		{"unterminated quote", []string{`max-age="60, public`}, directives{present: true, maxAge: dirDSBad}},
		{"unterminated quote in extension swallows line", []string{`foo="bar, no-store`, "public"},
			directives{present: true, public: true}},
		{"escaped backslash before closing quote", []string{`ext="a\\", no-store`},
			directives{present: true, noStore: true}},
	})
}

func TestDirectives_RFC9111_1_2_2_DeltaSeconds(t *testing.T) {
	runDirectivesCases(t, []directivesCase{
		{"zero", []string{"max-age=0"}, directives{present: true, maxAge: dirDS(0)}},
		{"leading zeros", []string{"max-age=007"}, directives{present: true, maxAge: dirDS(7)}},
		{"2^31-1", []string{"max-age=2147483647"}, directives{present: true, maxAge: dirDS(2147483647)}},
		{"2^31", []string{"max-age=2147483648"}, directives{present: true, maxAge: dirDS(2147483648)}},
		{"overflow caps", []string{"max-age=2147483649"}, directives{present: true, maxAge: dirDS(2147483648)}},
		{"huge caps", []string{"s-maxage=99999999999999999999999999999"}, directives{present: true, sMaxAge: dirDS(2147483648)}},
		{"negative", []string{"max-age=-1"}, directives{present: true, maxAge: dirDSBad}},
		{"plus sign", []string{"max-age=+1"}, directives{present: true, maxAge: dirDSBad}},
		{"decimal", []string{"max-age=1.5"}, directives{present: true, maxAge: dirDSBad}},
		{"letters", []string{"max-age=abc"}, directives{present: true, maxAge: dirDSBad}},
		{"missing argument", []string{"max-age"}, directives{present: true, maxAge: dirDSBad}},
		{"empty argument", []string{"max-age="}, directives{present: true, maxAge: dirDSBad}},
		{"empty quoted argument", []string{`max-age=""`}, directives{present: true, maxAge: dirDSBad}},
		{"min-fresh invalid", []string{"min-fresh=x"}, directives{present: true, minFresh: dirDSBad}},
	})
}

func TestDirectives_RFC9111_4_2_1_FirstOccurrenceWins(t *testing.T) {
	runDirectivesCases(t, []directivesCase{
		{"max-age twice", []string{"max-age=5, max-age=10"}, directives{present: true, maxAge: dirDS(5)}},
		{"invalid first stays invalid", []string{"max-age=x, max-age=10"}, directives{present: true, maxAge: dirDSBad}},
		{"valid first, invalid later", []string{"max-age=10, max-age=x"}, directives{present: true, maxAge: dirDS(10)}},
		{"s-maxage twice", []string{"s-maxage=1", "s-maxage=2"}, directives{present: true, sMaxAge: dirDS(1)}},
	})
}

func TestDirectives_RFC9111_5_2_1_2_MaxStale(t *testing.T) {
	runDirectivesCases(t, []directivesCase{
		{"any", []string{"max-stale"}, directives{present: true, maxStaleAny: true}},
		{"value", []string{"max-stale=30"}, directives{present: true, maxStale: dirDS(30)}},
		{"empty value invalid", []string{"max-stale="}, directives{present: true, maxStale: dirDSBad}},
		{"any first wins", []string{"max-stale, max-stale=5"}, directives{present: true, maxStaleAny: true}},
		{"value first wins", []string{"max-stale=5, max-stale"}, directives{present: true, maxStale: dirDS(5)}},
		{"junk makes invalid", []string{"max-stale junk"}, directives{present: true, maxStale: dirDSBad}},
	})
}

func TestDirectives_RFC9111_5_2_2_4_QualifiedNoCacheAndPrivate(t *testing.T) {
	runDirectivesCases(t, []directivesCase{
		{"unqualified no-cache", []string{"no-cache"}, directives{present: true, noCache: true}},
		{"qualified quoted", []string{`no-cache="Set-Cookie"`}, directives{present: true, noCache: true, noCacheFields: "Set-Cookie"}},
		{"qualified token form", []string{`no-cache=Set-Cookie`}, directives{present: true, noCache: true, noCacheFields: "Set-Cookie"}},
		{"qualified trimmed", []string{`no-cache=" a, b "`}, directives{present: true, noCache: true, noCacheFields: "a, b"}},
		{"empty list is unqualified", []string{`no-cache=""`}, directives{present: true, noCache: true}},
		{"blank list is unqualified", []string{`private=" "`}, directives{present: true, private: true}},
		{"unqualified after qualified wins", []string{`no-cache="a", no-cache`}, directives{present: true, noCache: true}},
		{"unqualified before qualified wins", []string{`no-cache`, `no-cache="a"`}, directives{present: true, noCache: true}},
		{"same list twice", []string{`no-cache="a", no-cache="a"`}, directives{present: true, noCache: true, noCacheFields: "a"}},
		{"different lists → unqualified", []string{`private="a", private="b"`}, directives{present: true, private: true}},
		{"unterminated list → unqualified", []string{`private="a, b`}, directives{present: true, private: true}},
		{"private qualified", []string{`private="authorization"`}, directives{present: true, private: true, privateFields: "authorization"}},
	})
}

func TestDirectives_RFC9111_5_2_3_ExtensionsIgnored(t *testing.T) {
	runDirectivesCases(t, []directivesCase{
		{"unknown only", []string{"community=\"UCI\""}, directives{present: true}},
		{"unknown among known", []string{"foo, bar=baz, max-age=3"}, directives{present: true, maxAge: dirDS(3)}},
		{"name prefix of known", []string{"max-ages=3, no-stores"}, directives{present: true}},
	})
}

func TestDirectives_RFC5861_RFC8246_Extensions(t *testing.T) {
	runDirectivesCases(t, []directivesCase{
		{"stale-while-revalidate", []string{"max-age=600, stale-while-revalidate=30"},
			directives{present: true, maxAge: dirDS(600), staleWhileRevalidate: dirDS(30)}},
		{"stale-if-error", []string{"max-age=600, stale-if-error=1200"},
			directives{present: true, maxAge: dirDS(600), staleIfError: dirDS(1200)}},
		{"stale-if-error invalid", []string{"stale-if-error"}, directives{present: true, staleIfError: dirDSBad}},
		{"immutable", []string{"max-age=1, IMMUTABLE"}, directives{present: true, maxAge: dirDS(1), immutable: true}},
	})
}

func TestForEachFieldName_RFC9111_5_2_2_4(t *testing.T) {
	cases := []struct {
		list string
		want []string
	}{
		{"", nil},
		{"a", []string{"a"}},
		{"Set-Cookie, X-Foo", []string{"Set-Cookie", "X-Foo"}},
		{" a ,, b ,", []string{"a", "b"}},
		{",\t,", nil},
	}
	for _, tc := range cases {
		var got []string
		forEachFieldName(tc.list, func(n string) { got = append(got, n) })
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("forEachFieldName(%q) = %q, want %q", tc.list, got, tc.want)
		}
	}
}

type targetedCase struct {
	name   string
	values []string
	want   directives
	ok     bool
}

func runTargetedCases(t *testing.T, cases []targetedCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseTargetedDirectives(tc.values)
			if ok != tc.ok || got != tc.want {
				t.Errorf("parseTargetedDirectives(%q)\n got %+v, %v\nwant %+v, %v", tc.values, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestTargetedDirectives_RFC9213_2_1_Mapping(t *testing.T) {
	runTargetedCases(t, []targetedCase{
		{"absent", nil, directives{}, false},
		{"empty field is ignored", []string{""}, directives{}, false},
		{"blank field is ignored", []string{"   "}, directives{}, false},
		{"max-age", []string{"max-age=600"}, directives{present: true, maxAge: dirDS(600)}, true},
		{"none (RFC 9213 §3.1)", []string{"none"}, directives{present: true}, true},
		{"flags", []string{"no-store, must-revalidate, private, no-cache"},
			directives{present: true, noStore: true, mustRevalidate: true, private: true, noCache: true}, true},
		{"s-maxage and swr", []string{"s-maxage=10, stale-while-revalidate=5, stale-if-error=7"},
			directives{present: true, sMaxAge: dirDS(10), staleWhileRevalidate: dirDS(5), staleIfError: dirDS(7)}, true},
		{"integer overflow caps", []string{"max-age=999999999999999"}, directives{present: true, maxAge: dirDS(2147483648)}, true},
		{"negative integer invalid", []string{"max-age=-5"}, directives{present: true, maxAge: dirDSBad}, true},
		{"decimal invalid", []string{"max-age=5.0"}, directives{present: true, maxAge: dirDSBad}, true},
		{"string invalid", []string{`max-age="5"`}, directives{present: true, maxAge: dirDSBad}, true},
		{"bare delta key invalid", []string{"max-age"}, directives{present: true, maxAge: dirDSBad}, true},
		{"no-cache string", []string{`no-cache="set-cookie, x-a"`}, directives{present: true, noCache: true, noCacheFields: "set-cookie, x-a"}, true},
		{"private string", []string{`private="authorization"`}, directives{present: true, private: true, privateFields: "authorization"}, true},
		{"private empty string → unqualified", []string{`private=""`}, directives{present: true, private: true}, true},
		{"no-cache token → unqualified", []string{`no-cache=set-cookie`}, directives{present: true, noCache: true}, true},
		{"no-store ?0 is off", []string{"no-store=?0"}, directives{present: true}, true},
		{"no-store ?1", []string{"no-store=?1"}, directives{present: true, noStore: true}, true},
		{"no-store with odd value still set", []string{"no-store=1"}, directives{present: true, noStore: true}, true},
		{"public needs true", []string{"public=1, immutable=?1"}, directives{present: true, immutable: true}, true},
		{"max-stale bare", []string{"max-stale"}, directives{present: true, maxStaleAny: true}, true},
		{"last duplicate wins (RFC 9651 §4.2.2)", []string{"max-age=5, max-age=10"}, directives{present: true, maxAge: dirDS(10)}, true},
		{"later false overwrites", []string{"no-store, no-store=?0"}, directives{present: true}, true},
		{"parameters ignored", []string{"max-age=5;a=1;b, no-store;x=\"y\""}, directives{present: true, maxAge: dirDS(5), noStore: true}, true},
		{"inner list valid but unused", []string{"foo=(a b \"c\" 1 ?0);p=1, max-age=3"}, directives{present: true, maxAge: dirDS(3)}, true},
		{"inner list on delta directive invalid", []string{"max-age=(1)"}, directives{present: true, maxAge: dirDSBad}, true},
		{"all bare item types", []string{`a=1, b=1.5, c="s", d=tok/x:y, e=:aGk=:, f=?1, g=@1659578233, h=%"caf%c3%a9", max-age=2`},
			directives{present: true, maxAge: dirDS(2)}, true},
		{"multiple lines", []string{"max-age=5", "no-store"}, directives{present: true, maxAge: dirDS(5), noStore: true}, true},
		{"tabs between members", []string{"max-age=5,\tprivate"}, directives{present: true, maxAge: dirDS(5), private: true}, true},
		{"leading SP", []string{"  max-age=5"}, directives{present: true, maxAge: dirDS(5)}, true},
		{"string split over lines → unqualified", []string{`private="a`, `b"`}, directives{present: true, private: true}, true},
	})
}

func TestTargetedDirectives_RFC9651_4_2_2_ParseFailures(t *testing.T) {
	for _, v := range [][]string{
		{"Max-Age=5"},                // uppercase key
		{"max-age=5,"},               // trailing comma
		{"max-age=5, "},              // trailing comma and SP
		{",max-age=5"},               // leading comma
		{"max-age=5 no-store"},       // missing comma
		{"max-age = 5"},              // SP before "="
		{"max-age= 5"},               // SP after "="
		{"max-age=5", ""},            // empty second line: "max-age=5, "
		{"", "max-age=5"},            // empty first line: ", max-age=5"
		{"\tmax-age=5"},              // leading HTAB is not SP
		{"max-age=1234567890123456"}, // 16-digit integer
		{"a=1.2345"},                 // 4 fractional digits
		{"a=1."},                     // decimal without fraction
		{"a=1234567890123.5"},        // 13 integer digits
		{"a=-"},                      // empty integer
		{`a="unterminated`},          // string
		{`a="bad\x"`},                // bad escape
		{"a=\"tab\there\""},          // control char in string
		{"a=\"\xc3\xa9\""},           // non-ASCII in string
		{"a=?2"},                     // boolean
		{"a=:abc"},                   // unterminated byte sequence
		{"a=:a:"},                    // base64 of bad length
		{"a=:a=bc:"},                 // padding in the middle
		{"a=@1.5"},                   // decimal date
		{`a=%"%C3%A9"`},              // uppercase hex in display string
		{`a=%"%c3"`},                 // invalid UTF-8
		{`a=%"%ed%a0%80"`},           // surrogate
		{`a=%"x`},                    // unterminated display string
		{"a=(1 2"},                   // unterminated inner list
		{"a=(1,2)"},                  // comma in inner list
		{"a=#"},                      // unknown item type
		{"a;B=1"},                    // uppercase parameter key
		{"a;=1"},                     // empty parameter key
		{"no-store\x00"},             // NUL
		{"max-age=5;"},               // parameter without key
	} {
		if d, ok := parseTargetedDirectives(v); ok || d != (directives{}) {
			t.Errorf("parseTargetedDirectives(%q) = %+v, %v; want failure", v, d, ok)
		}
	}
}

func TestDirectives_ZeroAllocs(t *testing.T) {
	inputs := [][]string{
		{"max-age=3600"},
		{"public, max-age=31536000, immutable"},
		{"no-cache, no-store, must-revalidate"},
		{"private, max-age=0, stale-while-revalidate=30, stale-if-error=600"},
		{`no-cache="Set-Cookie, X-Foo", s-maxage=60`},
		{"max-age=60", "public"},
	}
	for _, in := range inputs {
		if n := testing.AllocsPerRun(100, func() { _ = parseDirectives(in) }); n != 0 {
			t.Errorf("parseDirectives(%q): %v allocs, want 0", in, n)
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = parseTargetedDirectives(in) }); n != 0 {
			t.Errorf("parseTargetedDirectives(%q): %v allocs, want 0", in, n)
		}
	}
	if n := testing.AllocsPerRun(100, func() { forEachFieldName("a, b, c", func(string) {}) }); n != 0 {
		t.Errorf("forEachFieldName: %v allocs, want 0", n)
	}
}

var benchDirectivesSink directives

func BenchmarkParseDirectives(b *testing.B) {
	for _, bc := range []struct {
		name string
		v    []string
	}{
		{"max-age", []string{"max-age=3600"}},
		{"static", []string{"public, max-age=31536000, immutable"}},
		{"no-store", []string{"no-cache, no-store, must-revalidate"}},
		{"qualified", []string{`private, no-cache="Set-Cookie", max-age=0, stale-while-revalidate=30`}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				benchDirectivesSink = parseDirectives(bc.v)
			}
		})
	}
}

func BenchmarkParseTargetedDirectives(b *testing.B) {
	v := []string{"max-age=600, stale-while-revalidate=30"}
	b.ReportAllocs()
	for b.Loop() {
		benchDirectivesSink, _ = parseTargetedDirectives(v)
	}
}

// checkDirectivesInvariants checks what any parse result must satisfy.
func checkDirectivesInvariants(t *testing.T, d directives) {
	t.Helper()
	for _, x := range []deltaSeconds{d.maxAge, d.sMaxAge, d.minFresh, d.maxStale, d.staleWhileRevalidate, d.staleIfError} {
		if x.secs < 0 || x.secs > deltaSecondsCap {
			t.Fatalf("secs out of range: %+v", x)
		}
		if !x.set && (x.invalid || x.secs != 0) {
			t.Fatalf("unset delta with data: %+v", x)
		}
		if x.invalid && x.secs != 0 {
			t.Fatalf("invalid delta with secs: %+v", x)
		}
		if x.set && !d.present {
			t.Fatalf("directive set but not present: %+v", d)
		}
	}
	if d.noCacheFields != "" && !d.noCache || d.privateFields != "" && !d.private {
		t.Fatalf("field list without its directive: %+v", d)
	}
	if d.maxStaleAny && d.maxStale.set {
		t.Fatalf("max-stale both with and without value: %+v", d)
	}
}

func FuzzParseDirectives(f *testing.F) {
	for _, s := range []string{
		"max-age=3600", "public, max-age=31536000, immutable", `no-cache="a, b", private="c"`,
		`ext="a\"b,c", max-stale`, "max-age=99999999999999999999", ",,,", `"`, `max-age="5`, "a=b=c",
	} {
		f.Add(s, "s-maxage=5")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		d := parseDirectives([]string{a, b})
		checkDirectivesInvariants(t, d)
		// Field lines combine as one list (RFC 9110 §5.3) when no quoted
		// string can run across the join.
		if !strings.Contains(a, `"`) {
			if j := parseDirectives([]string{a + ", " + b}); j != d {
				t.Fatalf("lines %q,%q: %+v; joined: %+v", a, b, d, j)
			}
		}
	})
}

func FuzzParseTargetedDirectives(f *testing.F) {
	for _, s := range []string{
		"max-age=600", "no-store, private=\"a\"", `a=(1 "x";p=?0);q=:aGk=:, b=%"%c3%a9"`, "a=1.5, b=@12",
		"Max-Age=1", "a,", `a="x`, "max-age=-1;x",
	} {
		f.Add(s, "no-cache")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		d, ok := parseTargetedDirectives([]string{a, b})
		if !ok {
			if d != (directives{}) {
				t.Fatalf("failed parse returned %+v", d)
			}
			return
		}
		if !d.present {
			t.Fatalf("ok without present")
		}
		checkDirectivesInvariants(t, d)
		// RFC 9651 §4.2: field lines are parsed as if joined by ", ".
		j, jok := parseTargetedDirectives([]string{a + ", " + b})
		if jok != ok || (!strings.Contains(a+b, `"`) && j != d) {
			t.Fatalf("lines %q,%q: %+v,%v; joined: %+v,%v", a, b, d, ok, j, jok)
		}
	})
}
