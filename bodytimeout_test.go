package cellar

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/cellar-http/cellar/store"
)

// trickleOrigin answers with head, then sends one body byte (written by
// unit) every few milliseconds until stall is closed, and then nothing,
// holding the connection open until the test ends.
func trickleOrigin(t *testing.T, head string, unit func(b byte) string, stall <-chan struct{}) *origin {
	done := make(chan struct{})
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		brw.WriteString(head + "\r\n")
		brw.Flush()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stall:
				<-done // the stall: the connection stays open, silent
				return
			case <-tick.C:
				brw.WriteString(unit('x'))
				brw.Flush()
			}
		}
	})
	t.Cleanup(func() { close(done) }) // runs before the origin closes
	return o
}

// TestStalledUpstreamBodyCutsEveryWaiter: issue 13, item 3. An origin that
// sends its header and part of its body and then stalls, with the
// connection open, no longer holds the clients: after UpstreamBodyTimeout
// without a byte, the fill is aborted, nothing is stored, and every request
// reading the response (the leader and the ones collapsed into it) sees its
// connection cut, so that a short body never looks complete (RFC 9112 §6.3:
// a Content-Length body that ends early, or a chunked body without its
// last chunk, is incomplete).
func TestStalledUpstreamBodyCutsEveryWaiter(t *testing.T) {
	for _, tc := range []struct {
		name, head string
		unit       func(byte) string
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 100000\r\n", func(b byte) string { return string(b) }},
		{"chunked", "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: chunked\r\n", func(b byte) string { return "1\r\n" + string(b) + "\r\n" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stall := make(chan struct{})
			o := trickleOrigin(t, tc.head, tc.unit, stall)
			ou, _ := url.Parse(o.URL)
			m := newCountingMetrics()
			// The origin trickles a byte every 10 ms until the followers
			// have joined: only a machine stalled for 2 s could make the
			// timeout fire before.
			c := newTestCache(t, nil, true, Config{Metrics: m, UpstreamBodyTimeout: 2 * time.Second})
			upstream := roundTripFunc(func(r *http.Request) (*http.Response, error) {
				r = r.Clone(r.Context())
				r.URL.Scheme, r.URL.Host, r.Host = "http", ou.Host, ""
				return http.DefaultTransport.RoundTrip(r)
			})
			front := httptest.NewServer(c.HandlerWith(http.NotFoundHandler(), HandlerOptions{Upstream: upstream}))
			defer front.Close()

			const n = 3
			errs := make([]error, n)
			var wg sync.WaitGroup
			get := func(i int) {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a hang guard, not a measure
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, "GET", front.URL+"/stalls", nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs[i] = err
					return
				}
				defer resp.Body.Close()
				_, errs[i] = io.Copy(io.Discard, bufio.NewReader(resp.Body))
			}
			wg.Add(1)
			go get(0)
			eventually(t, "the leader's fill to start", func() bool { return o.hits.Load() == 1 })
			for i := 1; i < n; i++ {
				wg.Add(1)
				go get(i)
			}
			eventually(t, "the followers to collapse", func() bool {
				done := false
				m.snapshot(func(m *countingMetrics) { done = m.coalesced == n-1 })
				return done
			})
			close(stall)
			wg.Wait()
			for i, err := range errs {
				if err == nil {
					t.Errorf("client %d read a complete body from a stalled origin", i)
				} else if errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("client %d was held until its own deadline: %v", i, err)
				}
			}
			if h := o.hits.Load(); h != 1 {
				t.Errorf("origin hits = %d, want 1 (the followers collapsed)", h)
			}
			stored := 0
			c.Store().Iterate(context.Background(), func(store.Entry) bool { stored++; return true })
			m.snapshot(func(m *countingMetrics) {
				if m.aborted["body-timeout"] != 1 || m.stored != 0 || stored != 0 {
					t.Errorf("aborted=%v stored=%d entries=%d, want one body-timeout abort and nothing stored", m.aborted, m.stored, stored)
				}
			})
		})
	}
}

// TestIdleBodyCountsOnlyReads: the timeout bounds a wait inside Read, not
// the time a slow reader takes between reads.
func TestIdleBodyCountsOnlyReads(t *testing.T) {
	pr, pw := io.Pipe()
	resp := &http.Response{StatusCode: 200, Body: pr}
	withBodyTimeout(resp, 50*time.Millisecond)
	go func() {
		pw.Write([]byte("a"))
		pw.Write([]byte("b"))
	}()
	buf := make([]byte, 1)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond) // the reader dawdles: not the origin's fault
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatalf("second read after a slow reader: %v", err)
	}
	// Now the origin sends nothing: the read fails with the timeout.
	if _, err := resp.Body.Read(buf); !errors.Is(err, ErrUpstreamBodyTimeout) {
		t.Fatalf("read of a silent body: %v, want ErrUpstreamBodyTimeout", err)
	}
	if _, err := resp.Body.Read(buf); !errors.Is(err, ErrUpstreamBodyTimeout) {
		t.Fatalf("read after the timeout: %v", err)
	}
	resp.Body.Close()
}
