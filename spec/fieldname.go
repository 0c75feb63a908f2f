package spec

import "net/http"

// Field names as the cache meets them in lists (Connection, Vary, qualified
// no-cache and private), compared with the keys of an http.Header without
// building canonical keys: canonicalising "keep-alive" or "accept-encoding"
// allocates, and these comparisons run for every response.
//
// Each helper gives exactly the answer of the http.CanonicalHeaderKey form
// it replaces, including for names that are not tokens, which
// CanonicalHeaderKey leaves as they are.

// canonicalIs reports whether http.CanonicalHeaderKey(name) == k.
func canonicalIs(name, k string) bool {
	if len(name) != len(k) {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !lexIsTchar(name[i]) {
			return name == k // not canonicalised
		}
	}
	upper := true
	for i := 0; i < len(name); i++ {
		c := canonicalByte(name[i], upper)
		if c != k[i] {
			return false
		}
		upper = c == '-'
	}
	return true
}

// canonicalByte is c as http.CanonicalHeaderKey writes it: upper case at
// the start of the name and after a hyphen (upper), lower case elsewhere.
func canonicalByte(c byte, upper bool) byte {
	if upper && 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	if !upper && 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// isCanonical reports whether http.CanonicalHeaderKey(name) == name.
func isCanonical(name string) bool { return canonicalIs(name, name) }

// canonicalGet returns h[http.CanonicalHeaderKey(name)]: the key (name
// itself when it is canonical, else a new string only if h holds the
// field), the values and whether h holds the field.
func canonicalGet(h http.Header, name string) (key string, vals []string, ok bool) {
	if isCanonical(name) {
		vals, ok = h[name]
		return name, vals, ok
	}
	var buf [64]byte
	if len(name) > len(buf) {
		key = http.CanonicalHeaderKey(name)
		vals, ok = h[key]
		return key, vals, ok
	}
	// Not canonical but all tchars (isCanonical is true otherwise): only
	// the case changes.
	b := buf[:len(name)]
	upper := true
	for i := 0; i < len(name); i++ {
		c := canonicalByte(name[i], upper)
		b[i] = c
		upper = c == '-'
	}
	if vals, ok = h[string(b)]; !ok { // no copy of b for the lookup
		return "", nil, false
	}
	return string(b), vals, true
}

// namesField reports whether the qualified field list of no-cache or
// private (as forEachFieldName splits it) names the header key k.
func namesField(list, k string) bool {
	for list != "" {
		i := 0
		for i < len(list) && list[i] != ',' {
			i++
		}
		if n := lexTrimOWS(list[:i]); n != "" && canonicalIs(n, k) {
			return true
		}
		if i == len(list) {
			return false
		}
		list = list[i+1:]
	}
	return false
}

// listNamesField reports whether a member of the list field values (as
// forEachListMember yields them; Connection's) names the header key k.
func listNamesField(values []string, k string) bool {
	it := fieldListIter{sep: ',', quotes: true}
	for m, ok := it.next(values); ok; m, ok = it.next(values) {
		if canonicalIs(m, k) {
			return true
		}
	}
	return false
}

// unstoredNames holds what a response's header says is never to be stored
// (§3.1: its Connection members, through HopByHop; §5.2.2.7: the names a
// qualified private lists, in a shared cache), the private list split once
// for the checks of every field. Past len(buf) names, has reads the list
// again.
type unstoredNames struct {
	buf     [8]string
	n       int
	conn    []string // the Connection field lines
	private string   // when the names overflowed buf
	over    bool
}

func (u *unstoredNames) init(conn []string, private string) {
	u.conn = conn
	for list := private; list != ""; {
		i := 0
		for i < len(list) && list[i] != ',' {
			i++
		}
		if n := lexTrimOWS(list[:i]); n != "" {
			u.add(n)
		}
		if i == len(list) {
			break
		}
		list = list[i+1:]
	}
	if u.over {
		u.private = private
	}
}

func (u *unstoredNames) add(name string) {
	if u.n == len(u.buf) {
		u.over = true
		return
	}
	u.buf[u.n] = name
	u.n++
}

// has reports whether header key k is never stored: a field HopByHop
// names, or one of the private names.
func (u *unstoredNames) has(k string) bool {
	if HopByHop(k, u.conn) {
		return true
	}
	if u.over {
		return namesField(u.private, k)
	}
	for _, n := range u.buf[:u.n] {
		if canonicalIs(n, k) {
			return true
		}
	}
	return false
}
