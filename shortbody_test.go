package cellar

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
)

// lyingStore serves bodies that end after half of what they claim.
type lyingStore struct{ store.Store }

func (s lyingStore) Open(ctx context.Context, key, id string) (store.Body, error) {
	b, err := s.Store.Open(ctx, key, id)
	if err != nil {
		return nil, err
	}
	return &halfBody{Body: b, r: io.NewSectionReader(b, 0, b.Size()/2)}, nil
}

type halfBody struct {
	store.Body
	r io.Reader
}

func (h *halfBody) Read(p []byte) (int, error) { return h.r.Read(p) }

// RFC 9111 §3.3: the engine never sends a body shorter than the length it
// declared. A stored body whose length disagrees with its stored header is
// treated as corrupt (the request is answered again from upstream); one
// that ends early while being read makes the body fail (the Transport) or
// the client's connection abort (a Handler), never end as if complete.
func TestEngine_RFC9111_3_3_NeverShortBody(t *testing.T) {
	t.Run("stored header disagrees with the stored body", func(t *testing.T) {
		clock := newClock()
		o := newOrigin(t, clock, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=600")
			io.WriteString(w, "0123456789")
		})
		c := newTestCache(t, clock, true, Config{})
		req, _ := http.NewRequest("GET", o.URL+"/r", nil)
		sreq := spec.Request{Method: "GET", URL: req.URL, Header: http.Header{}}
		m := as(t, c.Options(), sreq)
		sa := m.Next(spec.Response{Status: 200, Header: http.Header{"Cache-Control": {"max-age=600"}, "Content-Length": {"10"},
			"Date": {clock.Now().UTC().Format(http.TimeFormat)}}, RequestTime: clock.Now(), ResponseTime: clock.Now()}).(spec.StoreAndUse)
		w, err := c.Store().Create(context.Background(), store.Entry{Key: sa.Key, Variant: sa.Variant, Pair: sa.Pair, Expires: sa.Expires})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "01234") // five bytes under a Content-Length of ten
		if _, err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		r := do(t, c, "GET", o.URL+"/r")
		if r.err != nil || r.body != "0123456789" || o.hits.Load() != 1 {
			t.Errorf("got %q (%v), %d origin hits; want the origin's whole body", r.body, r.err, o.hits.Load())
		}
	})
	t.Run("stored body ends early", func(t *testing.T) {
		clock := newClock()
		o := newOrigin(t, clock, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=600")
			io.WriteString(w, strings.Repeat("x", 1000))
		})
		c := newTestCache(t, clock, true, Config{Store: lyingStore{newMemStore(t)}})
		do(t, c, "GET", o.URL+"/r") // stored
		if r := do(t, c, "GET", o.URL+"/r"); r.err == nil {
			t.Errorf("Transport: a body of %d bytes under Content-Length %s ended without error", len(r.body), r.header.Get("Content-Length"))
		}
		h := c.HandlerWith(http.NotFoundHandler(), HandlerOptions{Upstream: http.DefaultTransport})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.URL.Scheme, r.URL.Host = "http", o.Listener.Addr().String()
			r.Host = r.URL.Host // the key of the stored response
			h.ServeHTTP(w, r)
		}))
		defer srv.Close()
		// The connection is aborted: before the header, or mid-body.
		resp, err := http.Get(srv.URL + "/r")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err == nil {
			t.Errorf("Handler: the client's response ended without error")
		}
	})
}

// as starts a miss for req under opts.
func as(t *testing.T, o spec.Options, req spec.Request) spec.CacheMiss {
	t.Helper()
	m, ok := spec.NewIdleClient(o).Next(req, nil).(spec.CacheMiss)
	if !ok {
		t.Fatal("not a miss")
	}
	return m
}
