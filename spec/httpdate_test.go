package spec

import (
	"net/http"
	"testing"
	"time"
)

func TestHTTPDate_RFC9110_5_6_7_Parse(t *testing.T) {
	nov6 := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)
	cases := []struct {
		name string
		in   string
		want time.Time
		ok   bool
	}{
		{"IMF-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT", nov6, true},
		{"IMF-fixdate with OWS", " \tSun, 06 Nov 1994 08:49:37 GMT ", nov6, true},
		{"IMF-fixdate case-insensitive names", "SUN, 06 NOV 1994 08:49:37 GMT", nov6, true},
		{"IMF-fixdate wrong weekday tolerated", "Mon, 06 Nov 1994 08:49:37 GMT", nov6, true},
		{"IMF-fixdate leap day", "Thu, 29 Feb 2024 00:00:00 GMT", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), true},
		{"IMF-fixdate leap second rolls over", "Sat, 31 Dec 2016 23:59:60 GMT", time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"IMF-fixdate year 0000", "Sat, 01 Jan 0000 00:00:00 GMT", time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"IMF-fixdate end of day", "Fri, 31 Dec 9999 23:59:59 GMT", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), true},
		{"rfc850", "Sunday, 06-Nov-94 08:49:37 GMT", nov6, true},
		{"rfc850 lowercase", "sunday, 06-nov-94 08:49:37 GMT", nov6, true},
		{"rfc850 yy 69 → 2069", "Wednesday, 01-Jan-69 00:00:00 GMT", time.Date(2069, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"rfc850 yy 70 → 1970", "Thursday, 01-Jan-70 00:00:00 GMT", time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"rfc850 yy 00 → 2000", "Saturday, 01-Jan-00 00:00:00 GMT", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"rfc850 four-digit year", "Sunday, 06-Nov-1994 08:49:37 GMT", nov6, true},
		{"asctime", "Sun Nov  6 08:49:37 1994", nov6, true},
		{"asctime zero-padded day", "Sun Nov 06 08:49:37 1994", nov6, true},
		{"asctime two-digit day", "Wed Nov 16 08:49:37 1994", time.Date(1994, 11, 16, 8, 49, 37, 0, time.UTC), true},

		// RFC 9111 §4.2: a cache matches dates case-insensitively.
		{"IMF-fixdate lowercase gmt", "Sun, 06 Nov 1994 08:49:37 gmt", nov6, true},
		{"rfc850 mixed-case Gmt", "Sunday, 06-Nov-94 08:49:37 Gmt", nov6, true},
		// RFC 9110 §5.6.7 "be robust": RFC 5322 §3.3 date-time.
		{"IMF UTC", "Sun, 06 Nov 1994 08:49:37 UTC", nov6, true},
		{"IMF UT", "Sun, 06 Nov 1994 08:49:37 UT", nov6, true},
		{"IMF single-digit day", "Sun, 6 Nov 1994 08:49:37 GMT", nov6, true},
		{"IMF without day name", "06 Nov 1994 08:49:37 GMT", nov6, true},
		{"IMF without seconds", "Sun, 06 Nov 1994 08:49 GMT", nov6.Add(-37 * time.Second), true},
		{"IMF runs of spaces", "Sun,  06  Nov 1994   08:49:37 GMT", nov6, true},
		{"IMF numeric zone", "Sun, 06 Nov 1994 09:49:37 +0100", nov6, true},
		{"IMF negative zone", "Sun, 06 Nov 1994 03:19:37 -0530", nov6, true},
		{"IMF -0000", "Sun, 06 Nov 1994 08:49:37 -0000", nov6, true},

		{"empty", "", time.Time{}, false},
		{"garbage", "yesterday", time.Time{}, false},
		{"zero", "0", time.Time{}, false},
		{"IMF-fixdate EST", "Sun, 06 Nov 1994 08:49:37 EST", time.Time{}, false},
		{"lenient two-digit year", "Sun, 06 Nov 94 08:49:37 GMT", time.Time{}, false},
		{"lenient without zone", "Sun, 06 Nov 1994 08:49:37", time.Time{}, false},
		{"lenient comment", "Sun, 06 Nov 1994 08:49:37 GMT (x)", time.Time{}, false},
		{"lenient bad offset minutes", "Sun, 06 Nov 1994 08:49:37 +0160", time.Time{}, false},
		{"lenient offset out of HTTP-date range", "Sat, 01 Jan 0000 00:00:00 +0100", time.Time{}, false},
		{"lenient day name without comma", "Sun 06 Nov 1994 08:49:37 GMT", time.Time{}, false},
		{"lenient three-digit day", "Sun, 006 Nov 1994 08:49:37 GMT", time.Time{}, false},
		{"IMF-fixdate bad day name", "Sum, 06 Nov 1994 08:49:37 GMT", time.Time{}, false},
		{"IMF-fixdate bad month", "Sun, 06 Nox 1994 08:49:37 GMT", time.Time{}, false},
		{"IMF-fixdate 31 Nov", "Sun, 31 Nov 1994 08:49:37 GMT", time.Time{}, false},
		{"IMF-fixdate 29 Feb non-leap", "Sun, 29 Feb 1900 08:49:37 GMT", time.Time{}, false},
		{"IMF-fixdate day 00", "Sun, 00 Nov 1994 08:49:37 GMT", time.Time{}, false},
		{"IMF-fixdate hour 24", "Sun, 06 Nov 1994 24:00:00 GMT", time.Time{}, false},
		{"IMF-fixdate minute 60", "Sun, 06 Nov 1994 08:60:00 GMT", time.Time{}, false},
		{"IMF-fixdate second 61", "Sun, 06 Nov 1994 08:49:61 GMT", time.Time{}, false},
		{"IMF-fixdate missing comma", "Sun  06 Nov 1994 08:49:37 GMT", time.Time{}, false},
		{"IMF-fixdate colon misplaced", "Sun, 06 Nov 1994 08-49:37 GMT", time.Time{}, false},
		{"IMF-fixdate sign in year", "Sun, 06 Nov +994 08:49:37 GMT", time.Time{}, false},
		{"IMF-fixdate trailing junk", "Sun, 06 Nov 1994 08:49:37 GMTx", time.Time{}, false},
		{"rfc850 short day name", "Sun, 06-Nov-94 08:49:37 GMT", time.Time{}, false},
		{"rfc850 wrong long name", "Sundae, 06-Nov-94 08:49:37 GMT", time.Time{}, false},
		{"rfc850 three-digit year", "Sunday, 06-Nov-994 08:49:37 GMT", time.Time{}, false},
		{"asctime bad year", "Sun Nov  6 08:49:37 19x4", time.Time{}, false},
		{"asctime bad day", "Sun Nov  x 08:49:37 1994", time.Time{}, false},
		{"non-ASCII", "Sun, 06 Nov 1994 08:49:37 G\xc3\x9f", time.Time{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseHTTPDate(tc.in)
			if ok != tc.ok || !got.Equal(tc.want) || (ok && got.Location() != time.UTC) {
				t.Errorf("parseHTTPDate(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestHTTPDate_RFC9110_5_6_7_Format(t *testing.T) {
	cases := []time.Time{
		time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC),
		time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.UTC),
		time.Date(1994, 11, 6, 8, 49, 37, 0, time.FixedZone("x", -5*3600)),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		{},
	}
	for _, tm := range cases {
		want := tm.UTC().Format(http.TimeFormat)
		if got := formatHTTPDate(tm); got != want {
			t.Errorf("formatHTTPDate(%v) = %q, want %q", tm, got, want)
		}
	}
}

func TestHTTPDate_ZeroAllocs(t *testing.T) {
	for _, in := range []string{
		"Sun, 06 Nov 1994 08:49:37 GMT",
		"Sunday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov  6 08:49:37 1994",
	} {
		if n := testing.AllocsPerRun(100, func() { _, _ = parseHTTPDate(in) }); n != 0 {
			t.Errorf("parseHTTPDate(%q): %v allocs, want 0", in, n)
		}
	}
}

var benchTimeSink time.Time

func BenchmarkParseHTTPDate(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"IMF-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT"},
		{"rfc850", "Sunday, 06-Nov-94 08:49:37 GMT"},
		{"asctime", "Sun Nov  6 08:49:37 1994"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				benchTimeSink, _ = parseHTTPDate(bc.in)
			}
		})
	}
}

