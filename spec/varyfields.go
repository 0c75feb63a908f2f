package spec

import "strings"

// Field-list iteration (RFC 9110 §5.6.1) and the comparison of the header
// fields that a stored response's Vary nominates (RFC 9111 §4.1).

// forEachListMember calls fn for each member of a comma-separated list spread over several
// field lines (RFC 9110 §5.6.1): empty members and surrounding OWS dropped; commas inside
// quoted strings do not split. fn returns false to stop.
//
// Members are substrings of values. A quoted-string left open runs to the
// end of its field line.
func forEachListMember(values []string, fn func(member string) bool) {
	it := fieldListIter{sep: ',', quotes: true}
	for {
		m, ok := it.next(values)
		if !ok || !fn(m) {
			return
		}
	}
}

// fieldListIter yields the members of a list spread over field lines, as if the
// lines were joined with ", " (RFC 9110 §5.3), without joining them. The
// lines are passed to each call of next rather than kept, so that escape
// analysis does not make callers' slices escape.
type fieldListIter struct {
	line      int    // index of the next line
	s         string // unread rest of the current line
	more      bool   // s still holds a member, possibly empty
	sep       byte   // member separator: ',' for lists, ';' for Cookie
	quotes    bool   // separators inside quoted-strings do not split
	keepEmpty bool   // yield empty members too
}

// next returns the next member, trimmed of OWS; ok is false at the end.
func (it *fieldListIter) next(values []string) (member string, ok bool) {
	for {
		if !it.more {
			if it.line >= len(values) {
				return "", false
			}
			it.s, it.more = values[it.line], true
			it.line++
		}
		s := it.s
		i := 0
		for i < len(s) && s[i] != it.sep {
			if it.quotes && s[i] == '"' {
				i, _ = lexQuotedEnd(s, i)
				continue
			}
			i++
		}
		m := lexTrimOWS(s[:i])
		if i < len(s) {
			it.s = s[i+1:]
		} else {
			it.s, it.more = "", false
		}
		if m != "" || it.keepEmpty {
			return m, true
		}
	}
}

// How field values compare under Vary.
const (
	varyFoldNone  = iota // case-sensitive
	varyFoldAll          // case-insensitive outside quoted-strings
	varyFoldNames        // case-insensitive outside quoted-strings and parameter values
)

// varyCmpRule says how the values of one field compare (RFC 9111 §4.1).
type varyCmpRule struct {
	exact     bool // a singleton: trimmed field lines compare one to one, byte for byte
	sep       byte
	quotes    bool
	keepEmpty bool
	params    bool // OWS next to ";" and "=" (outside quoted-strings) is insignificant; other runs collapse to one SP
	fold      int
	weighted  int // how a list of members with weights normalizes (varyWeight*)
}

// How a list whose members carry a weight (RFC 9110 §12.4.2) normalizes.
// Under both, a weight of 1 is the same as none ("If no q parameter is
// present, the default weight is 1"), and a qvalue is read as the number
// it writes ("q=0.50" is "q=0.5", "q=1.000" is none).
const (
	varyWeightNone = iota // members compare in order, weights as written
	// varyWeightSet: the field is a set of weighted members whose order
	// carries no meaning (Accept-Encoding §12.5.3: "the acceptable content
	// coding with the highest non-zero qvalue is preferred"; Accept-Charset
	// §12.5.2; TE §10.1.4): members are sorted.
	varyWeightSet
	// varyWeightRanked: members are sorted by weight, highest first, but
	// those of equal weight keep their order. For Accept-Language, §12.5.4
	// warns that "some recipients treat the order in which language tags
	// are listed as an indication of descending priority, particularly for
	// tags that are assigned equal quality values", so that order may
	// decide the origin's choice; for Accept (§12.5.1) precedence comes from
	// specificity and weight, and ties are kept as written, to be safe.
	varyWeightRanked
)

