package spec

import (
	"strconv"
	"strings"
	"testing"
)

func TestAge_RFC9111_5_1_Parse(t *testing.T) {
	cases := []struct {
		name   string
		values []string
		want   int64
		ok     bool
	}{
		{"absent", nil, 0, false},
		{"empty", []string{""}, 0, false},
		{"only commas", []string{" , ,"}, 0, false},
		{"zero", []string{"0"}, 0, true},
		{"simple", []string{"60"}, 60, true},
		{"OWS", []string{" \t60 "}, 60, true},
		{"leading zeros", []string{"0060"}, 60, true},
		{"list: first member wins", []string{"5, 10"}, 5, true},
		{"list over lines: first wins", []string{"5", "10"}, 5, true},
		{"empty members skipped", []string{"", " , 7 ,8"}, 7, true},
		{"first invalid, field ignored", []string{"x, 10"}, 0, false},
		{"first invalid line ignores field", []string{"x", "10"}, 0, false},
		{"negative", []string{"-1"}, 0, false},
		{"plus", []string{"+1"}, 0, false},
		{"decimal", []string{"1.5"}, 0, false},
		{"inner space", []string{"1 2"}, 0, false},
		{"2^31", []string{"2147483648"}, 2147483648, true},
		{"overflow caps (RFC 9111 §1.2.2)", []string{"2147483649"}, 2147483648, true},
		{"huge caps", []string{"999999999999999999999999999999"}, 2147483648, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseAge(tc.values)
			if got != tc.want || ok != tc.ok {
				t.Errorf("parseAge(%q) = %d, %v; want %d, %v", tc.values, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestAge_ZeroAllocs(t *testing.T) {
	for _, in := range [][]string{{"60"}, {"5, 10"}, {"", "7"}, {"x"}} {
		if n := testing.AllocsPerRun(100, func() { _, _ = parseAge(in) }); n != 0 {
			t.Errorf("parseAge(%q): %v allocs, want 0", in, n)
		}
	}
}

var benchInt64Sink int64

func BenchmarkParseAge(b *testing.B) {
	v := []string{"3600"}
	b.ReportAllocs()
	for b.Loop() {
		benchInt64Sink, _ = parseAge(v)
	}
}

// refParseAge is a slow, allocating reference for parseAge.
func refParseAge(values []string) (int64, bool) {
	for _, m := range strings.Split(strings.Join(values, ","), ",") {
		m = strings.Trim(m, " \t")
		if m == "" {
			continue
		}
		if strings.Trim(m, "0123456789") != "" {
			return 0, false
		}
		n, err := strconv.ParseInt(m, 10, 64)
		if err != nil || n > deltaSecondsCap {
			n = deltaSecondsCap
		}
		return n, true
	}
	return 0, false
}

func FuzzParseAge(f *testing.F) {
	for _, s := range []string{"60", "5, 10", " , 7", "-1", "99999999999999999999", "1 2", ""} {
		f.Add(s, "3")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		v := []string{a, b}
		got, ok := parseAge(v)
		if got < 0 || got > deltaSecondsCap || !ok && got != 0 {
			t.Fatalf("parseAge(%q) = %d, %v out of range", v, got, ok)
		}
		if want, wok := refParseAge(v); got != want || ok != wok {
			t.Fatalf("parseAge(%q) = %d, %v; reference %d, %v", v, got, ok, want, wok)
		}
	})
}
