package spec

import "math"

// Range requests (RFC 9110 §14).
//
//	Range         = ranges-specifier
//	ranges-specifier = range-unit "=" range-set
//	range-set     = 1#range-spec
//	range-spec    = int-range / suffix-range / other-range
//	int-range     = first-pos "-" [ last-pos ]
//	suffix-range  = "-" suffix-length
//	Content-Range = range-unit SP ( range-resp / unsatisfied-range )
//	range-resp    = incl-range "/" ( complete-length / "*" )
//	unsatisfied-range = "*/" complete-length

// ByteRange is a resolved, satisfiable byte range of a representation: [Start, Start+Length).
type ByteRange struct{ Start, Length int64 }

// rangeOutcome says what a server is to do with a Range field (RFC 9110 §14.2).
type rangeOutcome int

const (
	rangeIgnored       rangeOutcome = iota // serve the whole representation (200)
	rangeUnsatisfiable                     // 416 (RFC 9110 §15.5.17)
	rangeSatisfiable                       // 206 (RFC 9110 §15.3.7)
)

// rangeMaxSpecs bounds the number of range-specs parseRange accepts.
const rangeMaxSpecs = 100

// parseRange resolves a Range field value against a representation of `size` bytes (§14.1.2).
// It returns (nil, rangeIgnored) for anything that is not a valid bytes range-set (unknown unit,
// syntax error: §14.2 says ignore the field), (nil, rangeUnsatisfiable) when no range is
// satisfiable (→ 416), else the ranges in request order with suffix ranges and open ends resolved
// and ends clamped to size-1. Reject (rangeIgnored) more than 100 ranges, to bound work.
//
// Details a caller must know:
//   - The unit "bytes" is matched case-insensitively (§14.1); OWS around the
//     whole value and around list members is allowed, and empty members are
//     ignored (RFC 9110 §5.6.1.2); at least one range-spec is required.
//   - One invalid range-spec (last-pos < first-pos, non-digits) makes the
//     whole field invalid and so ignored (§14.1.1, §14.2).
//   - Unsatisfiable range-specs (first-pos ≥ size, suffix-length 0) are
//     dropped from the result; overlapping or unordered ranges are returned
//     as requested, not coalesced (§14.2 lets a server ignore such sets; that
//     policy is the caller's).
//   - Numbers too large for int64 saturate, so they are unsatisfiable as a
//     first-pos and clamp as a last-pos or suffix-length.
//   - With size 0 only a non-zero suffix-range is satisfiable (§14.1.3), yet
//     it selects no byte and no 206 can describe it: such a field is
//     rangeIgnored (a server MAY ignore Range, §14.2), so the empty
//     representation is served whole. A negative size is rangeIgnored too.
//   - Only the bytes of the slice are allocated, and only when satisfiable.
func parseRange(v string, size int64) ([]ByteRange, rangeOutcome) {
	v = lexTrimOWS(v)
	eq := 0
	for eq < len(v) && v[eq] != '=' {
		eq++
	}
	if eq == len(v) || !lexEqualFold(v[:eq], "bytes") || size < 0 {
		return nil, rangeIgnored
	}
	set := v[eq+1:]
	n, sat := 0, 0
	for rest := set; ; {
		spec, more := rangeNextSpec(&rest)
		if !more {
			break
		}
		if spec == "" {
			continue
		}
		n++
		if n > rangeMaxSpecs {
			return nil, rangeIgnored
		}
		first, last, ok := rangeParseSpec(spec)
		if !ok {
			return nil, rangeIgnored
		}
		if first >= 0 && first < size || first < 0 && last > 0 {
			sat++
		}
	}
	if n == 0 {
		return nil, rangeIgnored
	}
	if sat == 0 {
		return nil, rangeUnsatisfiable
	}
	if size == 0 {
		return nil, rangeIgnored
	}
	out := make([]ByteRange, 0, sat)
	for rest := set; ; {
		spec, more := rangeNextSpec(&rest)
		if !more {
			break
		}
		if spec == "" {
			continue
		}
		first, last, _ := rangeParseSpec(spec)
		switch {
		case first < 0: // suffix-range: last is the suffix-length
			if last > 0 {
				l := min(last, size)
				out = append(out, ByteRange{Start: size - l, Length: l})
			}
		case first < size:
			end := size - 1
			if last >= 0 && last < end {
				end = last
			}
			out = append(out, ByteRange{Start: first, Length: end - first + 1})
		}
	}
	return out, rangeSatisfiable
}

