package storetest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/memory"
	"github.com/cellar-http/cellar/store/storetest"
)

func newMemory(t *testing.T, maxBytes int64) *memory.Store {
	return newMemoryOpts(t, memory.Options{MaxBytes: maxBytes})
}

func newMemoryOpts(t *testing.T, o memory.Options) *memory.Store {
	s, err := memory.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// durable makes a memory store look durable: closing the wrapper keeps the
// data, and reopening wraps the same store again. It lets the suite's
// Reopen test run here, against a store known to be right.
type durable struct {
	*memory.Store
	closed atomic.Bool
}

func (d *durable) check() error {
	if d.closed.Load() {
		return store.ErrClosed
	}
	return nil
}

func (d *durable) Lookup(ctx context.Context, key string) ([]store.Entry, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	return d.Store.Lookup(ctx, key)
}

func (d *durable) Open(ctx context.Context, key, id string) (store.Body, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	return d.Store.Open(ctx, key, id)
}

func (d *durable) Create(ctx context.Context, e store.Entry) (store.Writer, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	return d.Store.Create(ctx, e)
}

func (d *durable) Update(ctx context.Context, key string, es []store.Entry) error {
	if err := d.check(); err != nil {
		return err
	}
	return d.Store.Update(ctx, key, es)
}

func (d *durable) Delete(ctx context.Context, key string) error {
	if err := d.check(); err != nil {
		return err
	}
	return d.Store.Delete(ctx, key)
}

func (d *durable) PurgeTag(ctx context.Context, tag string) (int, error) {
	if err := d.check(); err != nil {
		return 0, err
	}
	return d.Store.PurgeTag(ctx, tag)
}

func (d *durable) PurgePrefix(ctx context.Context, prefix string) (int, error) {
	if err := d.check(); err != nil {
		return 0, err
	}
	return d.Store.PurgePrefix(ctx, prefix)
}

func (d *durable) Iterate(ctx context.Context, fn func(store.Entry) bool) error {
	if err := d.check(); err != nil {
		return err
	}
	return d.Store.Iterate(ctx, fn)
}

func (d *durable) Close() error {
	d.closed.Store(true)
	return nil
}

// TestSuite runs the suite against the memory store made to look durable,
// so that every subtest, Reopen included, runs against a correct store.
func TestSuite(t *testing.T) {
	storetest.Run(t, storetest.Factory{
		New: func(t *testing.T, maxBytes int64) store.Store { return &durable{Store: newMemory(t, maxBytes)} },
		Reopen: func(t *testing.T, s store.Store) store.Store {
			d := s.(*durable)
			d.Close()
			return &durable{Store: d.Store}
		},
	})
}

// broken breaks a correct store in one way, named by mode, so that
// TestSuiteCatchesBrokenStores can check that the suite notices.
type broken struct {
	store.Store
	mode string
	fifo *fifoBound // for "variants-fifo"
}

func (b *broken) Lookup(ctx context.Context, key string) ([]store.Entry, error) {
	es, err := b.Store.Lookup(ctx, key)
	switch {
	case b.mode == "lookup-first-only" && len(es) > 1:
		es = es[:1]
	case b.mode == "lookup-error-on-miss" && len(es) == 0:
		err = store.ErrUnavailable
	case b.mode == "variants-fifo":
		es = b.fifo.visible(es)
	}
	return es, err
}

func (b *broken) Open(ctx context.Context, key, id string) (store.Body, error) {
	if b.mode == "variants-fifo" && !b.fifo.kept(key, id) {
		return nil, fmt.Errorf("%w: hidden by variants-fifo", store.ErrNotFound)
	}
	body, err := b.Store.Open(ctx, key, id)
	if err != nil {
		return nil, err
	}
	return &brokenBody{Body: body, mode: b.mode}, nil
}

func (b *broken) Create(ctx context.Context, e store.Entry) (store.Writer, error) {
	switch b.mode {
	case "ignore-cancel":
		ctx = context.WithoutCancel(ctx)
	case "no-expiry":
		e.Expires = time.Time{}
	case "visible-early":
		w, err := b.Store.Create(ctx, e)
		if err != nil {
			return nil, err
		}
		if _, err := w.Commit(); err != nil {
			return nil, err
		}
	}
	w, err := b.Store.Create(ctx, e)
	if err != nil {
		return nil, err
	}
	return &brokenWriter{Writer: w, mode: b.mode, fifo: b.fifo}, nil
}

// fifoBound makes a store with no variant bound of its own look bounded,
// but by commit order instead of use: each key shows only its
// store.DefaultMaxVariants most recently committed variants.
type fifoBound struct {
	mu  sync.Mutex
	seq int
	at  map[string]int // commit order by key and ID
}

func (f *fifoBound) committed(e store.Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	f.at[e.Key+"\x00"+e.ID] = f.seq
}

// visible returns the bound's worth of es, the latest commits.
func (f *fifoBound) visible(es []store.Entry) []store.Entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	es = slices.Clone(es)
	slices.SortFunc(es, func(a, b store.Entry) int { return f.at[b.Key+"\x00"+b.ID] - f.at[a.Key+"\x00"+a.ID] })
	return es[:min(len(es), store.DefaultMaxVariants)]
}

func (f *fifoBound) kept(key, id string) bool {
	f.mu.Lock()
	n := f.at[key+"\x00"+id]
	later := 0
	for k, m := range f.at {
		if strings.HasPrefix(k, key+"\x00") && m > n {
			later++
		}
	}
	f.mu.Unlock()
	return later < store.DefaultMaxVariants
}

func (b *broken) Update(ctx context.Context, key string, es []store.Entry) error {
	if b.mode == "update-noop" {
		return nil
	}
	return b.Store.Update(ctx, key, es)
}

