// Package storetest is the contract every [store.Store] must honour: Run
// exercises a backend through the interface only, so Cellar's own backends
// and third-party ones are held to the same suite.
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, storetest.Factory{
//			New: func(t *testing.T, maxBytes int64) store.Store {
//				s, err := mybackend.Open(mybackend.Options{MaxBytes: maxBytes})
//				if err != nil {
//					t.Fatal(err)
//				}
//				return s
//			},
//		})
//	}
//
// The suite closes every store it asks for. It runs in a few seconds per
// backend and is clean under the race detector; under -short the large-body
// test streams 8 MiB instead of 64 MiB.
package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
)

// Factory opens stores for the suite.
type Factory struct {
	// New returns a fresh, empty store with the given byte budget. The suite closes it.
	New func(t *testing.T, maxBytes int64) store.Store
	// Reopen, for durable backends, closes s and opens the same store again; nil for others.
	Reopen func(t *testing.T, s store.Store) store.Store
	// MaxVariants is the number of variants per key the stores New opens
	// keep; zero means store.DefaultMaxVariants, the default every backend
	// should have. Otherwise it must be at least 4.
	MaxVariants int
}

// maxVariants is the variant bound the suite holds f's stores to.
func (f Factory) maxVariants(t *testing.T) int {
	t.Helper()
	switch n := f.MaxVariants; {
	case n == 0:
		return store.DefaultMaxVariants
	case n < 4:
		t.Fatalf("Factory.MaxVariants is %d: the suite needs 0 (the default) or at least 4", n)
	}
	return f.MaxVariants
}

// Budgets the suite asks for. Tests that do not exercise eviction use
// roomyBudget, which their entries never approach.
const (
	roomyBudget = 32 << 20
	largeBudget = 256 << 20
)

// patience bounds how long the suite waits for what a backend may do
// asynchronously: freeing a replaced body, settling its byte count.
const patience = 3 * time.Second

// Run runs the contract suite against the stores f opens, each check in a
// subtest of its own.
func Run(t *testing.T, f Factory) {
	if f.New == nil {
		t.Fatal("storetest: Factory.New is nil")
	}
	tests := []struct {
		name string
		fn   func(*testing.T, Factory)
	}{
		{"LookupMissing", testLookupMissing},
		{"CommitThenLookup", testCommitThenLookup},
		{"EmptyBody", testEmptyBody},
		{"OpenReadsExactBytes", testOpenReadsExactBytes},
		{"StreamLargeBody", testStreamLargeBody},
		{"InvisibleBeforeCommit", testInvisibleBeforeCommit},
		{"AbortLeavesNothing", testAbortLeavesNothing},
		{"CancelCreateContext", testCancelCreateContext},
		{"InputNotRetained", testInputNotRetained},
		{"ReplaceSameVariant", testReplaceSameVariant},
		{"VariantsCoexist", testVariantsCoexist},
		{"ConcurrentVariants", testConcurrentVariants},
		{"VariantBound", testVariantBound},
		{"VariantBoundConcurrent", testVariantBoundConcurrent},
		{"ReadersDuringWrites", testReadersDuringWrites},
		{"Update", testUpdate},
		{"Delete", testDelete},
		{"PurgeTag", testPurgeTag},
		{"PurgePrefix", testPurgePrefix},
		{"Iterate", testIterate},
		{"Expired", testExpired},
		{"EvictionKeepsBudget", testEvictionKeepsBudget},
		{"TooLarge", testTooLarge},
		{"Stats", testStats},
		{"Close", testClose},
		{"Reopen", testReopen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, f) })
	}
}

// open asks f for a store and closes it when the test ends. A second Close
// (after a test closed the store itself) may return nil or ErrClosed.
func open(t *testing.T, f Factory, maxBytes int64) store.Store {
	t.Helper()
	s := f.New(t, maxBytes)
	if s == nil {
		t.Fatal("Factory.New returned nil")
	}
	t.Cleanup(func() { closeQuietly(t, s) })
	return s
}

func closeQuietly(t *testing.T, s store.Store) {
	if err := s.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
		t.Errorf("Close: %v", err)
	}
}

var baseTime = time.Date(2026, 11, 25, 22, 8, 26, 123456789, time.UTC)