// varyCmpRuleFor returns the comparison rule of the field name, matched
// case-insensitively:
//
//   - Accept-Encoding, Accept-Charset, Accept-Language and TE are lists of
//     case-insensitive tokens (content-codings RFC 9110 §8.4.1, charsets
//     §8.3.2, language tags §8.5.1 via RFC 5646 §2.1.1, transfer-codings
//     §10.1.4) with a weight parameter (§12.4.2, OWS allowed around ";"):
//     case and parameter whitespace do not matter.
//   - Accept: type, subtype and parameter names are case-insensitive
//     (§8.3.1, §5.6.6) but parameter values may not be, so those keep
//     their case.
//   - In all five, weights normalize (§12.4.2): "q=1" is dropped and
//     qvalues compare as numbers; the members of Accept-Encoding,
//     Accept-Charset and TE compare as a set (any order), those of
//     Accept-Language and Accept as a list ranked by weight, where
//     members of equal weight keep their order (see varyWeightRanked). A
//     value whose weights cannot be read (an invalid qvalue, "q" twice or
//     not the last parameter) is not reordered nor reweighted at all.
//   - Cookie is split on ";" (RFC 6265 §5.4), byte for byte.
//   - Fields that are not lists — User-Agent, Referer, Host, Origin,
//     Authorization, Proxy-Authorization, From, Content-Type,
//     Content-Length, Range, If-Modified-Since, If-Unmodified-Since,
//     If-Range, Max-Forwards, Date — compare their OWS-trimmed field lines
//     byte for byte: their commas (such as in User-Agent comments) are not
//     list separators.
//   - Any other field is taken as a list: OWS around commas and the split
//     into field lines do not matter, but empty members are kept (they would
//     be significant in a field that is not a list) and the comparison is
//     case-sensitive.
func varyCmpRuleFor(name string) varyCmpRule {
	list := varyCmpRule{sep: ',', quotes: true, keepEmpty: true}
	exact := varyCmpRule{exact: true}
	ci := varyCmpRule{sep: ',', quotes: true, params: true, fold: varyFoldAll, weighted: varyWeightSet}
	switch len(name) {
	case 2:
		if lexEqualFold(name, "te") {
			return ci
		}
	case 4:
		if lexEqualFold(name, "host") || lexEqualFold(name, "from") || lexEqualFold(name, "date") {
			return exact
		}
	case 5:
		if lexEqualFold(name, "range") {
			return exact
		}
	case 6:
		switch {
		case lexEqualFold(name, "accept"):
			return varyCmpRule{sep: ',', quotes: true, params: true, fold: varyFoldNames, weighted: varyWeightRanked}
		case lexEqualFold(name, "cookie"):
			return varyCmpRule{sep: ';'}
		case lexEqualFold(name, "origin"):
			return exact
		}
	case 7:
		if lexEqualFold(name, "referer") {
			return exact
		}
	case 8:
		if lexEqualFold(name, "if-range") {
			return exact
		}
	case 10:
		if lexEqualFold(name, "user-agent") {
			return exact
		}
	case 12:
		if lexEqualFold(name, "content-type") || lexEqualFold(name, "max-forwards") {
			return exact
		}
	case 13:
		if lexEqualFold(name, "authorization") {
			return exact
		}
	case 14:
		if lexEqualFold(name, "accept-charset") {
			return ci
		}
		if lexEqualFold(name, "content-length") {
			return exact
		}
	case 15:
		if lexEqualFold(name, "accept-encoding") {
			return ci
		}
		if lexEqualFold(name, "accept-language") {
			al := ci
			al.weighted = varyWeightRanked
			return al
		}
	case 17:
		if lexEqualFold(name, "if-modified-since") {
			return exact
		}
	case 19:
		if lexEqualFold(name, "proxy-authorization") || lexEqualFold(name, "if-unmodified-since") {
			return exact
		}
	}
	return list
}

// varyValuesMatch reports whether two requests' values of the field `name` (canonical form)
// match under §4.1: whitespace where the syntax allows it and the split into field lines do not
// matter; for fields whose values are case-insensitive (Accept-Encoding, Accept-Charset,
// Accept-Language, and any field you can justify from RFC 9110) case does not matter either.
// Absent on both sides matches; absent on one side only does not.
//
// A field is absent when its slice is empty; a field present with an empty
// value is not absent. See varyCmpRuleFor for how each field compares:
// the weighted content-negotiation fields also normalize their weights and
// member order where the field's semantics make them equal (§4.1: "reordering
// field values when order is not significant"), exactly as
// appendVaryCanonical does.
func varyValuesMatch(name string, a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	if len(a) == 1 && len(b) == 1 && a[0] == b[0] {
		return true
	}
	r := varyCmpRuleFor(name)
	if r.exact {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if lexTrimOWS(a[i]) != lexTrimOWS(b[i]) {
				return false
			}
		}
		return true
	}
	if r.membersEqual(a, b) {
		return true
	}
	if r.weighted == varyWeightNone {
		return false
	}
	// Without parameters there is no weight to normalize: a ranked list
	// keeps its order then, and a one-member set has no order.
	n := countMembers(&r, a)
	if !hasSemicolon(a) && !hasSemicolon(b) && (r.weighted == varyWeightRanked || n == 1) {
		return false
	}
	// Normalization keeps the number of members: lists of different
	// lengths never match, whatever their weights and order.
	if n != countMembers(&r, b) {
		return false
	}
	var ba, bb [256]byte
	return string(appendWeightedList(ba[:0], &r, a)) == string(appendWeightedList(bb[:0], &r, b))
}

