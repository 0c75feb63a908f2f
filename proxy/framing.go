package proxy

import (
	"bytes"
	"sync"
)

// Request smuggling (RFC 9112 §6.1, §6.3, §11.2). net/http resolves a
// request with both Content-Length and Transfer-Encoding by dropping
// Content-Length, and ignores Transfer-Encoding on HTTP/1.0, without
// telling the handler, and keeps the connection open: the bytes another
// parser (a front-end proxy, the origin) would frame differently become the
// next request. It also unfolds obs-fold lines. A framingScanner reads the
// bytes of a plain-text connection as net/http receives them, frames the
// requests as net/http does, and gives each request a verdict the handler
// reads (in order: HTTP/1 requests on one connection are served one after
// another), so that the handler can answer 400 and close the connection.
//
// Decisions:
//   - Content-Length with Transfer-Encoding: rejected (400) and the
//     connection closed (§6.3 lets a server reject it, and requires the
//     connection be closed either way).
//   - Transfer-Encoding in an HTTP/1.0 request: rejected and closed (§6.1:
//     the framing is faulty).
//   - obs-fold (a field line starting with SP or HTAB): rejected (§5.2
//     allows 400); it can hide a framing field from one parser but not
//     another.
//   - a bare LF line ending: accepted, as net/http and nginx do (§2.2: a
//     recipient MAY recognise LF alone); the scanner frames it the same way.
//
// What the scanner cannot frame (an Upgrade or CONNECT, whose bytes may
// stop being HTTP; a transfer coding other than chunked, which net/http
// refuses; a line over maxScanLine; a deep pipeline) makes it stop: the
// requests it has not judged get verdictUnknown, and their connections are
// closed after the response.

// verdict is the scanner's judgement of one request.
type verdict uint8

const (
	verdictUnknown verdict = iota // not judged: serve, then close the connection
	verdictOK
	verdictConflict // Content-Length with Transfer-Encoding
	verdictTE10     // Transfer-Encoding in an HTTP/1.0 request
	verdictObsFold  // obs-fold in a field line
)

// reason returns the text of a 400 for v.
func (v verdict) reason() string {
	switch v {
	case verdictConflict:
		return "Content-Length and Transfer-Encoding together (RFC 9112 §6.3)"
	case verdictTE10:
		return "Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1)"
	case verdictObsFold:
		return "obs-fold line folding (RFC 9112 §5.2)"
	}
	return ""
}

// Limits of the scanner.
const (
	maxScanLine    = 64 << 10 // longest line it frames (net/http allows MaxHeaderBytes)
	maxScanPending = 64       // requests judged ahead of their handlers (pipelining)
)

type scanState uint8

const (
	scanHeader    scanState = iota // reading a header section line
	scanBody                       // skipping a Content-Length body
	scanChunkSize                  // reading a chunk-size line
	scanChunkData                  // skipping chunk data
	scanChunkCRLF                  // reading the CRLF after chunk data
	scanTrailer                    // reading trailer lines
	scanOff                        // stopped: what follows is not judged
)

// framingScanner frames the requests of one connection. feed is called
// from the connection's Read only (never concurrently with itself); next
// from the handler, so the verdicts are guarded.
type framingScanner struct {
	state  scanState
	remain int64  // body or chunk bytes left to skip
	line   []byte // a line split across reads (only then)
	long   bool   // the current line passed maxScanLine

	// The header section being read.
	inBlock        bool // the request line was read
	http10         bool
	connectOrUp    bool // CONNECT, or an Upgrade field
	h2             bool // the HTTP/2 preface
	te, chunked    bool
	teLines        int
	cl             int64 // -1: none
	clBad, obsFold bool

	mu       sync.Mutex
	verdicts []verdict
}

func newFramingScanner() *framingScanner { return &framingScanner{cl: -1} }

// next returns the verdict of the next request the handler serves.
func (s *framingScanner) next() verdict {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.verdicts) == 0 {
		return verdictUnknown
	}
	v := s.verdicts[0]
	s.verdicts = s.verdicts[1:]
	return v
}

func (s *framingScanner) push(v verdict) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.verdicts) >= maxScanPending {
		s.state = scanOff
		return
	}
	s.verdicts = append(s.verdicts, v)
}

func (s *framingScanner) stop() { s.state = scanOff }

// feed frames b, the next bytes received on the connection.
func (s *framingScanner) feed(b []byte) {
	for len(b) > 0 && s.state != scanOff {
		switch s.state {
		case scanBody, scanChunkData:
			n := int64(len(b))
			if n > s.remain {
				n = s.remain
			}
			b, s.remain = b[n:], s.remain-n
			if s.remain == 0 {
				if s.state == scanBody {
					s.state = scanHeader
				} else {
					s.state = scanChunkCRLF
				}
			}
		default:
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				s.carry(b)
				return
			}
			line := b[:i]
			if len(s.line) > 0 || s.long {
				s.carry(line)
				line = s.line
			}
			b = b[i+1:]
			long := s.long || len(line) > maxScanLine
			s.line, s.long = s.line[:0], false
			if long {
				s.stop()
				return
			}
			s.onLine(bytes.TrimSuffix(line, []byte{'\r'}))
		}
	}
}

