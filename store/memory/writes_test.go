package memory_test

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"testing"
)

// countingWriter counts the Write calls a body's WriteTo makes: each is a
// write to the connection (a syscall) when the destination is a client.
type countingWriter struct {
	writes int
	bytes.Buffer
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(p)
}

// TestLargeBodyOneWrite: a 100 KiB body, buffered in 32 KiB writes with or
// without a Content-Length, is written to the client in one Write (issue
// 14: with 64 KiB chunks it took two), and a 600 KiB body in as many as its
// 256 KiB chunks.
func TestLargeBodyOneWrite(t *testing.T) {
	s := newStore(t, 64<<20)
	defer s.Close()
	for _, tc := range []struct {
		name     string
		size     int
		declared bool
		writes   int
	}{
		{"100KiB with Content-Length", 100 << 10, true, 1},
		{"100KiB chunked", 100 << 10, false, 1},
		{"256KiB with Content-Length", 256 << 10, true, 1},
		{"600KiB with Content-Length", 600 << 10, true, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := bytes.Repeat([]byte("0123456789abcdef"), tc.size/16)
			e := typical("https://example.com/" + strconv.Itoa(tc.size) + strconv.FormatBool(tc.declared))
			if tc.declared {
				e.Pair.Response.Header["Content-Length"] = []string{strconv.Itoa(len(data))}
			} else {
				delete(e.Pair.Response.Header, "Content-Length")
			}
			e = commit(t, s, e, data)
			b, err := s.Open(context.Background(), e.Key, e.ID)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			var w countingWriter
			n, err := b.(io.WriterTo).WriteTo(&w)
			if err != nil || n != int64(len(data)) || !bytes.Equal(w.Bytes(), data) {
				t.Fatalf("WriteTo = %d, %v; body intact: %t", n, err, bytes.Equal(w.Bytes(), data))
			}
			if w.writes != tc.writes {
				t.Errorf("WriteTo made %d writes, want %d", w.writes, tc.writes)
			}
		})
	}
}
