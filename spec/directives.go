package spec

// Cache-Control parsing: RFC 9111 §5.2 (with §1.2.2 delta-seconds and the
// §4.2.1 duplicate rule), RFC 5861 (stale-while-revalidate, stale-if-error),
// RFC 8246 (immutable), over RFC 9110 §5.6.1 lists; and targeted fields such
// as CDN-Cache-Control (RFC 9213 §2.1), which are RFC 9651 Dictionaries.
//
// Everything here works on substrings of its input: parsing a header makes no
// heap allocation.

// deltaSecondsCap is the value a delta-seconds overflow turns into
// (RFC 9111 §1.2.2: "the cache MUST consider the value to be 2147483648").
const deltaSecondsCap = 2147483648

// deltaSeconds is a parsed delta-seconds argument (RFC 9111 §1.2.2).
type deltaSeconds struct {
	set     bool  // the directive appeared
	invalid bool  // it appeared but its argument was missing or not a non-negative integer
	secs    int64 // value, capped at 2147483648 (§1.2.2: overflow → 2^31)
}

// directives holds the Cache-Control (or targeted field) directives of one message.
type directives struct {
	present                                                           bool // at least one non-empty directive was seen
	maxAge, sMaxAge, minFresh, staleWhileRevalidate, staleIfError     deltaSeconds
	maxStale                                                          deltaSeconds // with value
	maxStaleAny                                                       bool         // max-stale without a value: any staleness accepted (§5.2.1.2)
	noCache, noStore, mustRevalidate, proxyRevalidate, mustUnderstand bool
	private, public, noTransform, onlyIfCached, immutable             bool
	noCacheFields                                                     string // raw field-name list of qualified no-cache="a, b" (quotes removed), "" when unqualified
	privateFields                                                     string // same for private="..."
}

// Directive identifiers, shared by the Cache-Control and the targeted-field
// parsers.
const (
	dirUnknown = iota
	dirMaxAge
	dirSMaxAge
	dirMinFresh
	dirMaxStale
	dirStaleWhileRevalidate
	dirStaleIfError
	dirNoCache
	dirNoStore
	dirMustRevalidate
	dirProxyRevalidate
	dirMustUnderstand
	dirPrivate
	dirPublic
	dirNoTransform
	dirOnlyIfCached
	dirImmutable
)

// dirLookup maps a directive name, compared case-insensitively
// (RFC 9111 §5.2), to its identifier; extensions are dirUnknown (§5.2.3).
func dirLookup(name string) int {
	switch len(name) {
	case 6:
		if lexEqualFold(name, "public") {
			return dirPublic
		}
	case 7:
		if lexEqualFold(name, "max-age") {
			return dirMaxAge
		}
		if lexEqualFold(name, "private") {
			return dirPrivate
		}
	case 8:
		switch {
		case lexEqualFold(name, "no-cache"):
			return dirNoCache
		case lexEqualFold(name, "no-store"):
			return dirNoStore
		case lexEqualFold(name, "s-maxage"):
			return dirSMaxAge
		}
	case 9:
		switch {
		case lexEqualFold(name, "immutable"):
			return dirImmutable
		case lexEqualFold(name, "max-stale"):
			return dirMaxStale
		case lexEqualFold(name, "min-fresh"):
			return dirMinFresh
		}
	case 12:
		if lexEqualFold(name, "no-transform") {
			return dirNoTransform
		}
	case 14:
		if lexEqualFold(name, "only-if-cached") {
			return dirOnlyIfCached
		}
		if lexEqualFold(name, "stale-if-error") {
			return dirStaleIfError
		}
	case 15:
		if lexEqualFold(name, "must-revalidate") {
			return dirMustRevalidate
		}
		if lexEqualFold(name, "must-understand") {
			return dirMustUnderstand
		}
	case 16:
		if lexEqualFold(name, "proxy-revalidate") {
			return dirProxyRevalidate
		}
	case 22:
		if lexEqualFold(name, "stale-while-revalidate") {
			return dirStaleWhileRevalidate
		}
	}
	return dirUnknown
}

// parseDirectives parses the Cache-Control field lines of one message
// (RFC 9111 §5.2: Cache-Control = #cache-directive, cache-directive = token
// [ "=" ( token / quoted-string ) ]).
//
//   - Names are case-insensitive; the field lines combine as one list
//     (RFC 9110 §5.3); empty list members, stray commas and OWS are ignored
//     (RFC 9110 §5.6.1.2). BWS around "=" is tolerated.
//   - Arguments may be a token or a quoted-string whichever form the
//     directive prefers for generation (§5.2: "recipients ought to accept both
//     forms"); a comma inside a quoted-string does not end the directive.
//   - A duplicated directive keeps its first occurrence (§4.2.1). The two
//     field-list directives are the exception, handled most-restrictively
//     (§4.2.1: "the most restrictive directive should be honored"): an
//     unqualified no-cache/private anywhere, or two qualified ones with
//     different lists, leave the directive unqualified (fields "").
//   - A delta-seconds directive whose argument is missing, empty, malformed
//     or negative is set with invalid=true; callers treat such freshness
//     information as stale (§4.2.1). Overflow caps at 2147483648 (§1.2.2).
//   - A member with junk after its name or argument ("max-age=5 x") still
//     names its directive; its argument counts as invalid.
//   - A qualified list that is empty or blank (no-cache="") is treated as
//     unqualified, the conservative reading.
//   - Unknown extension directives are ignored (§5.2.3) but set present.
func parseDirectives(values []string) directives {
	var d directives
	for _, s := range values {
		d.parseLine(s)
	}
	return d
}