// carry keeps part of a line that continues in the next read.
func (s *framingScanner) carry(b []byte) {
	if s.long || len(s.line)+len(b) > maxScanLine {
		s.long = true
		s.line = s.line[:0]
		return
	}
	s.line = append(s.line, b...)
}

// onLine handles one line (without its line ending).
func (s *framingScanner) onLine(line []byte) {
	switch s.state {
	case scanChunkCRLF:
		if len(line) != 0 {
			s.stop()
			return
		}
		s.state = scanChunkSize
	case scanChunkSize:
		n, ok := chunkSize(line)
		switch {
		case !ok:
			s.stop()
		case n == 0:
			s.state = scanTrailer
		default:
			s.remain, s.state = n, scanChunkData
		}
	case scanTrailer:
		if len(line) == 0 {
			s.state = scanHeader
		}
	case scanHeader:
		s.onHeaderLine(line)
	}
}

func (s *framingScanner) onHeaderLine(line []byte) {
	if !s.inBlock {
		if len(line) == 0 {
			return // empty lines before a request line are ignored (RFC 9112 §2.2)
		}
		s.inBlock = true
		method, _, _ := bytes.Cut(line, []byte{' '})
		proto := line[bytes.LastIndexByte(line, ' ')+1:]
		s.http10 = string(proto) == "HTTP/1.0"
		s.h2 = string(method) == "PRI" && string(proto) == "HTTP/2.0"
		s.connectOrUp = string(method) == "CONNECT"
		return
	}
	if len(line) == 0 {
		s.endBlock()
		return
	}
	if line[0] == ' ' || line[0] == '\t' {
		s.obsFold = true
		return
	}
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		return // net/http refuses it
	}
	name := line[:colon]
	switch len(name) {
	case len("content-length"), len("transfer-encoding"), len("upgrade"):
	default:
		return // not a field the framing depends on
	}
	value := trimOWS(line[colon+1:])
	switch {
	case asciiEqualFold(name, "content-length"):
		n, ok := parseLength(value)
		switch {
		case !ok || (s.cl >= 0 && n != s.cl):
			s.clBad = true
		default:
			s.cl = n
		}
	case asciiEqualFold(name, "transfer-encoding"):
		s.te = true
		s.teLines++
		s.chunked = asciiEqualFold(value, "chunked")
	case asciiEqualFold(name, "upgrade"):
		s.connectOrUp = true
	}
}

// endBlock judges the request whose header section ended, and frames its
// body as net/http will.
func (s *framingScanner) endBlock() {
	v := verdictOK
	switch {
	case s.h2:
		s.stop() // h2c prior knowledge: frames follow
	case s.obsFold:
		v = verdictObsFold
	case s.te && s.http10:
		v = verdictTE10
	case s.te && (s.cl >= 0 || s.clBad):
		v = verdictConflict
	}
	cl, te, chunked, teLines, clBad, up := s.cl, s.te, s.chunked, s.teLines, s.clBad, s.connectOrUp
	s.inBlock, s.http10, s.h2, s.connectOrUp, s.te, s.chunked, s.teLines, s.cl, s.clBad, s.obsFold =
		false, false, false, false, false, false, 0, -1, false, false
	if s.state == scanOff {
		return
	}
	s.push(v)
	switch {
	case v != verdictOK, up, clBad, te && (!chunked || teLines != 1):
		// The connection closes after it, or what follows is not HTTP
		// (or net/http refuses it and closes).
		s.stop()
	case te:
		s.state = scanChunkSize
	case cl > 0:
		s.remain, s.state = cl, scanBody
	}
}

// trimOWS trims optional whitespace (RFC 9110 §5.6.3) around a value.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// chunkSize parses a chunk-size line (RFC 9112 §7.1), ignoring extensions.
func chunkSize(line []byte) (int64, bool) {
	if i := bytes.IndexAny(line, "; \t"); i >= 0 {
		line = line[:i]
	}
	if len(line) == 0 || len(line) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range line {
		switch {
		case '0' <= c && c <= '9':
			n = n<<4 | int64(c-'0')
		case 'a' <= c && c <= 'f':
			n = n<<4 | int64(c-'a'+10)
		case 'A' <= c && c <= 'F':
			n = n<<4 | int64(c-'A'+10)
		default:
			return 0, false
		}
	}
	return n, true
}

// parseLength parses a Content-Length value (RFC 9110 §8.6).
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// asciiEqualFold reports whether b equals the lower-case ASCII s, ignoring
// case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
