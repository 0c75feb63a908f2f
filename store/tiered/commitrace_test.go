package tiered

import (
	"context"
	"net/http"
	"testing"

	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/disk"
)

// afterCommit is a durable store whose writers call hook once their entry
// is committed, before Commit returns: what other requests may do in that
// window.
type afterCommit struct {
	*disk.Store
	hook func(e store.Entry)
}

func (a *afterCommit) Create(ctx context.Context, e store.Entry) (store.Writer, error) {
	w, err := a.Store.Create(ctx, e)
	if err != nil {
		return nil, err
	}
	return &hookedWriter{Writer: w, hook: a.hook}, nil
}

type hookedWriter struct {
	store.Writer
	hook func(e store.Entry)
}

func (w *hookedWriter) Commit() (store.Entry, error) {
	e, err := w.Writer.Commit()
	if err == nil && w.hook != nil {
		w.hook(e)
	}
	return e, err
}

// An Update (RFC 9111 §4.3.4: the fields of a 304 replace the stored
// ones) of an entry just committed, made and read back by other requests
// before that entry's Commit returned, must not be undone in memory by the
// Commit putting its entry, as it was committed, in the key's list: it has
// the same ID, so Liveness cannot catch it, and every hit from memory then
// served the fields the Update replaced while the durable store held the
// new ones.
func TestCommitDoesNotUndoAConcurrentUpdate_RFC9111_4_3_4(t *testing.T) {
	d, err := disk.Open(t.TempDir(), disk.Options{Fsync: disk.FsyncNone})
	if err != nil {
		t.Fatal(err)
	}
	cold := &afterCommit{Store: d}
	s, err := New(cold, Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const key = "https://example.com/k"
	put(t, s, entry(key, ""), "v1")
	get(t, s, key) // the key's list is in memory
	cold.hook = func(e store.Entry) {
		cold.hook = nil
		// Another request finds the new entry (memory's list names the
		// replaced one, which Liveness finds gone) and revalidates it.
		es, err := s.Lookup(t.Context(), key)
		if err != nil || len(es) != 1 || es[0].ID != e.ID {
			t.Fatalf("Lookup in the window: %v, %v", es, err)
		}
		u := es[0]
		u.Pair.Response.Header = http.Header{"Etag": {`"new"`}}
		if err := s.Update(t.Context(), key, []store.Entry{u}); err != nil {
			t.Fatal(err)
		}
		if es, _ := s.Lookup(t.Context(), key); len(es) != 1 || es[0].Pair.Response.Header.Get("Etag") != `"new"` {
			t.Fatalf("Lookup after the Update: %v", es)
		}
	}
	put(t, s, entry(key, ""), "v2")
	es, err := s.Lookup(t.Context(), key)
	if err != nil || len(es) != 1 {
		t.Fatalf("Lookup = %v, %v", es, err)
	}
	if got := es[0].Pair.Response.Header.Get("Etag"); got != `"new"` {
		ds, _ := d.Lookup(t.Context(), key)
		t.Fatalf("memory serves Etag %q, the durable store holds %v", got, ds[0].Pair.Response.Header)
	}
}
