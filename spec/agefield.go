package spec

// parseAge parses the Age header field (RFC 9111 §5.1: Age = delta-seconds).
//
// Age is a singleton, but "a cache encountering a message with a list-based
// Age field value SHOULD use the first member of the field value, discarding
// subsequent ones" (§5.1): the first non-empty member of the list formed by
// all field lines (RFC 9110 §5.6.1) is used. ok is false — the field is to be
// ignored — when there is no member or the first one is not a non-negative
// integer (1*DIGIT, surrounding OWS allowed). A value too large caps at
// 2147483648 (RFC 9111 §1.2.2).
func parseAge(values []string) (secs int64, ok bool) {
	for _, s := range values {
		i := 0
		for i < len(s) {
			c := s[i]
			if c == ' ' || c == '\t' || c == ',' {
				i++
				continue
			}
			j := i
			for j < len(s) && s[j] != ',' {
				j++
			}
			return parseDeltaSeconds(lexTrimOWS(s[i:j]))
		}
	}
	return 0, false
}
