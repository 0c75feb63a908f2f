package disk

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/cellar-http/cellar/store"
)

// Issue 14: a body of up to InlineMax bytes lives in its index record, so
// storing it creates no file (file creation bounded the rate of misses).
func TestSmallBodiesInline(t *testing.T) {
	s := openTest(t, Options{InlineMax: 8 << 10})
	for _, tt := range []struct {
		name     string
		declared bool
		writes   []int
		inline   bool
	}{
		{"empty", false, nil, true},
		{"1 KiB", false, []int{1 << 10}, true},
		{"exactly InlineMax", false, []int{4 << 10, 4 << 10}, true},
		{"declared exactly InlineMax", true, []int{8 << 10}, true},
		{"outgrows InlineMax", false, []int{4 << 10, 4<<10 + 1}, false},
		{"declared over InlineMax", true, []int{8<<10 + 1}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := testEntry(tt.name, "")
			var body []byte
			for i, n := range tt.writes {
				body = append(body, bytes.Repeat([]byte{byte('a' + i)}, n)...)
			}
			if tt.declared {
				e = withLength(e, len(body))
			}
			w, err := s.Create(context.Background(), e)
			if err != nil {
				t.Fatal(err)
			}
			off := 0
			for _, n := range tt.writes {
				if _, err := w.Write(body[off : off+n]); err != nil {
					t.Fatal(err)
				}
				off += n
			}
			if f := files(t, s.dir, "tmp"); (len(f) == 0) != tt.inline {
				t.Fatalf("before Commit, tmp/ holds %v", f)
			}
			got, err := w.Commit()
			if err != nil {
				t.Fatal(err)
			}
			n, _ := s.idx.peek(got.ID)
			if n.inline != tt.inline {
				t.Fatalf("inline = %v, want %v", n.inline, tt.inline)
			}
			if !bytes.Equal(readAll(t, s, e.Key, got.ID), body) {
				t.Fatal("body read back differs")
			}
			checkAtRest(t, s)
		})
	}
	if f := files(t, s.dir, "bodies"); len(f) != 2 {
		t.Fatalf("body files %v, want the 2 over InlineMax", f)
	}
}

// Inline bodies survive Update (RFC 9111 §4.3.4: the body is kept), a
// replacement, and a reopen; records written before inline bodies existed
// (a body file each) still open.
func TestInlineBodiesDurable(t *testing.T) {
	s := openTest(t, Options{InlineMax: -1})
	old := put(t, s, testEntry("old-format", ""), []byte("in a file"))
	s.opts.InlineMax = 0 // the default: inline
	s = reopen(t, s)
	if got := readAll(t, s, "old-format", old.ID); string(got) != "in a file" {
		t.Fatalf("a body file of the old format reads %q", got)
	}
	a := put(t, s, testEntry("a", ""), []byte("inline a"))
	u := a
	u.Pair.Response.Header = http.Header{"Etag": {`"2"`}}
	if err := s.Update(context.Background(), "a", []store.Entry{u}); err != nil {
		t.Fatal(err)
	}
	b := put(t, s, testEntry("b", ""), []byte("inline b"))
	b2 := put(t, s, testEntry("b", ""), []byte("inline b, replaced"))
	s = reopen(t, s)
	if es := lookup(t, s, "a"); len(es) != 1 || es[0].Pair.Response.Header.Get("Etag") != `"2"` {
		t.Fatalf("after Update and reopen: %+v", es)
	}
	if got := readAll(t, s, "a", a.ID); string(got) != "inline a" {
		t.Fatalf("inline body after Update and reopen: %q", got)
	}
	if _, err := s.Open(context.Background(), "b", b.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("replaced inline body: %v", err)
	}
	if got := readAll(t, s, "b", b2.ID); string(got) != "inline b, replaced" {
		t.Fatalf("replacing inline body: %q", got)
	}
	checkAtRest(t, s)
}

// A bit flipped in an inline body (damage to the log) is caught by the
// checksums when the body is opened: ErrCorrupt, and the entry is dropped.
func TestInlineBodyBitFlip(t *testing.T) {
	s := openTest(t, Options{})
	body := bytes.Repeat([]byte("inline "), 100)
	e := put(t, s, testEntry("k", ""), body)
	n, _ := s.idx.peek(e.ID)
	buf := make([]byte, n.rlen)
	if _, err := n.seg.f.ReadAt(buf, n.off); err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(buf, body)
	if i < 0 {
		t.Fatal("body not found in its record")
	}
	if _, err := n.seg.f.WriteAt([]byte{buf[i+10] ^ 1}, n.off+int64(i)+10); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(context.Background(), "k", e.ID); !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("Open of a flipped inline body: %v, want ErrCorrupt", err)
	}
	eventually(t, func() bool { return len(lookup(t, s, "k")) == 0 })
}

// eventually waits, up to 10 s, for cond to hold (for background removals).
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met after 10 s")
}
