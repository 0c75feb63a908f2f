package proxy

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// TestListenerConnPassesReaderFrom: a connection the Listener wraps (to
// bound connections and check framing) still offers io.ReaderFrom, the
// path by which net/http sends a disk store's verified body with
// sendfile(2) (issue 14). Without it, a 1 MiB disk hit through cellar serve
// was read into user space and written out again.
func TestListenerConnPassesReaderFrom(t *testing.T) {
	for _, cfg := range []ListenerConfig{{MaxConns: 4}, {CheckFraming: true}, {MaxConns: 4, CheckFraming: true}} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l := NewListener(ln, cfg)
		want := bytes.Repeat([]byte("sendfile"), 64<<10)
		path := filepath.Join(t.TempDir(), "body")
		if err := os.WriteFile(path, want, 0o600); err != nil {
			t.Fatal(err)
		}
		got := make(chan []byte, 1)
		go func() {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				got <- nil
				return
			}
			defer c.Close()
			b, _ := io.ReadAll(c)
			got <- b
		}()
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		rf, ok := c.(io.ReaderFrom)
		if !ok {
			t.Fatalf("%+v: the Listener's connection %T does not offer io.ReaderFrom", cfg, c)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		n, err := rf.ReadFrom(f)
		f.Close()
		c.Close()
		if err != nil || n != int64(len(want)) {
			t.Fatalf("%+v: ReadFrom = %d, %v", cfg, n, err)
		}
		if b := <-got; !bytes.Equal(b, want) {
			t.Fatalf("%+v: the client received %d bytes, not the %d of the file", cfg, len(b), len(want))
		}
		l.Close()
	}
}