// entry returns a realistic entry to create under key and variant: a
// multi-valued request and response header, both times, tags and a
// horizon an hour from now.
func entry(key, variant string, tags ...string) store.Entry {
	u, err := url.Parse(key)
	if err != nil {
		u = &url.URL{Path: key}
	}
	return store.Entry{
		Key:     key,
		Variant: variant,
		Pair: spec.Pair{
			Request: spec.Request{
				Method: http.MethodGet,
				URL:    u,
				Header: http.Header{"Accept-Encoding": {"gzip", "br"}, "X-Variant": {variant}},
			},
			Response: spec.Response{
				Status: http.StatusOK,
				Header: http.Header{
					"Cache-Control": {"public, max-age=60", "stale-while-revalidate=30"},
					"Content-Type":  {"text/plain; charset=utf-8"},
					"Etag":          {`"v1"`},
					"Set-Cookie":    {"a=1", "b=2", "c=3"},
				},
				RequestTime:  baseTime,
				ResponseTime: baseTime.Add(42 * time.Millisecond),
			},
		},
		Tags:    tags,
		Expires: time.Now().Add(time.Hour).Round(time.Millisecond),
	}
}

// put creates e, writes body in one call and commits it.
func put(t *testing.T, s store.Store, e store.Entry, body []byte) store.Entry {
	t.Helper()
	w, err := s.Create(t.Context(), e)
	if err != nil {
		t.Fatalf("Create(%q, %q): %v", e.Key, e.Variant, err)
	}
	if n, err := w.Write(body); err != nil || n != len(body) {
		_ = w.Abort()
		t.Fatalf("Write(%d bytes) = %d, %v", len(body), n, err)
	}
	got, err := w.Commit()
	if err != nil {
		t.Fatalf("Commit(%q, %q): %v", e.Key, e.Variant, err)
	}
	return got
}

func lookup(t *testing.T, s store.Store, key string) []store.Entry {
	t.Helper()
	es, err := s.Lookup(t.Context(), key)
	if err != nil {
		t.Fatalf("Lookup(%q): %v", key, err)
	}
	return es
}

// lookupOne looks key up and expects exactly one entry.
func lookupOne(t *testing.T, s store.Store, key string) store.Entry {
	t.Helper()
	es := lookup(t, s, key)
	if len(es) != 1 {
		t.Fatalf("Lookup(%q) returned %d entries, want 1: %s", key, len(es), describe(es))
	}
	return es[0]
}

func expectNone(t *testing.T, s store.Store, key string) {
	t.Helper()
	if es := lookup(t, s, key); len(es) != 0 {
		t.Fatalf("Lookup(%q) returned %d entries, want none: %s", key, len(es), describe(es))
	}
}

// readBody opens key/id and reads all of it, checking Size against what it read.
func readBody(t *testing.T, s store.Store, key, id string) []byte {
	t.Helper()
	b, err := s.Open(t.Context(), key, id)
	if err != nil {
		t.Fatalf("Open(%q, %q): %v", key, id, err)
	}
	defer b.Close()
	data, err := io.ReadAll(b)
	if err != nil {
		t.Fatalf("reading %q/%q: %v", key, id, err)
	}
	if b.Size() != int64(len(data)) {
		t.Fatalf("Body.Size() = %d, but %d bytes were read", b.Size(), len(data))
	}
	return data
}

func expectBody(t *testing.T, s store.Store, e store.Entry, want []byte) {
	t.Helper()
	if got := readBody(t, s, e.Key, e.ID); !bytes.Equal(got, want) {
		t.Fatalf("body of %q/%q: got %d bytes %.40q, want %d bytes %.40q", e.Key, e.Variant, len(got), got, len(want), want)
	}
}

func expectNotFound(t *testing.T, s store.Store, key, id string) {
	t.Helper()
	b, err := s.Open(t.Context(), key, id)
	if err == nil {
		b.Close()
		t.Fatalf("Open(%q, %q) succeeded, want ErrNotFound", key, id)
	}
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Open(%q, %q) = %v, want ErrNotFound", key, id, err)
	}
}

// eventually polls cond until it holds or patience runs out.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", patience, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func checksum(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }

// checkCommitted checks what Commit returned for e written with body.
func checkCommitted(t *testing.T, got, e store.Entry, body []byte) {
	t.Helper()
	if got.ID == "" {
		t.Error("Commit returned an empty ID")
	}
	if got.Pair.ID != got.ID {
		t.Errorf("Commit: Pair.ID = %q, want the entry's ID %q", got.Pair.ID, got.ID)
	}
	if got.Size != int64(len(body)) {
		t.Errorf("Commit: Size = %d, want %d", got.Size, len(body))
	}
	if want := checksum(body); got.Checksum != want {
		t.Errorf("Commit: Checksum = %#x, want CRC-32C %#x", got.Checksum, want)
	}
	e.ID, e.Pair.ID, e.Size, e.Checksum = got.ID, got.ID, got.Size, got.Checksum
	if diff := diffEntries(got, e); diff != "" {
		t.Errorf("Commit returned an entry that differs from the one created: %s", diff)
	}
}

