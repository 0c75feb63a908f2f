package spec

// The RFC 9651 Dictionary parser (§4.2.2) that targeted fields (RFC 9213
// §2.1) are read with, reduced to what cache directives use. It works on
// substrings of its input and makes no heap allocation.

// Kinds of RFC 9651 values, as far as cache directives care.
const (
	dictOther    = iota // Decimal, Token, Byte Sequence, Date, Display String, Inner List
	dictBoolTrue        // Boolean true (or a bare key)
	dictBoolFalse
	dictInteger
	dictString
)

// dictValue is a Dictionary member value reduced to what directives use.
type dictValue struct {
	kind  int
	n     int64  // dictInteger
	str   string // dictString: raw content between the quotes (escapes kept)
	strOK bool   // dictString: content lies within one field line
}

// delta maps v onto a delta-seconds directive (RFC 9213 §2.1: an Integer).
func (v *dictValue) delta() deltaSeconds {
	if v.kind != dictInteger || v.n < 0 {
		return deltaSeconds{set: true, invalid: true}
	}
	return deltaSeconds{set: true, secs: min(v.n, deltaSecondsCap)}
}

// fieldList maps v onto no-cache or private (RFC 9213 §2.1: Boolean true or
// a String holding a comma-separated field-name list).
func (v *dictValue) fieldList() (bool, string) {
	switch v.kind {
	case dictBoolFalse:
		return false, ""
	case dictString:
		if v.strOK {
			return true, lexTrimOWS(v.str)
		}
	}
	return true, ""
}

// dictInput reads the field lines of a Structured Field as one string, the
// lines joined with ", " (RFC 9651 §4.2), without building that string. The
// virtual input is a sequence of segments: k even is lines[k/2], k odd is
// the ", " separator. Keys, tokens and numbers never span segments (the
// separator ends them); strings can, and are then reported as split. Only
// integers are stored through the receiver, which keeps escape analysis
// from moving callers' slices to the heap.
type dictInput struct {
	lines []string
	k     int // current segment
	last  int // index of the last segment
	pos   int // read offset in segment k
}

// seg returns segment k.
func (in *dictInput) seg() string {
	if in.k&1 == 1 {
		return ", "
	}
	return in.lines[in.k>>1]
}

// fill moves to the next non-empty segment; false at the end of input.
func (in *dictInput) fill() bool {
	for in.pos >= len(in.seg()) {
		if in.k >= in.last {
			return false
		}
		in.k++
		in.pos = 0
	}
	return true
}

func (in *dictInput) empty() bool { return !in.fill() }

// peek returns the next character, or 0 at the end of input (0 never
// matches anything a Structured Field accepts, so it also fails parsing).
func (in *dictInput) peek() byte {
	if !in.fill() {
		return 0
	}
	return in.seg()[in.pos]
}

func (in *dictInput) advance() {
	if in.fill() {
		in.pos++
	}
}

// skipOWS discards SP and HTAB (RFC 9651 §4.2.2 between members).
func (in *dictInput) skipOWS() {
	for c := in.peek(); c == ' ' || c == '\t'; c = in.peek() {
		in.advance()
	}
}

// skipSP discards SP (RFC 9651 §4.2.1.2, §4.2.3.2).
func (in *dictInput) skipSP() {
	for in.peek() == ' ' {
		in.advance()
	}
}

// run consumes the longest prefix of the current segment whose bytes
// satisfy ok; it is how keys, tokens and digits are read.
func (in *dictInput) run(ok func(byte) bool) string {
	if !in.fill() {
		return ""
	}
	s := in.seg()
	i := in.pos
	for i < len(s) && ok(s[i]) {
		i++
	}
	r := s[in.pos:i]
	in.pos = i
	return r
}

// key parses an sf-key (RFC 9651 §4.2.3.3).
func (in *dictInput) key() (string, bool) {
	c := in.peek()
	if !(c >= 'a' && c <= 'z' || c == '*') {
		return "", false
	}
	return in.run(dictIsKeyChar), true
}

func dictIsKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*'
}

func dictIsTokenChar(c byte) bool { return lexIsTchar(c) || c == ':' || c == '/' }

func dictIsDigit(c byte) bool { return c >= '0' && c <= '9' }

func dictIsBase64(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '='
}

// itemOrInnerList parses a member value (RFC 9651 §4.2.1.1). Inner lists
// are validated but reported as dictOther.
func (in *dictInput) itemOrInnerList(v *dictValue) bool {
	if in.peek() != '(' {
		return in.bareItem(v) && in.params()
	}
	in.advance()
	for !in.empty() {
		in.skipSP()
		if in.peek() == ')' {
			in.advance()
			v.kind = dictOther
			return in.params()
		}
		var item dictValue
		if !in.bareItem(&item) || !in.params() {
			return false
		}
		if c := in.peek(); c != ' ' && c != ')' {
			return false
		}
	}
	return false
}

// params parses and discards Parameters (RFC 9651 §4.2.3.2).
func (in *dictInput) params() bool {
	for in.peek() == ';' {
		in.advance()
		in.skipSP()
		if _, ok := in.key(); !ok {
			return false
		}
		if in.peek() == '=' {
			in.advance()
			var pv dictValue
			if !in.bareItem(&pv) {
				return false
			}
		}
	}
	return true
}

