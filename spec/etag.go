package spec

// Entity tags (RFC 9110 §8.8.3) and their comparison in preconditions
// (§13.1.1 If-Match, §13.1.2 If-None-Match).
//
//	entity-tag = [ weak ] opaque-tag
//	weak       = %s"W/"
//	opaque-tag = DQUOTE *etagc DQUOTE
//	etagc      = %x21 / %x23-7E / obs-text

// entityTag is a parsed entity-tag; the zero value is "no tag".
type entityTag struct {
	weak   bool
	opaque string // opaque-tag including the quotes
}

// parseETag parses one entity-tag (RFC 9110 §8.8.3), ignoring surrounding
// OWS. "W/" is case-sensitive, as the grammar says; the opaque-tag is kept
// as written (a substring of s), quotes included.
func parseETag(s string) (entityTag, bool) {
	s = lexTrimOWS(s)
	t, n := scanETag(s)
	if n == 0 || n != len(s) {
		return entityTag{}, false
	}
	return t, true
}

// scanETag parses an entity-tag at the start of s and returns it with the
// number of bytes it used, 0 when s does not start with one.
func scanETag(s string) (entityTag, int) {
	var t entityTag
	i := 0
	if len(s) >= 2 && s[0] == 'W' && s[1] == '/' {
		t.weak = true
		i = 2
	}
	if i >= len(s) || s[i] != '"' {
		return entityTag{}, 0
	}
	for j := i + 1; j < len(s); j++ {
		c := s[j]
		if c == '"' {
			t.opaque = s[i : j+1]
			return t, j + 1
		}
		if c < 0x21 || c == 0x7f { // etagc: %x21 / %x23-7E / obs-text
			return entityTag{}, 0
		}
	}
	return entityTag{}, 0
}

// strongMatch reports whether a and b match under strong comparison
// (RFC 9110 §8.8.3.2): neither is weak and their opaque-tags are identical.
// Zero entityTags never match.
func strongMatch(a, b entityTag) bool {
	return !a.weak && !b.weak && a.opaque != "" && a.opaque == b.opaque
}

// weakMatch reports whether a and b match under weak comparison
// (RFC 9110 §8.8.3.2): their opaque-tags are identical, either or both
// possibly weak. Zero entityTags never match.
func weakMatch(a, b entityTag) bool {
	return a.opaque != "" && a.opaque == b.opaque
}

// etagListMatches reports whether an If-None-Match / If-Match style list (several field lines,
// "*" allowed) contains a tag matching t under weak (weak=true) or strong comparison.
//
// If-None-Match uses weak comparison (RFC 9110 §13.1.2), If-Match strong
// (§13.1.1). A "*" member matches whatever t is, even the zero entityTag:
// it means "any current representation", and whether one exists is the
// caller's to decide. Members are separated by commas outside opaque-tags
// (an opaque-tag may contain commas); empty members and OWS are ignored; a
// malformed member is skipped up to the next comma and matches nothing.
func etagListMatches(values []string, t entityTag, weak bool) bool {
	for _, s := range values {
		i := 0
		for i < len(s) {
			c := s[i]
			if c == ' ' || c == '\t' || c == ',' {
				i++
				continue
			}
			if c == '*' {
				if j := lexSkipOWS(s, i+1); j == len(s) || s[j] == ',' {
					return true
				}
			} else if m, n := scanETag(s[i:]); n > 0 {
				j := lexSkipOWS(s, i+n)
				if j == len(s) || s[j] == ',' {
					if weak && weakMatch(m, t) || !weak && strongMatch(m, t) {
						return true
					}
				}
				i = j
			}
			// Move to the next comma, past what is left of a malformed member.
			for i < len(s) && s[i] != ',' {
				i++
			}
		}
	}
	return false
}