// membersEqual compares the members of a and b in order under r.
func (r *varyCmpRule) membersEqual(a, b []string) bool {
	ia := fieldListIter{sep: r.sep, quotes: r.quotes, keepEmpty: r.keepEmpty}
	ib := ia
	for {
		ma, oka := ia.next(a)
		mb, okb := ib.next(b)
		if oka != okb {
			return false
		}
		if !oka {
			return true
		}
		if !r.memberEqual(ma, mb) {
			return false
		}
	}
}

func hasSemicolon(values []string) bool {
	for _, v := range values {
		if strings.IndexByte(v, ';') >= 0 {
			return true
		}
	}
	return false
}

// countMembers counts the list members of values under r.
func countMembers(r *varyCmpRule, values []string) int {
	it := fieldListIter{sep: r.sep, quotes: r.quotes, keepEmpty: r.keepEmpty}
	n := 0
	for _, ok := it.next(values); ok; _, ok = it.next(values) {
		n++
	}
	return n
}

// weightedMember is one member of a weighted list in canonical form: the
// bytes [start, end) of the scratch buffer without its weight, and the
// weight in thousandths.
type weightedMember struct {
	start, end int
	w          int
}

// appendWeightedList appends the canonical form of a weighted list field
// (r.weighted is not varyWeightNone): each member's canonical bytes (as
// memberEqual compares them) without its weight, then ";q=" and the
// shortest form of the weight unless it is 1, then a 0 byte, the members
// ordered as r.weighted says. When a weight cannot be read, the members
// are appended as written (canonical bytes, in order), as for a list
// without weights.
func appendWeightedList(b []byte, r *varyCmpRule, values []string) []byte {
	var sbuf [256]byte
	var mbuf [16]weightedMember
	scratch, ms := sbuf[:0], mbuf[:0]
	regular := true
	it := fieldListIter{sep: r.sep, quotes: r.quotes, keepEmpty: r.keepEmpty}
	for m, ok := it.next(values); ok; m, ok = it.next(values) {
		start := len(scratch)
		c := varyCanonIter{s: m, params: r.params, fold: r.fold}
		for ch, ok := c.next(); ok; ch, ok = c.next() {
			scratch = append(scratch, ch)
		}
		end, w, ok := splitWeight(scratch[start:])
		if !ok {
			regular = false
			end, w = len(scratch)-start, 1000
		}
		ms = append(ms, weightedMember{start: start, end: start + end, w: w})
	}
	if !regular {
		for _, m := range ms {
			b = append(append(b, scratch[m.start:m.end]...), 0)
		}
		return b
	}
	// Insertion sort: stable, allocation-free, and lists are short.
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && weightedLess(r, scratch, ms[j], ms[j-1]); j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
	for _, m := range ms {
		b = append(b, scratch[m.start:m.end]...)
		if m.w != 1000 {
			b = appendQValue(append(b, ";q="...), m.w)
		}
		b = append(b, 0)
	}
	return b
}

// weightedLess orders weighted members: higher weight first; under
// varyWeightSet, equal weights by their bytes.
func weightedLess(r *varyCmpRule, scratch []byte, x, y weightedMember) bool {
	if x.w != y.w {
		return x.w > y.w
	}
	return r.weighted == varyWeightSet && string(scratch[x.start:x.end]) < string(scratch[y.start:y.end])
}

// splitWeight finds the weight of a canonical member m (no OWS around ";"
// and "=", parameter names folded): it returns the length of m without
// its weight and the weight in thousandths (1000 when absent). ok is false
// when the weight cannot be read: an invalid qvalue (§12.4.2), or a "q"
// parameter that is not the last one or not the only one.
func splitWeight(m []byte) (end, w int, ok bool) {
	end, w = len(m), 1000
	found := false
	inQ, esc := false, false
	for i := 0; i < len(m); i++ {
		c := m[i]
		switch {
		case inQ:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inQ = false
			}
			continue
		case c == '"':
			inQ = true
			continue
		case c != ';':
			continue
		}
		if i+2 < len(m) && m[i+1] == 'q' && m[i+2] == '=' {
			if found {
				return 0, 0, false
			}
			j := i + 3
			for j < len(m) && m[j] != ';' {
				j++
			}
			if j != len(m) {
				return 0, 0, false // q not last: ambiguous, §12.5.1
			}
			v, vok := parseQValue(m[i+3:])
			if !vok {
				return 0, 0, false
			}
			end, w, found = i, v, true
			i = j
		}
	}
	return end, w, true
}

