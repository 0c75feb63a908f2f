package proxy

import (
	"slices"
	"testing"
)

// verdictsOf feeds raw to a scanner in pieces of size step (0: at once)
// and returns the verdicts of the requests, in order.
func verdictsOf(raw string, step int) []verdict {
	s := newFramingScanner()
	b := []byte(raw)
	for len(b) > 0 {
		n := len(b)
		if step > 0 && step < n {
			n = step
		}
		s.feed(b[:n])
		b = b[n:]
	}
	var out []verdict
	for {
		s.mu.Lock()
		left := len(s.verdicts)
		s.mu.Unlock()
		if left == 0 {
			return out
		}
		out = append(out, s.next())
	}
}

// RFC 9112 §6.1, §6.3 and §5.2: request framing, as net/http frames it.
func TestFramingScannerRFC9112(t *testing.T) {
	const get = "GET /x HTTP/1.1\r\nHost: a\r\n\r\n"
	ok, conflict, te10, fold := verdictOK, verdictConflict, verdictTE10, verdictObsFold
	for _, tc := range []struct {
		name string
		raw  string
		want []verdict
	}{
		{"one GET", get, []verdict{ok}},
		{"pipelined GETs", get + get + get, []verdict{ok, ok, ok}},
		{"Content-Length body", "POST / HTTP/1.1\r\nContent-Length: 27\r\n\r\n" + get[:27] + get, []verdict{ok, ok}},
		{"chunked body with extension and trailer", "POST / HTTP/1.1\r\ntransfer-encoding: Chunked\r\n\r\n4;x=y\r\nGET \r\n0\r\nT: 1\r\n\r\n" + get, []verdict{ok, ok}},
		{"bare LF", "GET / HTTP/1.1\nHost: a\n\n" + get, []verdict{ok, ok}},
		{"empty lines before the request line", "\r\n" + get, []verdict{ok}},
		{"CL.TE (§6.3)", "POST / HTTP/1.1\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG" + get, []verdict{conflict}},
		{"TE.CL (§6.3)", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", []verdict{conflict}},
		{"TE with a bad Content-Length", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n", []verdict{conflict}},
		{"HTTP/1.0 with TE (§6.1)", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get, []verdict{te10}},
		{"obs-fold (§5.2)", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n" + get, []verdict{fold}},
		{"upgrade: what follows is not judged", "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n" + get, []verdict{ok}},
		{"h2c preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + get, nil},
		{"unsupported coding: net/http refuses it", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n" + get, []verdict{ok}},
	} {
		for _, step := range []int{0, 1, 3, 7} {
			if got := verdictsOf(tc.raw, step); !slices.Equal(got, tc.want) {
				t.Errorf("%s (step %d): %v, want %v", tc.name, step, got, tc.want)
			}
		}
	}
	// Past maxScanPending requests ahead, or a line past maxScanLine, the
	// scanner stops: the rest is unknown (served, then closed).
	long := "GET /" + string(make([]byte, maxScanLine)) + " HTTP/1.1\r\n\r\n"
	if got := verdictsOf(long+get, 4096); len(got) != 0 {
		t.Errorf("a line past the limit: %v", got)
	}
	s := newFramingScanner()
	for range maxScanPending + 5 {
		s.feed([]byte(get))
	}
	if s.state != scanOff {
		t.Error("a pipeline past maxScanPending does not stop the scanner")
	}
}

// FuzzFramingScanner: any bytes, split anywhere, frame the same way, and
// never panic.
func FuzzFramingScanner(f *testing.F) {
	f.Add("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n", 2)
	f.Add("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 1)
	f.Add("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n x\r\n\r\n", 5)
	f.Fuzz(func(t *testing.T, raw string, step int) {
		if step < 1 {
			step = 1
		}
		whole, split := verdictsOf(raw, 0), verdictsOf(raw, step%64+1)
		if !slices.Equal(whole, split) {
			t.Errorf("at once %v, in pieces of %d %v", whole, step%64+1, split)
		}
	})
}

// BenchmarkFramingScanner is the scanner's cost per request, for a
// browser-like GET header (about 500 bytes).
func BenchmarkFramingScanner(b *testing.B) {
	req := []byte("GET /static/app.js?v=123 HTTP/1.1\r\nHost: www.example.com\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
		"Accept: */*\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n" +
		"Referer: https://www.example.com/\r\nConnection: keep-alive\r\nCookie: session=abcdef0123456789; theme=dark\r\n" +
		"Sec-Fetch-Dest: script\r\nSec-Fetch-Mode: no-cors\r\nSec-Fetch-Site: same-origin\r\nIf-None-Match: \"abc\"\r\n\r\n")
	s := newFramingScanner()
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	for b.Loop() {
		s.feed(req)
		s.next()
	}
}
