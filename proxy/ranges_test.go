package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cellar-http/cellar"
	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store/memory"
)

// RFC 9110 §14.2 and §17.15: a Range of 100 "0-" on a stored 1 MB body,
// sent as raw bytes through the proxy, gets at most the representation
// (ranges are coalesced), not 100 MB; an innocent client after it gets its
// own answer, untouched.
func TestProxy_RFC9110_17_15_RangeAmplification(t *testing.T) {
	const size = 1 << 20
	body := bytes.Repeat([]byte("cellar!\n"), size/8)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("ETag", `"big"`)
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	}))
	defer origin.Close()
	st, err := memory.New(memory.Options{MaxBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := cellar.New(cellar.Config{Spec: spec.Options{Shared: true}, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	u, _ := url.Parse(origin.URL)
	p, err := New(Config{Upstream: u, Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()

	// Fill the cache.
	resp, err := http.Get(srv.URL + "/big")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	ranges := strings.TrimSuffix(strings.Repeat("0-,", 100), ",")
	raw := "GET /big HTTP/1.1\r\nHost: " + srv.Listener.Addr().String() + "\r\nRange: bytes=" + ranges + "\r\n\r\n" +
		"GET /big HTTP/1.1\r\nHost: " + srv.Listener.Addr().String() + "\r\nRange: bytes=0-7\r\n\r\n"
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	attack, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, io.LimitReader(attack.Body, 4*size))
	attack.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if n > size+1024 {
		t.Fatalf("100 ranges on %d bytes answered with %d bytes", size, n)
	}
	if attack.StatusCode != http.StatusPartialContent || attack.Header.Get("Content-Range") != "bytes 0-1048575/1048576" {
		t.Errorf("attack answered %d, Content-Range %q", attack.StatusCode, attack.Header.Get("Content-Range"))
	}
	innocent, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(innocent.Body)
	innocent.Body.Close()
	if innocent.StatusCode != http.StatusPartialContent || string(got) != "cellar!\n" {
		t.Errorf("the next request got %d %q", innocent.StatusCode, got)
	}
	// A second client, on its own connection, gets the whole body.
	resp, err = http.Get(srv.URL + "/big")
	if err != nil {
		t.Fatal(err)
	}
	whole, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(whole, body) {
		t.Errorf("second client: %d, %d bytes", resp.StatusCode, len(whole))
	}
}
