package spec

import (
	"strings"
	"testing"
)

// TestTcharRFC9110Section5_6_2 checks the one tchar table against the
// RFC's grammar, byte by byte: tchar = "!" / "#" / "$" / "%" / "&" / "'" /
// "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA.
func TestTcharRFC9110Section5_6_2(t *testing.T) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		want := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
		if got := lexIsTchar(b); got != want {
			t.Errorf("lexIsTchar(%q) = %v, want %v", b, got, want)
		}
		if got := IsToken(string(b)); got != want {
			t.Errorf("IsToken(%q) = %v, want %v", b, got, want)
		}
	}
	for s, want := range map[string]bool{"": false, "GET": true, "X-Field": true, "a b": false, "a,b": false, `"a"`: false} {
		if got := IsToken(s); got != want {
			t.Errorf("IsToken(%q) = %v", s, got)
		}
	}
}
