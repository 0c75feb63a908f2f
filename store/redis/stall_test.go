package redis

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/cellar-http/cellar/store"
	"github.com/cellar-http/cellar/store/redis/redistest"
)

// TestBodyReadSurvivesBriefStall: issue 13, item 7. A server that stalls
// between two chunks of a body being read (SIGSTOP here; a snapshot fork or
// a failover in production) made the read fail, which cut a response
// already half sent. The chunk read is now sent once more: the server is
// resumed just before the retry, and the whole body reads back intact. A
// server that stays stopped still fails the read with ErrUnavailable.
func TestBodyReadSurvivesBriefStall(t *testing.T) {
	for _, tc := range []struct {
		name   string
		resume bool
	}{{"brief", true}, {"hung", false}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			t.Cleanup(srv.Resume) // never leave it stopped
			s := newTestStore(t, []string{srv.Addr}, Options{ChunkSize: 1024, CommandTimeout: 200 * time.Millisecond})
			data := bytes.Repeat([]byte("0123456789abcdef"), 256) // 4 KiB: four chunks
			e := put(t, s, testEntry("https://example.com/stall", ""), data)
			var retries int
			var once sync.Once
			s.beforeRetry = func() {
				retries++
				if tc.resume {
					once.Do(srv.Resume)
				}
			}
			b, err := s.Open(context.Background(), e.Key, e.ID)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			first := make([]byte, 1024)
			if _, err := io.ReadFull(b, first); err != nil {
				t.Fatal(err)
			}
			srv.Pause()
			rest, err := io.ReadAll(b)
			if !tc.resume {
				if !errors.Is(err, store.ErrUnavailable) || retries != 1 {
					t.Fatalf("read from a hung server: %v after %d retries, want ErrUnavailable after 1", err, retries)
				}
				return
			}
			if err != nil {
				t.Fatalf("read across a brief stall: %v (%d retries)", err, retries)
			}
			if !bytes.Equal(append(first, rest...), data) || retries != 1 {
				t.Fatalf("read %d bytes after %d retries, want the %d stored, after 1", len(first)+len(rest), retries, len(data))
			}
		})
	}
}

// TestRangeReadSurvivesBriefStall: the same for ReadAt (Range requests).
func TestRangeReadSurvivesBriefStall(t *testing.T) {
	srv := redistest.Start(t)
	t.Cleanup(srv.Resume)
	s := newTestStore(t, []string{srv.Addr}, Options{ChunkSize: 1024, CommandTimeout: 200 * time.Millisecond})
	data := bytes.Repeat([]byte("0123456789abcdef"), 256)
	e := put(t, s, testEntry("https://example.com/stall-range", ""), data)
	retries := 0
	s.beforeRetry = func() { retries++; srv.Resume() }
	b, err := s.Open(context.Background(), e.Key, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	srv.Pause()
	got := make([]byte, 2000)
	if _, err := b.ReadAt(got, 1500); err != nil || !bytes.Equal(got, data[1500:3500]) || retries != 1 {
		t.Fatalf("ReadAt across a brief stall: %v after %d retries", err, retries)
	}
}
