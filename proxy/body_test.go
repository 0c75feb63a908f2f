package proxy

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 12 item 7: a body over BodyMemoryBytes is spooled to a temporary
// file, forwarded whole with a Content-Length (chunked or not on the
// client's side), and the file is removed after the response.
func TestBufferedBodySpoolsToFile(t *testing.T) {
	up, _ := url.Parse("http://origin")
	dir := t.TempDir()
	var seen []int64
	tr := &echoTransport{}
	p, err := New(Config{Upstream: up, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		seen = append(seen, r.ContentLength)
		files, _ := os.ReadDir(dir)
		if r.ContentLength > 100 && len(files) != 1 {
			t.Errorf("a %d-byte body: %d temporary files", r.ContentLength, len(files))
		}
		return tr.RoundTrip(r)
	}), BodyMemoryBytes: 100, BodyTempDir: dir, MaxBodyBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{10, 100, 101, 100 << 10} {
		body := bytes.Repeat([]byte("0123456789"), size/10+1)[:size]
		req := httptest.NewRequest("POST", "http://cache.example/up", io.MultiReader(bytes.NewReader(body)))
		req.ContentLength = -1 // as a chunked request
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, req)
		if rec.Code != 200 || !bytes.Equal(tr.body, body) || seen[len(seen)-1] != int64(size) {
			t.Errorf("%d bytes: %d, upstream got %d bytes with Content-Length %d", size, rec.Code, len(tr.body), seen[len(seen)-1])
		}
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Errorf("temporary files left: %v", files)
	}
	// Past MaxBodyBytes: 413, nothing forwarded, nothing left.
	n := len(seen)
	req := httptest.NewRequest("POST", "http://cache.example/up", io.MultiReader(strings.NewReader(strings.Repeat("x", 2<<20))))
	req.ContentLength = -1
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge || len(seen) != n {
		t.Errorf("too large: %d, forwarded %d", rec.Code, len(seen)-n)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Errorf("temporary files left: %v", files)
	}
}
