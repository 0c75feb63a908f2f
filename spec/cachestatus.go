package spec

import (
	"strconv"
	"strings"
)

// Fwd is the value of the RFC 9211 §2.2 fwd parameter: why the request
// went forward. The empty Fwd is no fwd parameter (a hit, or an answer
// that never went forward).
type Fwd string

// Forward reasons of the RFC 9211 §2.2 fwd parameter, most specific first.
const (
	FwdBypass   Fwd = "bypass"    // the cache was configured not to handle the request
	FwdMethod   Fwd = "method"    // the method's semantics require forwarding
	FwdURIMiss  Fwd = "uri-miss"  // nothing stored for the target URI
	FwdVaryMiss Fwd = "vary-miss" // stored responses exist, none selected by Vary
	FwdMiss     Fwd = "miss"      // nothing usable, cause not distinguished
	FwdRequest  Fwd = "request"   // a fresh response exists but the request forbids its use
	FwdStale    Fwd = "stale"     // the selected response was stale
	FwdPartial  Fwd = "partial"   // the stored partial response did not cover the request
)

// FwdReasons are the fwd values RFC 9211 §2.2 defines, in its order: the
// one list that metrics and logs label requests by.
var FwdReasons = [...]Fwd{FwdBypass, FwdMethod, FwdURIMiss, FwdVaryMiss, FwdMiss, FwdRequest, FwdStale, FwdPartial}

// CacheStatus holds the parameters of one RFC 9211 Cache-Status list member,
// as the core decided them. The engine fills Collapsed; the core fills the rest.
type CacheStatus struct {
	Hit       bool  // §2.1: satisfied from cache without going forward
	Fwd       Fwd   // §2.2: why the request went forward; "" on a hit
	FwdStatus int   // §2.3: the status the next hop returned; 0 when unknown
	TTL       int64 // §2.4: remaining freshness in seconds, negative when stale
	HasTTL    bool  // whether TTL is known (a response is selected or stored)
	Stored    bool  // §2.5: the response was stored
	Collapsed bool  // §2.6: collapsed: the request was collapsed with another's forward request, whose response it reused
	// CollapseFailed is §2.6's collapsed=?0: the request waited for
	// another's forward request, whose response did not answer it, and
	// made its own.
	CollapseFailed bool
	Key            string // §2.7: the cache key, when the caller chooses to show it
	Detail         string // §2.8: implementation-specific detail, e.g. "stale-while-revalidate"
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
		b.WriteString(string(c.Fwd))
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
		} else if c.CollapseFailed {
			b.WriteString("; collapsed=?0")
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
		if c == ':' || c == '/' || lexIsTchar(c) {
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
