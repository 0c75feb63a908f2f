package disk

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/cellar-http/cellar/store"
)

// readerFromSpy is a writer with io.ReaderFrom, like net/http's
// ResponseWriter: it records what it was handed.
type readerFromSpy struct {
	bytes.Buffer
	got io.Reader
}

func (s *readerFromSpy) ReadFrom(r io.Reader) (int64, error) {
	s.got = r
	return s.Buffer.ReadFrom(r)
}

// Issue 14: a verified body is handed to the ResponseWriter as the file
// itself (an *io.LimitedReader over the *os.File), which net/http sends with
// sendfile(2).
func TestWriteToHandsTheFile(t *testing.T) {
	s := openTest(t, Options{})
	data := bytes.Repeat([]byte("sendfile "), 20_000)
	e := put(t, s, testEntry("k", ""), data)
	b, err := s.Open(context.Background(), "k", e.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// A Range-like start: the first bytes read, the rest sent.
	head := make([]byte, 1000)
	if _, err := io.ReadFull(b, head); err != nil {
		t.Fatal(err)
	}
	var spy readerFromSpy
	n, err := b.(io.WriterTo).WriteTo(&spy)
	if err != nil || n != int64(len(data)-1000) || !bytes.Equal(append(head, spy.Bytes()...), data) {
		t.Fatalf("WriteTo = %d, %v; body differs: %v", n, err, !bytes.Equal(append(head, spy.Bytes()...), data))
	}
	lr, ok := spy.got.(*io.LimitedReader)
	if !ok {
		t.Fatalf("ReadFrom got %T, want *io.LimitedReader", spy.got)
	}
	if _, ok := lr.R.(*os.File); !ok {
		t.Fatalf("the LimitedReader reads %T, want *os.File", lr.R)
	}
}

// A bit flipped in a body file while the store was closed is found before
// the body is first served after the reopen: Open fails with ErrCorrupt
// (a miss for the engine) and the entry is dropped. Serving unchecked
// (sendfile) starts only after that verification.
func TestBitFlipRefusedAtFirstOpen(t *testing.T) {
	for _, when := range []string{"while closed", "after the reopen"} {
		t.Run(when, func(t *testing.T) {
			s := openTest(t, Options{})
			data := bytes.Repeat([]byte("0123456789abcdef"), 8_000)
			e := put(t, s, testEntry("k", ""), data)
			flip := func() {
				f, err := os.OpenFile(s.bodyPath(e.ID), os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				var c [1]byte
				f.ReadAt(c[:], 100_000)
				c[0] ^= 0x10
				if _, err := f.WriteAt(c[:], 100_000); err != nil {
					t.Fatal(err)
				}
			}
			if when == "while closed" {
				s.Close()
				flip()
				s = openDir(t, s.dir, s.opts)
			} else {
				s = reopen(t, s)
				flip()
			}
			b, err := s.Open(context.Background(), "k", e.ID)
			if !errors.Is(err, store.ErrCorrupt) {
				if b != nil {
					b.Close()
				}
				t.Fatalf("first Open of a flipped body: %v, want ErrCorrupt", err)
			}
			if len(lookup(t, s, "k")) != 0 {
				t.Fatal("the corrupt entry is still listed")
			}
			if _, err := os.Stat(s.bodyPath(e.ID)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the corrupt body file is left: %v", err)
			}
		})
	}
}

// An intact body is verified once after a reopen, then served as a file.
func TestVerifiedOnceAfterReopen(t *testing.T) {
	s := openTest(t, Options{})
	data := bytes.Repeat([]byte("x"), 100_000)
	e := put(t, s, testEntry("k", ""), data)
	s = reopen(t, s)
	if n, _ := s.idx.peek(e.ID); n.verified {
		t.Fatal("a body is verified before its first Open after a reopen")
	}
	if got := readAll(t, s, "k", e.ID); !bytes.Equal(got, data) {
		t.Fatal("body differs")
	}
	if n, _ := s.idx.peek(e.ID); !n.verified {
		t.Fatal("an intact body is not marked verified after its first Open")
	}
}

// A body file cut short under an open store: sending it ends in ErrCorrupt
// (the engine aborts the response), never in a short body that looks whole.
func TestWriteToShortFileIsCorrupt(t *testing.T) {
	s := openTest(t, Options{})
	data := bytes.Repeat([]byte("y"), 100_000)
	e := put(t, s, testEntry("k", ""), data)
	b, err := s.Open(context.Background(), "k", e.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := os.Truncate(s.bodyPath(e.ID), 50_000); err != nil {
		t.Fatal(err)
	}
	var spy readerFromSpy
	if n, err := b.(io.WriterTo).WriteTo(&spy); !errors.Is(err, store.ErrCorrupt) || n != 50_000 {
		t.Fatalf("WriteTo of a truncated file = %d, %v; want 50000, ErrCorrupt", n, err)
	}
}
