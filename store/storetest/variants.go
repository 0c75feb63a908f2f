package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cellar-http/cellar/store"
)

// testReplaceSameVariant: committing the same Key and Variant replaces the
// stored version (RFC 9111 §4.1, §3.1): Lookup returns only the new one,
// the old ID stops opening, and a reader that opened the old body before
// the replacement still reads all of it.
func testReplaceSameVariant(t *testing.T, f Factory) {
	s := open(t, f, roomyBudget)
	e := entry("https://example.com/replaced", "accept-language=en")
	oldData, newData := body(200_000, 10), body(3000, 11)
	old := put(t, s, e, oldData)

	r, err := s.Open(t.Context(), e.Key, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	head := make([]byte, 1000)
	if _, err := io.ReadFull(r, head); err != nil {
		t.Fatal(err)
	}

	e2 := entry(e.Key, e.Variant)
	e2.Pair.Response.Header.Set("Etag", `"v2"`)
	cur := put(t, s, e2, newData)
	if cur.ID == old.ID {
		t.Fatalf("the replacement has the ID %q of the version it replaced", cur.ID)
	}
	found := lookupOne(t, s, e.Key)
	if found.ID != cur.ID || found.Pair.Response.Header.Get("Etag") != `"v2"` {
		t.Fatalf("after replacing, Lookup found %s (Etag %q), want ID %q", describe([]store.Entry{found}), found.Pair.Response.Header.Get("Etag"), cur.ID)
	}
	expectBody(t, s, found, newData)

	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("finishing the read of the replaced body: %v", err)
	}
	if got := append(head, rest...); !bytes.Equal(got, oldData) {
		t.Fatalf("a reader of the replaced body read %d bytes, not the %d it opened", len(got), len(oldData))
	}
	if n, err := r.ReadAt(head[:10], int64(len(oldData))-10); n != 10 || !bytes.Equal(head[:10], oldData[len(oldData)-10:]) {
		t.Fatalf("ReadAt on the replaced body = %d, %v", n, err)
	}

	eventually(t, "opening the replaced ID fails with ErrNotFound", func() bool {
		b, err := s.Open(t.Context(), e.Key, old.ID)
		if err == nil {
			b.Close()
			return false
		}
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Open of the replaced ID: %v, want ErrNotFound", err)
		}
		return true
	})
	eventually(t, "Stats().Entries is 1 after a replacement", func() bool { return s.Stats().Entries == 1 })
}

// testVariantsCoexist: entries of one key with different variants are all
// stored, and each opens its own body.
func testVariantsCoexist(t *testing.T, f Factory) {
	s := open(t, f, roomyBudget)
	const key = "https://example.com/negotiated"
	gz := put(t, s, entry(key, "accept-encoding=gzip"), []byte("gzip body"))
	br := put(t, s, entry(key, "accept-encoding=br"), []byte("brotli body"))
	if gz.ID == br.ID {
		t.Fatalf("two variants share the ID %q", gz.ID)
	}
	got := byVariant(t, lookup(t, s, key))
	if len(got) != 2 {
		t.Fatalf("Lookup returned %d variants, want 2", len(got))
	}
	for _, c := range []struct {
		e    store.Entry
		body string
	}{{gz, "gzip body"}, {br, "brotli body"}} {
		found, ok := got[c.e.Variant]
		if !ok {
			t.Fatalf("variant %q missing", c.e.Variant)
		}
		if diff := diffEntries(found, c.e); diff != "" {
			t.Fatalf("variant %q: %s", c.e.Variant, diff)
		}
		expectBody(t, s, found, []byte(c.body))
	}
}