var benchStringSink string

func BenchmarkFormatHTTPDate(b *testing.B) {
	tm := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		benchStringSink = formatHTTPDate(tm)
	}
}

func FuzzParseHTTPDate(f *testing.F) {
	for _, s := range []string{
		"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
		"Sat, 31 Dec 2016 23:59:60 GMT", "Wednesday, 01-Jan-1969 00:00:00 GMT", "", "Sun, 31 Nov 1994 08:49:37 GMT",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseHTTPDate(s)
		if !ok {
			if !got.IsZero() {
				t.Fatalf("failed parse returned %v", got)
			}
			return
		}
		if got.Location() != time.UTC || got.Nanosecond() != 0 {
			t.Fatalf("parseHTTPDate(%q) = %v: not whole UTC seconds", s, got)
		}
		// Formatting and parsing again gives the same instant.
		f := formatHTTPDate(got)
		back, ok := parseHTTPDate(f)
		if !ok || !back.Equal(got) {
			t.Fatalf("parseHTTPDate(%q) = %v; formatted %q parses to %v, %v", s, got, f, back, ok)
		}
		// Where net/http also accepts an IMF-fixdate or asctime value (not
		// RFC 850: its two-digit year pivot differs), both agree.
		if want, err := http.ParseTime(s); err == nil && (len(s) == 29 || len(s) == 24) && !want.Equal(got) {
			t.Fatalf("parseHTTPDate(%q) = %v; net/http says %v", s, got, want)
		}
	})
}