func (b *broken) Delete(ctx context.Context, key string) error {
	if b.mode == "delete-noop" {
		return nil
	}
	return b.Store.Delete(ctx, key)
}

func (b *broken) PurgeTag(ctx context.Context, tag string) (int, error) {
	n, err := b.Store.PurgeTag(ctx, tag)
	if b.mode == "purge-tag-miscount" {
		n++
	}
	return n, err
}

func (b *broken) PurgePrefix(ctx context.Context, prefix string) (int, error) {
	if b.mode == "purge-prefix-all" {
		prefix = ""
	}
	return b.Store.PurgePrefix(ctx, prefix)
}

func (b *broken) Iterate(ctx context.Context, fn func(store.Entry) bool) error {
	if b.mode == "iterate-ignores-stop" {
		return b.Store.Iterate(ctx, func(e store.Entry) bool { fn(e); return true })
	}
	return b.Store.Iterate(ctx, fn)
}

func (b *broken) Stats() store.Stats {
	if b.mode == "stats-zero" {
		return store.Stats{}
	}
	return b.Store.Stats()
}

func (b *broken) Close() error {
	if b.mode == "close-noop" {
		return nil
	}
	return b.Store.Close()
}

type brokenWriter struct {
	store.Writer
	mode string
	fifo *fifoBound
}

func (w *brokenWriter) Commit() (store.Entry, error) {
	e, err := w.Writer.Commit()
	if w.mode == "zero-checksum" {
		e.Checksum = 0
	}
	if w.fifo != nil && err == nil {
		w.fifo.committed(e)
	}
	return e, err
}

func (w *brokenWriter) Abort() error {
	if w.mode == "abort-commits" {
		_, _ = w.Writer.Commit()
		return nil
	}
	return w.Writer.Abort()
}

type brokenBody struct {
	store.Body
	mode    string
	flipped bool
}

func (b *brokenBody) Read(p []byte) (int, error) {
	n, err := b.Body.Read(p)
	if b.mode == "corrupt-read" && n > 0 && !b.flipped {
		p[n-1] ^= 1
		b.flipped = true
	}
	return n, err
}

func (b *brokenBody) ReadAt(p []byte, off int64) (int, error) {
	n, err := b.Body.ReadAt(p, off)
	if b.mode == "readat-no-eof" {
		err = nil
	}
	return n, err
}

// TestBrokenChild runs one subtest of the suite against a store broken as
// $STORETEST_BROKEN says; TestSuiteCatchesBrokenStores runs it in a child
// process and expects it to fail.
func TestBrokenChild(t *testing.T) {
	mode := os.Getenv("STORETEST_BROKEN")
	if mode == "" {
		t.Skip("run by TestSuiteCatchesBrokenStores")
	}
	f := storetest.Factory{
		New: func(t *testing.T, maxBytes int64) store.Store {
			o := memory.Options{MaxBytes: maxBytes}
			b := &broken{mode: mode}
			switch mode {
			case "unbounded":
				o.MaxBytes = 1 << 40
			case "variants-unbounded":
				o.MaxVariants = 1 << 20
			case "variants-fifo":
				o.MaxVariants = 1 << 20
				b.fifo = &fifoBound{at: make(map[string]int)}
			}
			b.Store = newMemoryOpts(t, o)
			return b
		},
	}
	if mode == "reopen-loses" {
		f.Reopen = func(t *testing.T, s store.Store) store.Store {
			s.Close()
			return &broken{Store: newMemory(t, 32<<20), mode: mode}
		}
	}
	storetest.Run(t, f)
}

// TestSuiteCatchesBrokenStores checks that the suite is able to fail: for
// each way of breaking a correct store, the subtest meant to catch it does.
func TestSuiteCatchesBrokenStores(t *testing.T) {
	if os.Getenv("STORETEST_BROKEN") != "" {
		t.Skip("in a child")
	}
	if testing.Short() {
		t.Skip("starts a process per broken store")
	}
	cases := []struct{ mode, subtest string }{
		{"lookup-error-on-miss", "LookupMissing"},
		{"zero-checksum", "CommitThenLookup"},
		{"readat-no-eof", "OpenReadsExactBytes"},
		{"corrupt-read", "StreamLargeBody"},
		{"visible-early", "InvisibleBeforeCommit"},
		{"abort-commits", "AbortLeavesNothing"},
		{"ignore-cancel", "CancelCreateContext"},
		{"lookup-first-only", "VariantsCoexist"},
		{"lookup-first-only", "ConcurrentVariants"},
		{"variants-unbounded", "VariantBound"},
		{"variants-fifo", "VariantBound"},
		{"variants-unbounded", "VariantBoundConcurrent"},
		{"update-noop", "Update"},
		{"delete-noop", "Delete"},
		{"purge-tag-miscount", "PurgeTag"},
		{"purge-prefix-all", "PurgePrefix"},
		{"iterate-ignores-stop", "Iterate"},
		{"no-expiry", "Expired"},
		{"unbounded", "EvictionKeepsBudget"},
		{"unbounded", "TooLarge"},
		{"stats-zero", "Stats"},
		{"close-noop", "Close"},
		{"reopen-loses", "Reopen"},
	}
	for _, c := range cases {
		t.Run(c.mode+"/"+c.subtest, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenChild$/^"+c.subtest+"$", "-test.short", "-test.v")
			cmd.Env = append(os.Environ(), "STORETEST_BROKEN="+c.mode)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a store broken by %s:\n%s", c.mode, out)
			}
			if !strings.Contains(string(out), "--- FAIL: TestBrokenChild/"+c.subtest+" ") {
				t.Fatalf("the store broken by %s did not fail %s:\n%s", c.mode, c.subtest, out)
			}
		})
	}
}