// testConcurrentVariants: as many writers as the store keeps variants,
// committing distinct variants of one key at once, lose none (RFC 9111
// §4.1: variants are updated atomically).
func testConcurrentVariants(t *testing.T, f Factory) {
	s := open(t, f, roomyBudget)
	const key = "https://example.com/contended"
	writers := f.maxVariants(t)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	start := make(chan struct{})
	for i := range writers {
		wg.Go(func() {
			v := "v" + strconv.Itoa(i)
			w, err := s.Create(t.Context(), entry(key, v))
			if err != nil {
				errs <- err
				return
			}
			<-start
			if _, err := w.Write(variantBody(v)); err != nil {
				errs <- err
				_ = w.Abort()
				return
			}
			if _, err := w.Commit(); err != nil {
				errs <- fmt.Errorf("commit of %s: %w", v, err)
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := byVariant(t, lookup(t, s, key))
	ids := make(map[string]bool)
	for i := range writers {
		v := "v" + strconv.Itoa(i)
		e, ok := got[v]
		if !ok {
			t.Fatalf("variant %s was lost: %d of %d variants stored", v, len(got), writers)
		}
		if ids[e.ID] {
			t.Fatalf("ID %q given to two variants", e.ID)
		}
		ids[e.ID] = true
		if e.Size != int64(len(variantBody(v))) {
			t.Fatalf("variant %s: Size %d, want %d", v, e.Size, len(variantBody(v)))
		}
		if i%10 == 0 {
			expectBody(t, s, e, variantBody(v))
		}
	}
	eventually(t, fmt.Sprintf("Stats().Entries is %d", writers), func() bool { return s.Stats().Entries == int64(writers) })
}

func variantBody(v string) []byte { return bytes.Repeat([]byte(v+";"), 50) }

// testReadersDuringWrites: readers that look up, open and read while
// writers keep replacing the entry always read a whole body that matches
// the metadata they looked up: never a torn or mixed one. An Open that
// finds the version just replaced is allowed to fail with ErrNotFound.
func testReadersDuringWrites(t *testing.T, f Factory) {
	s := open(t, f, roomyBudget)
	const key, writers, commits, readers = "https://example.com/hot", 4, 25, 4
	// Generation g's body is g's low byte, 1000+g times; its header names g.
	genBody := func(g int) []byte { return bytes.Repeat([]byte{byte(g)}, 1000+g) }
	put(t, s, withGen(entry(key, ""), 0), genBody(0))

	var done atomic.Bool
	var reads atomic.Int64
	var wg, rg sync.WaitGroup
	errs := make(chan error, writers+readers)
	for w := range writers {
		wg.Go(func() {
			for i := range commits {
				g := 1 + w*commits + i
				wr, err := s.Create(t.Context(), withGen(entry(key, ""), g))
				if err != nil {
					errs <- err
					return
				}
				data := genBody(g)
				// Two writes, so that a reader could see half a body.
				if _, err := wr.Write(data[:len(data)/2]); err != nil {
					errs <- err
					return
				}
				if _, err := wr.Write(data[len(data)/2:]); err != nil {
					errs <- err
					return
				}
				if _, err := wr.Commit(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for range readers {
		rg.Go(func() {
			for !done.Load() {
				es, err := s.Lookup(t.Context(), key)
				if err != nil {
					errs <- err
					return
				}
				if len(es) != 1 {
					errs <- fmt.Errorf("lookup returned %d entries of one variant", len(es))
					return
				}
				e := es[0]
				g, err := strconv.Atoi(e.Pair.Response.Header.Get("X-Gen"))
				if err != nil {
					errs <- fmt.Errorf("entry without generation: %v", err)
					return
				}
				b, err := s.Open(t.Context(), key, e.ID)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				data, err := io.ReadAll(b)
				b.Close()
				if err != nil {
					errs <- err
					return
				}
				if want := genBody(g); !bytes.Equal(data, want) || e.Size != int64(len(want)) {
					errs <- fmt.Errorf("entry of generation %d (size %d) read %d bytes that are not its body", g, e.Size, len(data))
					return
				}
				reads.Add(1)
			}
		})
	}
	wg.Wait()
	time.Sleep(10 * time.Millisecond)
	done.Store(true)
	rg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if reads.Load() == 0 {
		t.Fatal("no reader completed a read")
	}
	lookupOne(t, s, key)
}

func withGen(e store.Entry, g int) store.Entry {
	e.Pair.Response.Header.Set("X-Gen", strconv.Itoa(g))
	return e
}