// diffEntries describes how got differs from want, or returns "". Times
// are compared as instants, URLs by their String, headers value by value
// and in order.
func diffEntries(got, want store.Entry) string {
	var d []string
	add := func(field string, g, w any) { d = append(d, fmt.Sprintf("%s: got %v, want %v", field, g, w)) }
	cmp := func(field string, g, w any) {
		if g != w {
			add(field, fmt.Sprintf("%q", g), fmt.Sprintf("%q", w))
		}
	}
	cmpTime := func(field string, g, w time.Time) {
		if !g.Equal(w) || g.IsZero() != w.IsZero() {
			add(field, g, w)
		}
	}
	cmp("Key", got.Key, want.Key)
	cmp("Variant", got.Variant, want.Variant)
	cmp("ID", got.ID, want.ID)
	cmp("Pair.ID", got.Pair.ID, want.Pair.ID)
	cmp("Request.Method", got.Pair.Request.Method, want.Pair.Request.Method)
	cmp("Request.URL", urlString(got.Pair.Request.URL), urlString(want.Pair.Request.URL))
	if !equalHeader(got.Pair.Request.Header, want.Pair.Request.Header) {
		add("Request.Header", got.Pair.Request.Header, want.Pair.Request.Header)
	}
	if got.Pair.Response.Status != want.Pair.Response.Status {
		add("Response.Status", got.Pair.Response.Status, want.Pair.Response.Status)
	}
	if !equalHeader(got.Pair.Response.Header, want.Pair.Response.Header) {
		add("Response.Header", got.Pair.Response.Header, want.Pair.Response.Header)
	}
	cmpTime("Response.RequestTime", got.Pair.Response.RequestTime, want.Pair.Response.RequestTime)
	cmpTime("Response.ResponseTime", got.Pair.Response.ResponseTime, want.Pair.Response.ResponseTime)
	if got.Size != want.Size {
		add("Size", got.Size, want.Size)
	}
	if got.Checksum != want.Checksum {
		add("Checksum", got.Checksum, want.Checksum)
	}
	if !slices.Equal(got.Tags, want.Tags) {
		add("Tags", fmt.Sprintf("%q", got.Tags), fmt.Sprintf("%q", want.Tags))
	}
	cmpTime("Expires", got.Expires, want.Expires)
	if len(d) == 0 {
		return ""
	}
	return fmt.Sprint(d)
}

func urlString(u *url.URL) string {
	if u == nil {
		return "<nil>"
	}
	return u.String()
}

// equalHeader compares headers value by value, in order; a nil header
// equals an empty one (backends need not keep the difference).
func equalHeader(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		if vb, ok := b[k]; !ok || !slices.Equal(va, vb) {
			return false
		}
	}
	return true
}

func describe(es []store.Entry) string {
	var parts []string
	for _, e := range es {
		parts = append(parts, fmt.Sprintf("{%q %q id=%q size=%d}", e.Key, e.Variant, e.ID, e.Size))
	}
	return fmt.Sprint(parts)
}

func byVariant(t *testing.T, es []store.Entry) map[string]store.Entry {
	t.Helper()
	m := make(map[string]store.Entry, len(es))
	for _, e := range es {
		if _, dup := m[e.Variant]; dup {
			t.Fatalf("variant %q returned twice: %s", e.Variant, describe(es))
		}
		m[e.Variant] = e
	}
	return m
}

// iterate collects every entry Iterate yields.
func iterate(t *testing.T, s store.Store) []store.Entry {
	t.Helper()
	var es []store.Entry
	if err := s.Iterate(t.Context(), func(e store.Entry) bool {
		es = append(es, e)
		return true
	}); err != nil {
		t.Fatalf("Iterate: %v", err)
	}
	return es
}

// pattern is deterministic noise that bodies are cut from.
var pattern = func() []byte {
	b := make([]byte, 2*chunkSize)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x >> 32)
	}
	return b
}()

// body returns n bytes of pattern noise starting at an offset derived from seed.
func body(n, seed int) []byte {
	out := make([]byte, 0, n)
	for len(out) < n {
		off := (seed*7919 + len(out)) % chunkSize
		out = append(out, pattern[off:off+min(chunkSize, n-len(out))]...)
	}
	return out
}

// clone deep-copies e, so that the suite can keep what a Lookup returned
// without sharing maps a backend may hand to other callers.
func clone(e store.Entry) store.Entry {
	e.Pair.Request.Header = e.Pair.Request.Header.Clone()
	e.Pair.Response.Header = e.Pair.Response.Header.Clone()
	if u := e.Pair.Request.URL; u != nil {
		c := *u
		e.Pair.Request.URL = &c
	}
	e.Tags = slices.Clone(e.Tags)
	return e
}
