package spec

// The lexical helpers of RFC 9110 §5.6 that every parser of the core
// shares: tokens, OWS, quoted strings, case-insensitive comparison.

// IsToken reports whether s is a non-empty token (RFC 9110 §5.6.2): a
// method, a field name, a directive name. Every layer checks tokens with
// it, on the one tchar table.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !lexIsTchar(s[i]) {
			return false
		}
	}
	return true
}

// lexIsTchar reports whether c is a tchar (RFC 9110 §5.6.2).
func lexIsTchar(c byte) bool {
	if c < 64 {
		return lexTcharLo&(1<<c) != 0
	}
	if c < 128 {
		return lexTcharHi&(1<<(c-64)) != 0
	}
	return false
}

// tchar as two 64-bit sets: bytes 0–63 and 64–127.
const (
	lexTcharLo uint64 = 1<<'!' | 1<<'#' | 1<<'$' | 1<<'%' | 1<<'&' | 1<<'\'' | 1<<'*' |
		1<<'+' | 1<<'-' | 1<<'.' | (1<<10-1)<<'0'
	lexTcharHi uint64 = (1<<26-1)<<('A'-64) | (1<<26-1)<<('a'-64) |
		1<<('^'-64) | 1<<('_'-64) | 1<<('`'-64) | 1<<('|'-64) | 1<<('~'-64)
)

// lexSkipOWS returns the index of the first non-OWS byte at or after i
// (RFC 9110 §5.6.3: OWS = *( SP / HTAB )).
func lexSkipOWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// lexTrimOWS removes leading and trailing OWS (RFC 9110 §5.6.3).
func lexTrimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// lexEqualFold reports whether s equals lower, an all-lowercase ASCII
// string, ignoring ASCII case in s.
func lexEqualFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// lexQuotedEnd returns the index just past the quoted-string starting at
// s[i] == '"' (RFC 9110 §5.6.4, with quoted-pair escapes); ok is false when
// it is not terminated.
func lexQuotedEnd(s string, i int) (end int, ok bool) {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return len(s), false
}

// lexSkipMember returns the index of the next ',' at or after i that is not
// inside a quoted-string, or len(s).
func lexSkipMember(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ',':
			return i
		case '"':
			i, _ = lexQuotedEnd(s, i)
		default:
			i++
		}
	}
	return len(s)
}
