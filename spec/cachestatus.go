package spec

import (
	"strconv"
	"strings"
)

// Forward reasons of the RFC 9211 §2.2 fwd parameter, most specific first.
const (
	FwdBypass   = "bypass"    // the cache was configured not to handle the request
	FwdMethod   = "method"    // the method's semantics require forwarding
	FwdURIMiss  = "uri-miss"  // nothing stored for the target URI
	FwdVaryMiss = "vary-miss" // stored responses exist, none selected by Vary
	FwdMiss     = "miss"      // nothing usable, cause not distinguished
	FwdRequest  = "request"   // a fresh response exists but the request forbids its use
	FwdStale    = "stale"     // the selected response was stale
	FwdPartial  = "partial"   // the stored partial response did not cover the request
)

// CacheStatus holds the parameters of one RFC 9211 Cache-Status list member,
// as the core decided them. The engine fills Collapsed; the core fills the rest.
type CacheStatus struct {
	Hit       bool   // §2.1: satisfied from cache without going forward
	Fwd       string // §2.2: why the request went forward; "" on a hit
	FwdStatus int    // §2.3: the status the next hop returned; 0 when unknown
	TTL       int64  // §2.4: remaining freshness in seconds, negative when stale
	HasTTL    bool   // whether TTL is known (a response is selected or stored)
	Stored    bool   // §2.5: the response was stored
	Collapsed bool   // §2.6: the request was collapsed with another
	Key       string // §2.7: the cache key, when the caller chooses to show it
	Detail    string // §2.8: implementation-specific detail, e.g. "stale-while-revalidate"
}

// Value renders the list member for the cache named name (RFC 9211 §2 with
// RFC 9651 §4.1 serialization): a token when name is a valid token, else a
// string; booleans as bare parameters.
func (c CacheStatus) Value(name string) string {
	var b strings.Builder
	b.Grow(64)
	writeSFItem(&b, name)
	if c.Hit {
		b.WriteString("; hit")
	} else if c.Fwd != "" {
		b.WriteString("; fwd=")
		b.WriteString(c.Fwd)
		if c.FwdStatus != 0 {
			b.WriteString("; fwd-status=")
			b.WriteString(strconv.Itoa(c.FwdStatus))
		}
	}
	if c.HasTTL {
		b.WriteString("; ttl=")
		var n [20]byte // FormatInt would allocate a string for a TTL of 100 s or more
		b.Write(strconv.AppendInt(n[:0], c.TTL, 10))
	}
	if c.Fwd != "" && !c.Hit {
		if c.Stored {
			b.WriteString("; stored")
		}
		if c.Collapsed {
			b.WriteString("; collapsed")
		}
	}
	if c.Key != "" {
		b.WriteString("; key=")
		writeSFString(&b, c.Key)
	}
	if c.Detail != "" {
		b.WriteString("; detail=")
		writeSFItem(&b, c.Detail)
	}
	return b.String()
}

// writeSFItem writes s as an RFC 9651 token if it is one, else as a string.
func writeSFItem(b *strings.Builder, s string) {
	if isSFToken(s) {
		b.WriteString(s)
		return
	}
	writeSFString(b, s)
}

// isSFToken reports whether s is an sf-token (RFC 9651 §3.3.4).
func isSFToken(s string) bool {
	if s == "" {
		return false
	}
	c := s[0]
	if !(c == '*' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c == ':' || c == '/' || isTchar(c) {
			continue
		}
		return false
	}
	return true
}

// writeSFString writes s as an sf-string (RFC 9651 §4.1.6); bytes outside
// printable ASCII are dropped since sf-strings cannot carry them.
func writeSFString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// isTchar reports whether c is a tchar (RFC 9110 §5.6.2).
func isTchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