// parseLine adds the directives of one Cache-Control field line to d.
func (d *directives) parseLine(s string) {
	i := 0
	for i < len(s) {
		c := s[i]
		if c == ' ' || c == '\t' || c == ',' {
			i++
			continue
		}
		start := i
		for i < len(s) && lexIsTchar(s[i]) {
			i++
		}
		if i == start {
			// Not a directive name: skip the malformed member.
			i = lexSkipMember(s, i)
			continue
		}
		name := s[start:i]
		j := lexSkipOWS(s, i)
		hasArg, argOK := false, true
		arg := ""
		if j < len(s) && s[j] == '=' {
			hasArg = true
			j = lexSkipOWS(s, j+1)
			if j < len(s) && s[j] == '"' {
				end, ok := lexQuotedEnd(s, j)
				if ok {
					arg = s[j+1 : end-1]
					j = end
				} else {
					argOK = false
					j = len(s)
				}
			} else {
				k := j
				for k < len(s) && lexIsTchar(s[k]) {
					k++
				}
				arg = s[j:k]
				j = k
			}
		}
		j = lexSkipOWS(s, j)
		if j < len(s) && s[j] != ',' {
			argOK = false
			j = lexSkipMember(s, j)
		}
		i = j
		d.present = true
		d.applyListDirective(dirLookup(name), hasArg, argOK, arg)
	}
}

// applyListDirective records one Cache-Control directive with first-wins
// duplicate handling (RFC 9111 §4.2.1).
func (d *directives) applyListDirective(id int, hasArg, argOK bool, arg string) {
	switch id {
	case dirMaxAge:
		d.maxAge.setFirst(hasArg && argOK, arg)
	case dirSMaxAge:
		d.sMaxAge.setFirst(hasArg && argOK, arg)
	case dirMinFresh:
		d.minFresh.setFirst(hasArg && argOK, arg)
	case dirStaleWhileRevalidate:
		d.staleWhileRevalidate.setFirst(hasArg && argOK, arg)
	case dirStaleIfError:
		d.staleIfError.setFirst(hasArg && argOK, arg)
	case dirMaxStale:
		if d.maxStale.set || d.maxStaleAny {
			return
		}
		if !hasArg && argOK {
			d.maxStaleAny = true
			return
		}
		d.maxStale.setFirst(hasArg && argOK, arg)
	case dirNoCache:
		d.noCacheFields = dirMergeFieldList(d.noCache, d.noCacheFields, hasArg && argOK, arg)
		d.noCache = true
	case dirPrivate:
		d.privateFields = dirMergeFieldList(d.private, d.privateFields, hasArg && argOK, arg)
		d.private = true
	case dirNoStore:
		d.noStore = true
	case dirMustRevalidate:
		d.mustRevalidate = true
	case dirProxyRevalidate:
		d.proxyRevalidate = true
	case dirMustUnderstand:
		d.mustUnderstand = true
	case dirPublic:
		d.public = true
	case dirNoTransform:
		d.noTransform = true
	case dirOnlyIfCached:
		d.onlyIfCached = true
	case dirImmutable:
		d.immutable = true
	}
}

// dirMergeFieldList returns the field list of no-cache or private after one more
// occurrence: qualified only while every occurrence so far carried the same
// non-blank list (RFC 9111 §5.2.2.4, §5.2.2.7, most restrictive per §4.2.1).
func dirMergeFieldList(seen bool, cur string, qualified bool, arg string) string {
	if qualified {
		arg = lexTrimOWS(arg)
	}
	if !qualified || arg == "" {
		return ""
	}
	if !seen {
		return arg
	}
	if cur == arg {
		return cur
	}
	return ""
}

// setFirst records a delta-seconds directive unless one was already seen
// (first occurrence wins, RFC 9111 §4.2.1).
func (ds *deltaSeconds) setFirst(ok bool, arg string) {
	if ds.set {
		return
	}
	ds.set = true
	if !ok {
		ds.invalid = true
		return
	}
	v, good := parseDeltaSeconds(arg)
	if !good {
		ds.invalid = true
		return
	}
	ds.secs = v
}

// parseDeltaSeconds parses delta-seconds = 1*DIGIT (RFC 9111 §1.2.2),
// capping at 2147483648.
func parseDeltaSeconds(s string) (int64, bool) {
	v, _, ok := parseDigits(s, deltaSecondsCap)
	return v, ok
}