// parseQValue parses a qvalue (RFC 9110 §12.4.2) into thousandths:
// "0" [ "." 0*3DIGIT ] / "1" [ "." 0*3("0") ].
func parseQValue(v []byte) (int, bool) {
	if len(v) == 0 || len(v) > 5 || v[0] != '0' && v[0] != '1' {
		return 0, false
	}
	if len(v) > 1 && v[1] != '.' {
		return 0, false
	}
	n := int(v[0]-'0') * 1000
	scale := 100
	for _, c := range v[min(2, len(v)):] {
		if c < '0' || c > '9' || v[0] == '1' && c != '0' {
			return 0, false
		}
		n += int(c-'0') * scale
		scale /= 10
	}
	return n, true
}

// appendQValue appends the shortest form of a weight in thousandths below
// 1000: "0", or "0." and its digits without trailing zeros.
func appendQValue(b []byte, w int) []byte {
	if w == 0 {
		return append(b, '0')
	}
	d := [3]byte{byte('0' + w/100), byte('0' + w/10%10), byte('0' + w%10)}
	n := 3
	for d[n-1] == '0' {
		n--
	}
	return append(append(b, "0."...), d[:n]...)
}

// memberEqual compares two list members under r.
func (r *varyCmpRule) memberEqual(x, y string) bool {
	if x == y {
		return true
	}
	if !r.params && r.fold == varyFoldNone {
		return false
	}
	// Fast path while neither side has OWS or a quote: the canonical form
	// is then the bytes themselves, folded.
	if len(x) == len(y) {
		inVal := false
		i := 0
		for ; i < len(x); i++ {
			a, b := x[i], y[i]
			if a == ' ' || a == '\t' || a == '"' || b == ' ' || b == '\t' || b == '"' {
				break
			}
			switch a {
			case ';':
				inVal = false
			case '=':
				inVal = true
			}
			if r.fold == varyFoldAll || r.fold == varyFoldNames && !inVal {
				a, b = lowerASCII(a), lowerASCII(b)
			}
			if a != b {
				return false
			}
		}
		if i == len(x) {
			return true
		}
	}
	cx := varyCanonIter{s: x, params: r.params, fold: r.fold}
	cy := varyCanonIter{s: y, params: r.params, fold: r.fold}
	for {
		a, oka := cx.next()
		b, okb := cy.next()
		if oka != okb || a != b {
			return false
		}
		if !oka {
			return true
		}
	}
}

// varyCanonIter yields the bytes of a list member in canonical form: letters
// folded as the rule says, and (with params) OWS next to ";" or "=" dropped
// and other OWS runs collapsed to one SP, all outside quoted-strings, whose
// bytes are kept as they are.
type varyCanonIter struct {
	s      string
	i      int
	params bool
	fold   int
	inQ    bool // inside a quoted-string
	esc    bool // after a backslash inside a quoted-string
	inVal  bool // after "=" in a parameter
	prev   byte // last byte yielded
}

func (c *varyCanonIter) next() (byte, bool) {
	for c.i < len(c.s) {
		ch := c.s[c.i]
		c.i++
		switch {
		case c.inQ:
			switch {
			case c.esc:
				c.esc = false
			case ch == '\\':
				c.esc = true
			case ch == '"':
				c.inQ = false
			}
		case ch == '"':
			c.inQ = true
		case (ch == ' ' || ch == '\t') && c.params:
			j := lexSkipOWS(c.s, c.i)
			c.i = j
			if c.prev == ';' || c.prev == '=' || j < len(c.s) && (c.s[j] == ';' || c.s[j] == '=') {
				continue
			}
			ch = ' '
		case ch == ';':
			c.inVal = false
		case ch == '=':
			c.inVal = true
		case ch >= 'A' && ch <= 'Z':
			if c.fold == varyFoldAll || c.fold == varyFoldNames && !c.inVal {
				ch += 'a' - 'A'
			}
		}
		c.prev = ch
		return ch, true
	}
	return 0, false
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
