package spec

import (
	"strconv"
	"testing"
)

// TestParseContentLengthRFC9110Section8_6: Content-Length = 1*DIGIT; a
// sign, a space or a value past int64 declares nothing.
func TestParseContentLengthRFC9110Section8_6(t *testing.T) {
	tests := []struct {
		in   string
		n    int64
		want bool
	}{
		{"5", 5, true},
		{"0", 0, true},
		{"007", 7, true},
		{"9223372036854775807", 9223372036854775807, true},
		{"9223372036854775808", 0, false},
		{"+5", 0, false},
		{"-0", 0, false},
		{"-5", 0, false},
		{" 5", 0, false},
		{"5 ", 0, false},
		{"0x5", 0, false},
		{"5,5", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		n, ok := ParseContentLength(tt.in)
		if ok != tt.want || ok && n != tt.n {
			t.Errorf("ParseContentLength(%q) = %d, %v; want %d, %v", tt.in, n, ok, tt.n, tt.want)
		}
	}
}

// FuzzParseContentLength checks ParseContentLength against strconv: it
// accepts exactly the unsigned decimal numbers that fit an int64.
func FuzzParseContentLength(f *testing.F) {
	for _, s := range []string{"5", "+5", "-0", "", "9223372036854775808", "007"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := ParseContentLength(s)
		want, err := strconv.ParseInt(s, 10, 64)
		wantOK := err == nil && s != "" && s[0] != '+' && s[0] != '-'
		if ok != wantOK || ok && n != want {
			t.Errorf("ParseContentLength(%q) = %d, %v; strconv says %d, %v", s, n, ok, want, wantOK)
		}
	})
}
