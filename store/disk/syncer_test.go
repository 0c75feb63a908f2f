package disk

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

// marks returns the offsets recorded by the synced frames of the segment
// file at path, in order.
func marks(t *testing.T, path string) []int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	_, bad, _, err := scanSegment(bytes.NewReader(data), 0, int64(len(data)), func(_, _ int64, p []byte) error {
		if v, ok := parseSynced(p); ok {
			got = append(got, v)
		}
		return nil
	})
	if err != nil || bad {
		t.Fatalf("scanning %s: bad %v, %v", path, bad, err)
	}
	return got
}

// Under FsyncInterval a commit returns before any fdatasync; the sweeper
// syncs the log within the interval and records how far, once per burst of
// appends: an idle store is not synced again.
func TestIntervalSyncsInBackground(t *testing.T) {
	s := openTest(t, Options{SyncInterval: 5 * time.Millisecond})
	if s.opts.Fsync != FsyncInterval {
		t.Fatalf("zero Options give %v, want interval", s.opts.Fsync)
	}
	seg := segmentFiles(t, s.dir)[0]
	if m := marks(t, seg); len(m) != 1 || m[0] != 0 {
		t.Fatalf("a new segment's marks are %v, want [0]", m)
	}
	e := put(t, s, testEntry("a", ""), []byte("body"))
	n, _ := s.idx.peek(e.ID)
	end := n.off + n.rlen // where the commit's frame ends
	eventually(t, func() bool { return len(marks(t, seg)) > 1 })
	time.Sleep(50 * time.Millisecond) // ten intervals with nothing appended
	if m := marks(t, seg); len(m) != 2 || m[1] != end {
		t.Fatalf("marks %v after one commit ending at %d and ten idle intervals, want [0 %d]", m, end, end)
	}
}

// crashCopy copies the store's directory as a power loss would leave it
// when the log's unsynced end was written back out of order: the bytes of
// the frame of the entry at key are zeroed, the frames after it are intact.
func crashCopy(t *testing.T, s *Store, key string) string {
	t.Helper()
	n, _ := s.idx.peek(lookup(t, s, key)[0].ID)
	dst := snapshotDir(t, s.dir)
	seg := segmentFiles(t, dst)[0]
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	clear(data[n.off+frameHeader : n.off+n.rlen])
	if err := os.WriteFile(seg, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

// After power loss the log of a store under FsyncInterval may hold a hole
// of zeros, with good frames after it, past the last sync. Open cuts the
// log at the hole, keeping what was synced; the same damage before the
// last sync is real damage and drops what came before it, as under
// FsyncIndex, so that no purge recorded after it is undone.
func TestIntervalCutsUnsyncedEndAfterPowerLoss(t *testing.T) {
	for _, tc := range []struct {
		name    string
		damaged string
		want    []string // keys found after Open
		warning string
	}{
		{"hole past the last sync", "b", []string{"a"}, "torn"},
		{"hole before the last sync", "a", []string{"b", "c"}, "damaged"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t, Options{SyncInterval: time.Hour})
			put(t, s, testEntry("a", ""), []byte("synced"))
			if err := s.syncActive(); err != nil {
				t.Fatal(err)
			}
			put(t, s, testEntry("b", ""), []byte("not yet synced"))
			put(t, s, testEntry("c", ""), []byte("not yet synced"))
			if tc.damaged == "a" {
				if err := s.syncActive(); err != nil {
					t.Fatal(err)
				}
			}
			dir := crashCopy(t, s, tc.damaged)
			var log bytes.Buffer
			s2 := openDir(t, dir, Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
			var got []string
			for _, k := range []string{"a", "b", "c"} {
				if len(lookup(t, s2, k)) == 1 {
					got = append(got, k)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("found %v after Open, want %v; log: %s", got, tc.want, log.String())
			}
			if !strings.Contains(log.String(), tc.warning) {
				t.Fatalf("no %q warning: %s", tc.warning, log.String())
			}
			goesOn(t, s2)
		})
	}
}

// A log synced lazily is reopened under FsyncIndex or FsyncAlways in a new
// segment, so that their appends, each synced, are never taken for the
// unsynced end of the old one; under FsyncInterval the reopened segment is
// synced and marked at its end first.
func TestPolicyChangeAtOpen(t *testing.T) {
	s := openTest(t, Options{})
	put(t, s, testEntry("a", ""), []byte("body"))
	s.Close()
	s = openDir(t, s.dir, Options{Fsync: FsyncIndex})
	if n := len(segmentFiles(t, s.dir)); n != 2 {
		t.Fatalf("%d segments after reopening a lazily synced log under index, want 2", n)
	}
	put(t, s, testEntry("b", ""), []byte("body"))
	s.Close()
	s = openDir(t, s.dir, Options{})
	segs := segmentFiles(t, s.dir)
	s.wmu.Lock()
	end := s.ilog.active().size
	s.wmu.Unlock()
	if m := marks(t, segs[len(segs)-1]); len(m) == 0 || m[len(m)-1]+syncedFrameLen(m[len(m)-1]) != end {
		t.Fatalf("reopened under interval: marks %v, segment %d bytes", m, end)
	}
	if len(lookup(t, s, "a")) != 1 || len(lookup(t, s, "b")) != 1 {
		t.Fatal("entries lost across the policy changes")
	}
}
