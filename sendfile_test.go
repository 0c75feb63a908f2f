package cellar

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/disk"
)

// readerFromStore wraps a store and records whether the writer its bodies
// are written to offers io.ReaderFrom (the path to sendfile(2)).
type readerFromStore struct {
	store.Store
	sawReaderFrom, sawWriteTo atomic.Bool
}

func (s *readerFromStore) Open(ctx context.Context, key, id string) (store.Body, error) {
	b, err := s.Store.Open(ctx, key, id)
	if err != nil {
		return nil, err
	}
	return &readerFromBody{Body: b, s: s}, nil
}

type readerFromBody struct {
	store.Body
	s *readerFromStore
}

func (b *readerFromBody) WriteTo(w io.Writer) (int64, error) {
	b.s.sawWriteTo.Store(true)
	if _, ok := w.(io.ReaderFrom); ok {
		b.s.sawReaderFrom.Store(true)
	}
	return b.Body.(io.WriterTo).WriteTo(w)
}

// Issue 14: a hit served by the Handler hands the stored body to the
// ResponseWriter through io.ReaderFrom, so that the disk store's file is
// sent with sendfile(2) rather than copied through user space.
func TestHandlerHitReachesReaderFrom(t *testing.T) {
	ds, err := disk.Open(t.TempDir(), disk.Options{MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ds.Close() })
	st := &readerFromStore{Store: ds}
	data := bytes.Repeat([]byte("large body "), 20_000)
	c := newTestCache(t, nil, true, Config{Store: st})
	srv := httptest.NewServer(c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data)
	})))
	t.Cleanup(srv.Close)
	for i := range 2 {
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("request %d: %d bytes, %v", i, len(got), err)
		}
	}
	if !st.sawWriteTo.Load() {
		t.Fatal("the hit did not write the stored body with WriteTo")
	}
	if !st.sawReaderFrom.Load() {
		t.Fatal("the stored body was written to a writer without io.ReaderFrom: no sendfile")
	}
}
