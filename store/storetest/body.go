package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"hash/crc32"
	"io"
	"sync"
	"testing"

	"github.com/cellar-http/cellar/store"
)

// chunkSize is the size of the writes that stream the large body.
const chunkSize = 32 << 10

// testLookupMissing: an unknown key is an empty answer, not an error, and
// an unknown ID does not open.
func testLookupMissing(t *testing.T, f Factory) {
	s := open(t, f, roomyBudget)
	es, err := s.Lookup(t.Context(), "https://example.com/missing")
	if err != nil {
		t.Fatalf("Lookup of a missing key: %v", err)
	}
	if len(es) != 0 {
		t.Fatalf("Lookup of a missing key returned %s", describe(es))
	}
	expectNotFound(t, s, "https://example.com/missing", "no-such-id")
}

// testCommitThenLookup: what Commit returns and Lookup finds is the entry
// created, field by field, with ID, Size and Checksum set by the store.
func testCommitThenLookup(t *testing.T, f Factory) {
	s := open(t, f, roomyBudget)
	e := entry("https://example.com/page", "accept-encoding=gzip", "section:news", "page")
	data := body(1000, 1)
	got := put(t, s, e, data)
	checkCommitted(t, got, e, data)

	found := lookupOne(t, s, e.Key)
	if diff := diffEntries(found, got); diff != "" {
		t.Fatalf("Lookup differs from what Commit returned: %s", diff)
	}
	expectBody(t, s, found, data)
	expectNotFound(t, s, e.Key, "no-such-id")
	expectNotFound(t, s, "https://example.com/other", found.ID)
}