// rangeNextSpec cuts the next comma-separated member off *rest, trimmed of
// OWS; more is false when nothing is left.
func rangeNextSpec(rest *string) (spec string, more bool) {
	s := *rest
	if s == "" {
		return "", false
	}
	i := 0
	for i < len(s) && s[i] != ',' {
		i++
	}
	if i < len(s) {
		*rest = s[i+1:]
	} else {
		*rest = ""
	}
	return lexTrimOWS(s[:i]), true
}

// rangeParseSpec parses one bytes range-spec (RFC 9110 §14.1.2). For an
// int-range it returns first ≥ 0 and last (−1 when absent); for a
// suffix-range first = −1 and last = suffix-length. Values saturate at
// math.MaxInt64.
func rangeParseSpec(s string) (first, last int64, ok bool) {
	dash := 0
	for dash < len(s) && s[dash] != '-' {
		dash++
	}
	if dash == len(s) {
		return 0, 0, false
	}
	if dash == 0 {
		n, ok := rangeSatDigits(s[1:])
		return -1, n, ok
	}
	first, ok = rangeSatDigits(s[:dash])
	if !ok {
		return 0, 0, false
	}
	if dash == len(s)-1 {
		return first, -1, true
	}
	last, ok = rangeSatDigits(s[dash+1:])
	if !ok || last < first {
		return 0, 0, false
	}
	return first, last, true
}

// rangeSatDigits parses 1*DIGIT, saturating at math.MaxInt64.
func rangeSatDigits(s string) (int64, bool) {
	v, _, ok := parseDigits(s, math.MaxInt64)
	return v, ok
}

// parseContentRange parses a Content-Range of a 206 or 416 (§14.4): "bytes first-last/complete"
// (complete may be "*", returned as -1) or "bytes */complete".
//
// For "bytes */complete" first and last are -1. The unit is matched
// case-insensitively and must be "bytes"; one or more SP may follow it;
// surrounding OWS is ignored. ok is false for any other unit, a syntax
// error, a number that does not fit int64, or an invalid range-resp
// (last < first, or complete ≤ last: §14.4 says the recipient MUST NOT
// recombine such content).
func parseContentRange(v string) (first, last, complete int64, ok bool) {
	v = lexTrimOWS(v)
	if len(v) < 6 || !lexEqualFold(v[:5], "bytes") || v[5] != ' ' {
		return 0, 0, 0, false
	}
	v = rangeSkipSP(v[6:])
	slash := 0
	for slash < len(v) && v[slash] != '/' {
		slash++
	}
	if slash == len(v) {
		return 0, 0, 0, false
	}
	rng, cl := v[:slash], v[slash+1:]
	if rng == "*" {
		c, good := rangeExactDigits(cl)
		if !good {
			return 0, 0, 0, false
		}
		return -1, -1, c, true
	}
	dash := 0
	for dash < len(rng) && rng[dash] != '-' {
		dash++
	}
	if dash == len(rng) {
		return 0, 0, 0, false
	}
	f, ok1 := rangeExactDigits(rng[:dash])
	l, ok2 := rangeExactDigits(rng[dash+1:])
	if !ok1 || !ok2 || l < f {
		return 0, 0, 0, false
	}
	c := int64(-1)
	if cl != "*" {
		var ok3 bool
		c, ok3 = rangeExactDigits(cl)
		if !ok3 || c <= l {
			return 0, 0, 0, false
		}
	}
	return f, l, c, true
}

// rangeExactDigits parses 1*DIGIT; ok is false on overflow of int64.
func rangeExactDigits(s string) (int64, bool) {
	v, over, ok := parseDigits(s, math.MaxInt64)
	return v, ok && !over
}

func rangeSkipSP(s string) string {
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	return s
}