// bareItem parses a Bare Item (RFC 9651 §4.2.3.1).
func (in *dictInput) bareItem(v *dictValue) bool {
	c := in.peek()
	switch {
	case c == '-' || dictIsDigit(c):
		return in.number(v)
	case c == '"':
		return in.str(v)
	case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '*':
		in.run(dictIsTokenChar) // §4.2.6
		v.kind = dictOther
		return true
	case c == ':':
		return in.byteSeq(v)
	case c == '?': // §4.2.8
		in.advance()
		switch in.peek() {
		case '1':
			v.kind = dictBoolTrue
		case '0':
			v.kind = dictBoolFalse
		default:
			return false
		}
		in.advance()
		return true
	case c == '@': // §4.2.9
		in.advance()
		if !in.number(v) || v.kind != dictInteger {
			return false
		}
		v.kind = dictOther
		return true
	case c == '%':
		return in.displayString(v)
	}
	return false
}

// number parses an Integer or Decimal (RFC 9651 §4.2.4).
func (in *dictInput) number(v *dictValue) bool {
	neg := false
	if in.peek() == '-' {
		neg = true
		in.advance()
	}
	intPart := in.run(dictIsDigit)
	if intPart == "" {
		return false
	}
	if in.peek() != '.' {
		if len(intPart) > 15 {
			return false
		}
		var n int64
		for i := 0; i < len(intPart); i++ {
			n = n*10 + int64(intPart[i]-'0')
		}
		if neg {
			n = -n
		}
		v.kind, v.n = dictInteger, n
		return true
	}
	if len(intPart) > 12 {
		return false
	}
	in.advance()
	frac := in.run(dictIsDigit)
	if frac == "" || len(frac) > 3 {
		return false
	}
	v.kind = dictOther
	return true
}

// str parses a String (RFC 9651 §4.2.5).
func (in *dictInput) str(v *dictValue) bool {
	in.advance() // DQUOTE
	if !in.fill() {
		return false
	}
	startK, startPos := in.k, in.pos
	for in.fill() {
		c := in.seg()[in.pos]
		in.pos++
		switch {
		case c == '\\':
			if !in.fill() {
				return false
			}
			if nc := in.seg()[in.pos]; nc != '"' && nc != '\\' {
				return false
			}
			in.pos++
		case c == '"':
			v.kind = dictString
			v.strOK = in.k == startK
			if v.strOK {
				v.str = in.seg()[startPos : in.pos-1]
			}
			return true
		case c < 0x20 || c > 0x7e:
			return false
		}
	}
	return false
}

// byteSeq validates a Byte Sequence (RFC 9651 §4.2.7): base64 alphabet,
// padding optional, non-zero pad bits tolerated.
func (in *dictInput) byteSeq(v *dictValue) bool {
	in.advance() // ':'
	b64 := in.run(dictIsBase64)
	if in.peek() != ':' {
		return false
	}
	in.advance()
	data := b64
	for len(data) > 0 && data[len(data)-1] == '=' {
		data = data[:len(data)-1]
	}
	pad := len(b64) - len(data)
	for i := 0; i < len(data); i++ {
		if data[i] == '=' {
			return false
		}
	}
	if len(data)%4 == 1 || pad > 2 || pad > 0 && (len(data)+pad)%4 != 0 {
		return false
	}
	v.kind = dictOther
	return true
}

// displayString validates a Display String (RFC 9651 §4.2.10): printable
// ASCII and lowercase %xx escapes that decode to valid UTF-8.
func (in *dictInput) displayString(v *dictValue) bool {
	in.advance() // '%'
	if in.peek() != '"' {
		return false
	}
	in.advance()
	var u dictUTF8Check
	for !in.empty() {
		c := in.peek()
		in.advance()
		switch {
		case c < 0x20 || c > 0x7e:
			return false
		case c == '%':
			h1 := in.peek()
			in.advance()
			h2 := in.peek()
			in.advance()
			hi, ok1 := dictLowerHex(h1)
			lo, ok2 := dictLowerHex(h2)
			if !ok1 || !ok2 || !u.add(hi<<4|lo) {
				return false
			}
		case c == '"':
			if !u.done() {
				return false
			}
			v.kind = dictOther
			return true
		default:
			if !u.add(c) {
				return false
			}
		}
	}
	return false
}

func dictLowerHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// dictUTF8Check validates a byte stream as UTF-8 one byte at a time (RFC 3629
// §4: no overlongs, no surrogates, nothing above U+10FFFF).
type dictUTF8Check struct {
	need   int  // continuation bytes still expected
	lo, hi byte // allowed range of the next continuation byte
}

func (u *dictUTF8Check) add(b byte) bool {
	if u.need > 0 {
		if b < u.lo || b > u.hi {
			return false
		}
		u.need--
		u.lo, u.hi = 0x80, 0xBF
		return true
	}
	u.lo, u.hi = 0x80, 0xBF
	switch {
	case b < 0x80:
		return true
	case b >= 0xC2 && b <= 0xDF:
		u.need = 1
	case b == 0xE0:
		u.need, u.lo = 2, 0xA0
	case b >= 0xE1 && b <= 0xEC, b == 0xEE, b == 0xEF:
		u.need = 2
	case b == 0xED:
		u.need, u.hi = 2, 0x9F
	case b == 0xF0:
		u.need, u.lo = 3, 0x90
	case b >= 0xF1 && b <= 0xF3:
		u.need = 3
	case b == 0xF4:
		u.need, u.hi = 3, 0x8F
	default:
		return false
	}
	return true
}

func (u *dictUTF8Check) done() bool { return u.need == 0 }