// testEmptyBody: a zero-length body (HEAD, 204, an empty 200) is an entry
// like any other.
func testEmptyBody(t *testing.T, f Factory) {
	s := open(t, f, roomyBudget)
	e := entry("https://example.com/empty", "")
	w, err := s.Create(t.Context(), e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := w.Commit()
	if err != nil {
		t.Fatalf("Commit without a Write: %v", err)
	}
	checkCommitted(t, got, e, nil)
	found := lookupOne(t, s, e.Key)
	expectBody(t, s, found, nil)

	b, err := s.Open(t.Context(), e.Key, found.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if n, err := b.ReadAt(make([]byte, 1), 0); n != 0 || err != io.EOF {
		t.Fatalf("ReadAt(0) of an empty body = %d, %v; want 0, io.EOF", n, err)
	}
}

// testOpenReadsExactBytes: Open reads the committed bytes sequentially and
// at any offset, with io.ReaderAt's end-of-body rules, also from several
// goroutines at once.
func testOpenReadsExactBytes(t *testing.T, f Factory) {
	s := open(t, f, roomyBudget)
	const size = 100_000
	data := body(size, 2)
	e := put(t, s, entry("https://example.com/bytes", ""), data)
	expectBody(t, s, e, data)

	b, err := s.Open(t.Context(), e.Key, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Size() != size {
		t.Fatalf("Size() = %d, want %d", b.Size(), size)
	}
	for _, tc := range []struct {
		off, n int64
	}{{0, 10}, {1, 100}, {4095, 2}, {4096, 4096}, {32767, 3}, {65535, 2}, {size / 2, 1000}, {size - 1, 1}, {0, size}} {
		p := make([]byte, tc.n)
		n, err := b.ReadAt(p, tc.off)
		if n != int(tc.n) || (err != nil && !(err == io.EOF && tc.off+tc.n == size)) {
			t.Fatalf("ReadAt(%d bytes at %d) = %d, %v", tc.n, tc.off, n, err)
		}
		if !bytes.Equal(p, data[tc.off:tc.off+tc.n]) {
			t.Fatalf("ReadAt(%d bytes at %d) read the wrong bytes", tc.n, tc.off)
		}
	}
	p := make([]byte, 10)
	if n, err := b.ReadAt(p, size-4); n != 4 || err != io.EOF || !bytes.Equal(p[:4], data[size-4:]) {
		t.Fatalf("ReadAt across the end = %d, %v; want 4, io.EOF and the last 4 bytes", n, err)
	}
	for _, off := range []int64{size, size + 10} {
		if n, err := b.ReadAt(p, off); n != 0 || err != io.EOF {
			t.Fatalf("ReadAt at %d of %d bytes = %d, %v; want 0, io.EOF", off, size, n, err)
		}
	}
	if _, err := b.ReadAt(p, -1); err == nil {
		t.Fatal("ReadAt at a negative offset succeeded")
	}

	// Sequential reads are not disturbed by ReadAt, and the io.ReaderAt
	// contract lets several goroutines call ReadAt on one Body at once.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			p := make([]byte, 777)
			for i := range 50 {
				off := int64((g*7919 + i*104729) % (size - len(p)))
				if n, err := b.ReadAt(p, off); n != len(p) || err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(p, data[off:off+int64(len(p))]) {
					errs <- errors.New("concurrent ReadAt read the wrong bytes")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seq, err := io.ReadAll(b)
	if err != nil || !bytes.Equal(seq, data) {
		t.Fatalf("sequential read after ReadAt calls: %d bytes, %v", len(seq), err)
	}

	// Two opens of one body read independently.
	b2, err := s.Open(t.Context(), e.Key, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	half := make([]byte, size/2)
	if _, err := io.ReadFull(b2, half); err != nil || !bytes.Equal(half, data[:size/2]) {
		t.Fatalf("second reader: %v", err)
	}
}

// largeChunk returns the i-th chunk of the large body: a window into
// pattern at an offset that differs for every chunk, so a chunk stored out
// of order or twice is caught, without the suite holding the body.
func largeChunk(i int) []byte {
	off := (i * 7919) % chunkSize
	return pattern[off : off+chunkSize]
}

// testStreamLargeBody: a body much larger than one write streams in and
// out intact; the suite itself never holds it.
func testStreamLargeBody(t *testing.T, f Factory) {
	size := int64(64 << 20)
	if testing.Short() {
		size = 8 << 20
	}
	chunks := int(size / chunkSize)
	s := open(t, f, largeBudget)
	e := entry("https://example.com/large.bin", "")
	w, err := s.Create(t.Context(), e)
	if err != nil {
		t.Fatal(err)
	}
	wrote := sha256.New()
	crc := uint32(0)
	table := crc32.MakeTable(crc32.Castagnoli)
	for i := range chunks {
		c := largeChunk(i)
		if n, err := w.Write(c); err != nil || n != len(c) {
			_ = w.Abort()
			t.Fatalf("Write of chunk %d = %d, %v", i, n, err)
		}
		wrote.Write(c)
		crc = crc32.Update(crc, table, c)
	}
	got, err := w.Commit()
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if got.Size != size || got.Checksum != crc {
		t.Fatalf("Commit: Size %d, Checksum %#x; want %d, %#x", got.Size, got.Checksum, size, crc)
	}

	b, err := s.Open(t.Context(), e.Key, lookupOne(t, s, e.Key).ID)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Size() != size {
		t.Fatalf("Size() = %d, want %d", b.Size(), size)
	}
	read := sha256.New()
	n, err := io.CopyBuffer(read, b, make([]byte, chunkSize))
	if err != nil || n != size {
		t.Fatalf("reading the body: %d bytes, %v", n, err)
	}
	if !bytes.Equal(read.Sum(nil), wrote.Sum(nil)) {
		t.Fatal("the body read back differs from the body written")
	}
	for _, off := range []int64{0, chunkSize - 1, chunkSize, size/2 + 17, size - 100, size - 1} {
		p := make([]byte, min(100, size-off))
		if n, err := b.ReadAt(p, off); n != len(p) || (err != nil && err != io.EOF) {
			t.Fatalf("ReadAt(%d) = %d, %v", off, n, err)
		}
		for j := range p {
			o := off + int64(j)
			if want := largeChunk(int(o / chunkSize))[o%chunkSize]; p[j] != want {
				t.Fatalf("byte %d reads %#x, want %#x", o, p[j], want)
			}
		}
	}
}

// testInvisibleBeforeCommit: a body being written is in no lookup, walk or
// count until Commit.
func testInvisibleBeforeCommit(t *testing.T, f Factory) {
	s := open(t, f, roomyBudget)
	e := entry("https://example.com/pending", "")
	w, err := s.Create(t.Context(), e)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if _, err := w.Write(body(5000, 3)); err != nil {
		t.Fatal(err)
	}
	expectNone(t, s, e.Key)
	if es := iterate(t, s); len(es) != 0 {
		t.Fatalf("Iterate saw an uncommitted entry: %s", describe(es))
	}
	if st := s.Stats(); st.Entries != 0 {
		t.Fatalf("Stats().Entries = %d before Commit", st.Entries)
	}
	if _, err := w.Write(body(5000, 4)); err != nil {
		t.Fatal(err)
	}
	got, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if found := lookupOne(t, s, e.Key); found.ID != got.ID {
		t.Fatalf("after Commit, Lookup found ID %q, want %q", found.ID, got.ID)
	}
}

// testAbortLeavesNothing: Abort discards the entry and its bytes; the
// writer is then unusable; Abort is idempotent and a no-op after Commit.
func testAbortLeavesNothing(t *testing.T, f Factory) {
	s := open(t, f, roomyBudget)
	before := s.Stats().Bytes
	e := entry("https://example.com/aborted", "")
	w, err := s.Create(t.Context(), e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(body(100_000, 5)); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("second Abort: %v", err)
	}
	if _, err := w.Write([]byte("more")); err == nil {
		t.Error("Write after Abort succeeded")
	}
	if _, err := w.Commit(); err == nil {
		t.Error("Commit after Abort succeeded")
	}
	expectNone(t, s, e.Key)
	if es := iterate(t, s); len(es) != 0 {
		t.Fatalf("Iterate saw an aborted entry: %s", describe(es))
	}
	eventually(t, "Stats().Entries/Bytes are back to before the aborted write", func() bool {
		st := s.Stats()
		return st.Entries == 0 && st.Bytes <= before
	})

	// After Commit, Abort changes nothing.
	w, err = s.Create(t.Context(), e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("kept")); err != nil {
		t.Fatal(err)
	}
	got, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort after Commit: %v", err)
	}
	expectBody(t, s, lookupOne(t, s, e.Key), []byte("kept"))
	if got.ID == "" {
		t.Fatal("empty ID")
	}
}

// testCancelCreateContext: cancelling the context given to Create fails
// the write (in Write or at the latest in Commit) and leaves nothing.
func testCancelCreateContext(t *testing.T, f Factory) {
	s := open(t, f, roomyBudget)
	e := entry("https://example.com/cancelled", "")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	w, err := s.Create(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if _, err := w.Write(body(10_000, 6)); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, werr := w.Write(body(10_000, 7))
	_, cerr := w.Commit()
	if werr == nil && cerr == nil {
		t.Fatal("Write and Commit both succeeded after the Create context was cancelled")
	}
	expectNone(t, s, e.Key)
	eventually(t, "Stats().Entries is 0 after a cancelled write", func() bool { return s.Stats().Entries == 0 })
}

// testInputNotRetained: the store keeps its own copy of what it is given;
// changing the caller's entry after Commit or Update changes nothing stored.
// (The converse is not part of the contract: a backend may share what
// Lookup returns between callers, who must treat it as read-only.)
func testInputNotRetained(t *testing.T, f Factory) {
	s := open(t, f, roomyBudget)
	e := entry("https://example.com/owned", "v", "tag")
	got := put(t, s, e, []byte("body"))
	want := clone(lookupOne(t, s, e.Key))

	e.Pair.Response.Header.Set("Etag", `"changed"`)
	e.Pair.Request.Header.Add("Accept-Encoding", "zstd")
	e.Pair.Request.URL.Path = "/changed"
	e.Tags[0] = "changed"
	got.Pair.Response.Header.Set("Etag", `"changed too"`)
	if diff := diffEntries(lookupOne(t, s, e.Key), want); diff != "" {
		t.Fatalf("changing the committed entry changed the store: %s", diff)
	}

	u := want
	u.Pair.Response.Header = want.Pair.Response.Header.Clone()
	u.Pair.Response.Header.Set("Etag", `"v2"`)
	if err := s.Update(t.Context(), e.Key, []store.Entry{u}); err != nil {
		t.Fatal(err)
	}
	updated := clone(lookupOne(t, s, e.Key))
	if updated.Pair.Response.Header.Get("Etag") != `"v2"` {
		t.Fatalf("Update did not apply: Etag %q", updated.Pair.Response.Header.Get("Etag"))
	}
	u.Pair.Response.Header.Set("Etag", `"changed after update"`)
	if diff := diffEntries(lookupOne(t, s, e.Key), updated); diff != "" {
		t.Fatalf("changing the updated entry changed the store: %s", diff)
	}
}
