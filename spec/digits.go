package spec

import "math"

// parseDigits parses 1*DIGIT, saturating at limit (> 0): it returns the
// value (at most limit), whether it went past limit, and ok=false for an
// empty or non-digit string. delta-seconds (RFC 9111 §1.2.2), Age and the
// numbers of Range and Content-Range (RFC 9110 §14) all read digits this way
// and differ only in what they do past the limit.
func parseDigits(s string, limit int64) (v int64, over, ok bool) {
	if s == "" {
		return 0, false, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false, false
		}
		d := int64(c - '0')
		if over || v > (limit-d)/10 {
			v, over = limit, true
			continue
		}
		v = v*10 + d
	}
	return v, over, true
}

// ParseContentLength parses a Content-Length field value: 1*DIGIT (RFC 9110
// §8.6), no sign, no space, at most math.MaxInt64. Every layer that reads
// a Content-Length (the core, the engine, the stores) reads it with this.
func ParseContentLength(s string) (int64, bool) {
	n, over, ok := parseDigits(s, math.MaxInt64)
	return n, ok && !over
}
