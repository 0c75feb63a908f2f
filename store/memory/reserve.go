package memory

import (
	"fmt"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
)

// The budget counts what writers hold while they buffer, not only what is
// committed: without that, each fill buffered up to the whole budget on its
// own, and four concurrent 1 GiB misses under a 256 MiB budget took the
// process to 1.6 GiB (issue 13). Every writer reserves its metadata at
// Create and each byte before it buffers it; the reservations of all the
// writers in flight never exceed MaxBytes together. A writer that cannot
// reserve fails with store.ErrTooLarge (the engine then serves the body
// without storing it), and Commit or Abort return what it held.
//
// Committed entries are bounded by MaxBytes on their own (otter evicts),
// so the store's memory is at most MaxBytes committed plus MaxBytes being
// written.

// reserve takes n bytes of the in-flight budget, or fails when the writers
// in flight already hold too much of it.
func (s *Store) reserve(n int64) bool {
	for {
		r := s.reserved.Load()
		if r+n > s.maxBytes {
			return false
		}
		if s.reserved.CompareAndSwap(r, r+n) {
			return true
		}
	}
}

// unreserve returns n bytes to the in-flight budget.
func (s *Store) unreserve(n int64) {
	if n != 0 {
		s.reserved.Add(-n)
	}
}

// errBudgetHeld is why a writer could not reserve: the budget is held by
// other writers in flight, not exceeded by this body alone.
func (s *Store) errBudgetHeld(key string, need int64) error {
	return fmt.Errorf("%w: %d more bytes for %q would exceed the budget of %d bytes with %d bytes held by writes in flight",
		store.ErrTooLarge, need, key, s.maxBytes, s.reserved.Load())
}

// declaredLength is the body length e's response announces (Content-Length,
// RFC 9110 §8.6), or -1 when it has none or carries no body: a HEAD
// response, and 1xx, 204 and 304, have no content whatever the field says
// (RFC 9110 §6.4.1).
func declaredLength(e *store.Entry) int64 {
	p := &e.Pair
	switch st := p.Response.Status; {
	case p.Request.Method == http.MethodHead, st < 200, st == http.StatusNoContent, st == http.StatusNotModified:
		return -1
	}
	v := p.Response.Header["Content-Length"]
	if len(v) != 1 {
		return -1
	}
	n, ok := spec.ParseContentLength(v[0])
	if !ok {
		return -1
	}
	return n
}

// A large aborted body is garbage the Go runtime keeps as heap until its
// next collection, which an idle process may not run for two minutes: the
// process stayed at its peak RSS (issue 13). After an abort that drops at
// least returnAfter bytes, the store asks the runtime to collect and return
// free memory to the system, once, returnDelay later, so that the writers
// aborted together are all released by one collection. It is never done
// per request: at most once per returnDelay, and only after large aborts.
const (
	returnAfter = 16 << 20
	returnDelay = time.Second
)

// dropped is called when a writer drops n buffered bytes without
// committing them.
func (s *Store) dropped(n int64) {
	if n < returnAfter || !s.returning.CompareAndSwap(false, true) {
		return
	}
	time.AfterFunc(returnDelay, func() {
		debug.FreeOSMemory()
		s.returning.Store(false)
	})
}