// forEachFieldName calls fn for each field name (trimmed, as written) in a
// qualified list like noCacheFields (RFC 9111 §5.2.2.4: #field-name). Empty
// members are skipped.
func forEachFieldName(list string, fn func(name string)) {
	for list != "" {
		i := 0
		for i < len(list) && list[i] != ',' {
			i++
		}
		if name := lexTrimOWS(list[:i]); name != "" {
			fn(name)
		}
		if i == len(list) {
			return
		}
		list = list[i+1:]
	}
}

// ---- Targeted fields (RFC 9213 §2.1) over RFC 9651 Dictionaries ----

// parseTargetedDirectives parses a targeted cache-control field such as CDN-Cache-Control
// (RFC 9213 §2.1): an RFC 9651 Dictionary. ok is false when the field is absent or fails
// to parse as a Dictionary, in which case RFC 9213 says the whole field is ignored.
//
// ok is also false for an empty Dictionary (RFC 9213 §2.1: "If a targeted
// field in a given response is empty ... that field MUST be ignored"). The
// field lines are parsed as if joined with ", " (RFC 9651 §4.2), so members
// may sit on different lines.
//
// Unlike Cache-Control, keys are case-sensitive lowercase sf-keys
// ("Max-Age" fails the whole field) and a duplicated key overwrites the
// earlier one (RFC 9651 §4.2.2). Values map as RFC 9213 §2.1 infers:
//   - delta-seconds directives take an Integer ≥ 0 (capped at 2147483648);
//     any other value (Decimal, negative, String, Boolean...) sets them
//     invalid, which callers treat as stale;
//   - max-stale as Boolean true means any staleness;
//   - no-cache and private take Boolean true (unqualified) or a String
//     (the field list); Boolean false turns them off; any other value, or a
//     String split across field lines, leaves them unqualified;
//   - the other restrictive flags (no-store, must-revalidate,
//     proxy-revalidate, no-transform) are set by any value but Boolean false,
//     the conservative reading of a value RFC 9213 says not to consume;
//   - the permissive ones (public, immutable, must-understand,
//     only-if-cached) need Boolean true.
//
// Parameters are parsed and ignored; unknown keys are ignored (RFC 9111
// §5.2.3) but still make the field non-empty.
func parseTargetedDirectives(values []string) (d directives, ok bool) {
	ok = d.parseTargeted(values)
	return d, ok
}

// parseTargeted is parseTargetedDirectives into d, which must be zero; d is
// left zero when it returns false.
func (d *directives) parseTargeted(values []string) bool {
	if len(values) == 0 {
		return false
	}
	in := dictInput{lines: values, last: 2*len(values) - 2}
	// RFC 9651 §4.2: discard leading SP.
	for in.peek() == ' ' {
		in.advance()
	}
	for !in.empty() {
		key, good := in.key()
		if !good {
			*d = directives{}
			return false
		}
		var v dictValue
		if in.peek() == '=' {
			in.advance()
			if !in.itemOrInnerList(&v) {
				*d = directives{}
				return false
			}
		} else {
			v.kind = dictBoolTrue
			if !in.params() {
				*d = directives{}
				return false
			}
		}
		d.present = true
		d.assignTargeted(dirLookup(key), &v)
		in.skipOWS()
		if in.empty() {
			break
		}
		if in.peek() != ',' {
			*d = directives{}
			return false
		}
		in.advance()
		in.skipOWS()
		if in.empty() {
			*d = directives{} // trailing comma
			return false
		}
	}
	if !d.present {
		*d = directives{}
		return false
	}
	return true
}

// assignTargeted records a Dictionary member; later members overwrite
// earlier ones (RFC 9651 §4.2.2).
func (d *directives) assignTargeted(id int, v *dictValue) {
	switch id {
	case dirMaxAge:
		d.maxAge = v.delta()
	case dirSMaxAge:
		d.sMaxAge = v.delta()
	case dirMinFresh:
		d.minFresh = v.delta()
	case dirStaleWhileRevalidate:
		d.staleWhileRevalidate = v.delta()
	case dirStaleIfError:
		d.staleIfError = v.delta()
	case dirMaxStale:
		if v.kind == dictBoolTrue {
			d.maxStale, d.maxStaleAny = deltaSeconds{}, true
		} else {
			d.maxStale, d.maxStaleAny = v.delta(), false
		}
	case dirNoCache:
		d.noCache, d.noCacheFields = v.fieldList()
	case dirPrivate:
		d.private, d.privateFields = v.fieldList()
	case dirNoStore:
		d.noStore = v.kind != dictBoolFalse
	case dirMustRevalidate:
		d.mustRevalidate = v.kind != dictBoolFalse
	case dirProxyRevalidate:
		d.proxyRevalidate = v.kind != dictBoolFalse
	case dirNoTransform:
		d.noTransform = v.kind != dictBoolFalse
	case dirMustUnderstand:
		d.mustUnderstand = v.kind == dictBoolTrue
	case dirPublic:
		d.public = v.kind == dictBoolTrue
	case dirOnlyIfCached:
		d.onlyIfCached = v.kind == dictBoolTrue
	case dirImmutable:
		d.immutable = v.kind == dictBoolTrue
	}
}

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

// ---- Shared lexical helpers (RFC 9110 §5.6) ----

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
