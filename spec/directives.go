package spec

// Cache-Control parsing: RFC 9111 §5.2 (with §1.2.2 delta-seconds and the
// §4.2.1 duplicate rule), RFC 5861 (stale-while-revalidate, stale-if-error),
// RFC 8246 (immutable), over RFC 9110 §5.6.1 lists. Targeted fields such as
// CDN-Cache-Control (RFC 9213 §2.1) fill the same directives: targeted.go,
// over the RFC 9651 Dictionary parser of dictionary.go; the lexical helpers
// are in lex.go.
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
