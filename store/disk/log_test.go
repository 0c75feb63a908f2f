package disk

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cellar-http/cellar/store"
)

// forceRoll seals the active segment, as if it had filled up.
func forceRoll(t *testing.T, s *Store) {
	t.Helper()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if _, err := s.roll(0); err != nil {
		t.Fatal(err)
	}
}

// liveIDs returns the ID of every entry Iterate lists, by key and variant.
func liveIDs(t testing.TB, s *Store) map[string]string {
	t.Helper()
	ids := map[string]string{}
	err := s.Iterate(context.Background(), func(e store.Entry) bool {
		ids[e.Key+"|"+e.Variant] = e.ID
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// A crash in the middle of an append leaves part of a frame at the end of
// the newest segment: Open cuts it off and keeps every frame before it,
// and appends after it are read back at the next Open.
func TestTornTailCutAtOpen(t *testing.T) {
	for _, cut := range []struct {
		name string
		fn   func(data []byte, last node) []byte
	}{
		{"part of a frame appended", func(data []byte, last node) []byte {
			extra := data[last.off : last.off+last.rlen/2]
			return append(data, extra...)
		}},
		{"last frame short", func(data []byte, last node) []byte {
			return data[:last.off+last.rlen-3]
		}},
		{"zeros past the end", func(data []byte, last node) []byte {
			return append(data, make([]byte, 4096)...)
		}},
	} {
		t.Run(cut.name, func(t *testing.T) {
			s := openTest(t, Options{})
			a := put(t, s, testEntry("a", ""), []byte("first"))
			b := put(t, s, testEntry("b", ""), []byte("second"))
			nb, _ := s.idx.peek(b.ID)
			s.Close()
			seg := segmentFiles(t, s.dir)[0]
			data, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			good := int64(len(data))
			damaged := cut.fn(data, nb)
			if err := os.WriteFile(seg, damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			lastCut := int64(len(damaged)) < nb.off+nb.rlen
			want := good // where the good frames end
			if lastCut {
				want = nb.off
			}
			want += syncedFrameLen(want) // Open's mark under FsyncInterval
			s = openDir(t, s.dir, s.opts)
			if es := lookup(t, s, "a"); len(es) != 1 || es[0].ID != a.ID {
				t.Fatalf("a after the torn write: %+v", es)
			}
			if es := lookup(t, s, "b"); lastCut && len(es) != 0 || !lastCut && (len(es) != 1 || es[0].ID != b.ID) {
				t.Fatalf("b after the torn write: %+v (its frame cut: %v)", es, lastCut)
			}
			info, err := os.Stat(seg)
			if err != nil {
				t.Fatal(err)
			}
			if info.Size() != want {
				t.Fatalf("segment is %d bytes after Open; want %d", info.Size(), want)
			}
			goesOn(t, s)
		})
	}
}

// goesOn checks that s, just recovered, takes a commit that survives a
// reopen; it returns the reopened store.
func goesOn(t *testing.T, s *Store) *Store {
	t.Helper()
	e := put(t, s, testEntry("after-recovery", ""), []byte("after"))
	s = reopen(t, s)
	if es := lookup(t, s, "after-recovery"); len(es) != 1 || es[0].ID != e.ID {
		t.Fatalf("commit after the recovery is lost: %+v", es)
	}
	return s
}

// Damage in a sealed segment drops the entries recorded before it (the lost
// frame may have removed them) but keeps those after it and those of later
// segments.
func TestDamagedOldSegmentKeepsLaterOnes(t *testing.T) {
	s := openTest(t, Options{})
	before := put(t, s, testEntry("before", ""), []byte("before the damage"))
	a := put(t, s, testEntry("a", ""), []byte("damaged"))
	after := put(t, s, testEntry("after", ""), []byte("after the damage"))
	na, _ := s.idx.peek(a.ID)
	forceRoll(t, s)
	b := put(t, s, testEntry("b", ""), []byte("in a later segment"))
	s.Close()
	seg := segmentFiles(t, s.dir)[0]
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	data[na.off+na.rlen-2] ^= 0x40
	if err := os.WriteFile(seg, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s = openDir(t, s.dir, s.opts)
	if len(lookup(t, s, "a")) != 0 || len(lookup(t, s, before.Key)) != 0 {
		t.Fatal("the damaged entry or one recorded before it is served")
	}
	if es := lookup(t, s, "after"); len(es) != 1 || es[0].ID != after.ID {
		t.Fatalf("entry after the damage: %+v", es)
	}
	if es := lookup(t, s, "b"); len(es) != 1 || es[0].ID != b.ID {
		t.Fatalf("entry of the later segment: %+v", es)
	}
	checkAtRest(t, s)
}

// compactNow runs a compaction and waits for it.
func compactNow(t *testing.T, s *Store) {
	t.Helper()
	s.compactWait.Wait()
	s.compactMin = 0
	s.wmu.Lock()
	s.compacting.Store(true)
	s.compactWait.Add(1)
	s.wmu.Unlock()
	go func() {
		defer s.compactWait.Done()
		defer s.compacting.Store(false)
		if err := s.compact(); err != nil {
			t.Error(err)
		}
	}()
	s.compactWait.Wait()
}

// snapshotDir copies the store's log and bodies to a new directory.
func snapshotDir(t *testing.T, dir string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if rel == "lock" || rel == cleanMarker {
			return nil
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// Compaction rewrites the live entries of old segments and removes them.
// A process that dies after any step of it leaves a log that rebuilds the
// same index: no live entry lost, no deleted one back. The deleted entries
// have inline bodies, so that a put brought back by a delete dropped too
// early (or a segment removed before an older one) would be served.
func TestCompactionCrashAtEveryStep(t *testing.T) {
	s := openTest(t, Options{Fsync: FsyncIndex})
	body := []byte("inline body")
	for i := range 40 {
		put(t, s, testEntry(fmt.Sprint("k", i), "", fmt.Sprint("t", i%4)), body)
	}
	forceRoll(t, s)
	// Deletes of puts in the first segment, in the second.
	for i := range 10 {
		if err := s.Delete(context.Background(), fmt.Sprint("k", i)); err != nil {
			t.Fatal(err)
		}
	}
	forceRoll(t, s)
	if _, err := s.PurgeTag(context.Background(), "t3"); err != nil {
		t.Fatal(err)
	}
	for i := 20; i < 25; i++ { // replacements
		put(t, s, testEntry(fmt.Sprint("k", i), "", fmt.Sprint("t", i%4)), []byte("replaced"))
	}
	lookup(t, s, "k30") // a use, carried over by the copy
	want := liveIDs(t, s)
	if len(want) != 40-10-8+1 { // k23 was put again after the purge
		t.Fatalf("%d live entries before compaction: %v", len(want), want)
	}
	var snaps []string
	s.compactStep = func() { snaps = append(snaps, snapshotDir(t, s.dir)) }
	before := len(segmentFiles(t, s.dir))
	compactNow(t, s)
	s.compactStep = nil
	if got := len(segmentFiles(t, s.dir)); got != 1 {
		t.Fatalf("%d segments after compaction (%d before)", got, before)
	}
	if len(snaps) < before {
		t.Fatalf("only %d steps", len(snaps))
	}
	if got := liveIDs(t, s); !maps.Equal(got, want) {
		t.Fatalf("after compaction: %v, want %v", got, want)
	}
	for i, dir := range append(snaps, s.dir) {
		if dir == s.dir {
			s.Close()
		}
		o := openDir(t, dir, Options{})
		if got := liveIDs(t, o); !maps.Equal(got, want) {
			t.Fatalf("step %d of %d: reopened with %v, want %v", i, len(snaps), got, want)
		}
		checkAtRest(t, o)
		o.Close()
	}
}

// Commits, replacements and deletes running while compactions rewrite the
// log: every entry each writer last committed is there, with its body,
// and every one it deleted is gone, before and after a reopen.
func TestCompactionUnderConcurrentCommits(t *testing.T) {
	s := openTest(t, Options{Fsync: FsyncNone, MaxBytes: 64 << 20})
	s.compactMin = 16 << 10
	const writers, ops, keys = 4, 600, 20
	ctx := context.Background()
	want := make([]map[string]string, writers) // key → ID, "" when deleted
	var wg sync.WaitGroup
	for w := range writers {
		want[w] = map[string]string{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for range ops {
				key := fmt.Sprintf("w%d-k%d", w, r.IntN(keys))
				switch r.IntN(5) {
				case 0:
					if err := s.Delete(ctx, key); err != nil {
						t.Error(err)
						return
					}
					want[w][key] = ""
				default:
					body := bytes.Repeat([]byte(key), 1+r.IntN(300))
					e := put(t, s, testEntry(key, ""), body)
					want[w][key] = e.ID
				}
			}
		}()
	}
	wg.Wait()
	s.compactWait.Wait()
	check := func(stage string) {
		for w := range writers {
			for key, id := range want[w] {
				es := lookup(t, s, key)
				switch {
				case id == "" && len(es) != 0:
					t.Fatalf("%s: deleted %s is back: %s", stage, key, es[0].ID)
				case id != "" && (len(es) != 1 || es[0].ID != id):
					t.Fatalf("%s: %s is %+v, want %s", stage, key, es, id)
				case id != "":
					if got := readAll(t, s, key, id); !bytes.Equal(got[:len(key)], []byte(key)) {
						t.Fatalf("%s: body of %s is %q", stage, key, got)
					}
				}
			}
		}
		checkAtRest(t, s)
	}
	check("after the commits")
	if n := s.compactions.Load(); n == 0 {
		t.Fatal("no compaction ran")
	} else {
		t.Logf("%d compactions; %d segments left", n, len(segmentFiles(t, s.dir)))
	}
	s = reopen(t, s)
	check("after reopen")
}

// Recency survives compaction: the copy of a record carries its entry's
// last use, so after a reopen the least recently used entry is evicted
// first even though the used frames went with the old segments.
func TestRecencySurvivesCompaction(t *testing.T) {
	s := openTest(t, Options{MaxBytes: 40_000})
	body := make([]byte, 12_000)
	a := put(t, s, testEntry("A", ""), body)
	put(t, s, testEntry("B", ""), body)
	put(t, s, testEntry("C", ""), body)
	time.Sleep(time.Millisecond)
	readAll(t, s, "A", a.ID)
	// The use goes to a used frame in a segment the compaction removes.
	if err := s.flushRecency(); err != nil {
		t.Fatal(err)
	}
	compactNow(t, s)
	s = reopen(t, s)
	put(t, s, testEntry("D", ""), body)
	if len(lookup(t, s, "B")) != 0 || len(lookup(t, s, "A")) != 1 {
		t.Fatal("B, the least recently used, survived; A did not")
	}
}

// FuzzLogScan feeds arbitrary segment bytes to the scanner and the replay:
// they never panic, and every frame they accept has the CRC it declares.
func FuzzLogScan(f *testing.F) {
	var seed []byte
	seed = appendFrame(seed, putPayload([]byte("k"+sep+"v"), []string{"t"}, encodeRecord(testEntry("k", "v", "t"), 1, []byte("body"))))
	seed = appendDelete(seed, "k"+sep+"v", newID())
	seed = appendFrame(seed, append([]byte{recUsed}, append([]byte(newID()), 2)...))
	f.Add(seed)
	f.Add(seed[:len(seed)-1])
	f.Add([]byte{})
	f.Add(make([]byte, 16))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzScan(t, data)
		// The same bytes as the payload of a good frame: the decoders of
		// puts, deletes and used frames get arbitrary input.
		if len(data) > 0 {
			fuzzScan(t, appendFrame(nil, data))
		}
	})
}

func fuzzScan(t *testing.T, data []byte) {
	{
		s := &Store{log: slog.New(slog.DiscardHandler)}
		s.idx.init()
		r := replayer{s: s, live: map[string]*node{}, byID: s.idx.byID}
		seg := &segment{}
		var prev int64
		end, bad, next, err := scanSegment(bytes.NewReader(data), 0, int64(len(data)), func(off, rlen int64, p []byte) error {
			if off != prev {
				t.Fatalf("frame at %d, the previous ended at %d", off, prev)
			}
			prev = off + rlen
			q, ok := checkFrame(data[off : off+rlen])
			if !ok || !bytes.Equal(q, p) {
				t.Fatalf("accepted a frame at %d whose CRC or length is wrong", off)
			}
			r.apply(seg, off, rlen, p)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if end != prev || !bad && end != int64(len(data)) || next >= 0 && next <= end {
			t.Fatalf("end %d bad %v next %d after frames up to %d of %d", end, bad, next, prev, len(data))
		}
		for _, n := range r.byID {
			if !validID(n.id) || n.off+n.rlen > end {
				t.Fatalf("node %+v", n)
			}
		}
	}
}

// Lookup reads only the marshalled entry of a record, which carries its own
// CRC-32C: a bit flipped in it while the store runs is caught, the entry is
// not served and is dropped, for Lookup and Iterate alike.
func TestLookupDropsDamagedRecord(t *testing.T) {
	s := openTest(t, Options{})
	e := put(t, s, testEntry("k", "", "t"), []byte("body"))
	other := put(t, s, testEntry("other", ""), []byte("kept"))
	n, _ := s.idx.peek(e.ID)
	at := n.off + n.rlen - n.metaLen + n.metaLen/2
	var b [1]byte
	if _, err := n.seg.f.ReadAt(b[:], at); err != nil {
		t.Fatal(err)
	}
	if _, err := n.seg.f.WriteAt([]byte{b[0] ^ 0x08}, at); err != nil {
		t.Fatal(err)
	}
	if es := lookup(t, s, "k"); len(es) != 0 {
		t.Fatalf("damaged record served: %+v", es)
	}
	if got := liveIDs(t, s); len(got) != 1 || got["other|"] != other.ID {
		t.Fatalf("Iterate after the damage: %v", got)
	}
	eventually(t, func() bool { _, ok := s.idx.peek(e.ID); return !ok })
	s = reopen(t, s)
	if len(lookup(t, s, "k")) != 0 || len(lookup(t, s, "other")) != 1 {
		t.Fatal("after reopen")
	}
}

// A cache that only serves hits commits nothing, yet records its uses in
// the log every RecencyInterval: those frames are dead at once, and the
// periodic recording starts a compaction when they outweigh the live
// frames, as a commit would, instead of letting the log grow until the
// next miss.
func TestRecencyFramesAreCompacted(t *testing.T) {
	s := openTest(t, Options{})
	s.compactMin = 0
	e := put(t, s, testEntry("A", ""), []byte("body"))
	for s.compactions.Load() == 0 {
		if s.ilog.total > 1<<20 {
			t.Fatalf("%d bytes of log for one entry, and no compaction", s.ilog.total)
		}
		readAll(t, s, "A", e.ID)
		if err := s.recordRecency(); err != nil {
			t.Fatal(err)
		}
		s.compactWait.Wait()
	}
	if got := readAll(t, s, "A", e.ID); string(got) != "body" {
		t.Fatalf("after compaction: %q", got)
	}
}

// syncedFrameLen is the length of the synced frame that records offset
// upto (see syncer.go).
func syncedFrameLen(upto int64) int64 {
	return frameHeader + 1 + int64(len(binary.AppendUvarint(nil, uint64(upto))))
}

// TestFramesBuiltInPlace checks that the frames commits, metadata updates
// and compaction build in one buffer (appendRecordFrame, appendPutFrame)
// are byte for byte the frame of the payload putPayload composes, after
// whatever the buffer already held, and scan back to the same record.
func TestFramesBuiltInPlace(t *testing.T) {
	e := testEntry("k", "v", "t1", "t2")
	e.ID, e.Size = newID(), 4
	ik := indexKey(e.Key, e.Variant)
	for _, inline := range [][]byte{nil, []byte("body")} {
		rec, metaLen := encodeRecordMeta(e, 42, inline)
		want := appendFrame(nil, putPayload(ik, e.Tags, rec))
		prior := []byte("earlier frames")
		got, gotMeta := appendRecordFrame(append([]byte(nil), prior...), ik, e, 42, inline)
		if !bytes.HasPrefix(got, prior) || !bytes.Equal(got[len(prior):], want) || gotMeta != metaLen {
			t.Fatalf("inline %q: appendRecordFrame differs from appendFrame(putPayload(encodeRecordMeta))", inline)
		}
		got = appendPutFrame(append([]byte(nil), prior...), ik, e.Tags, rec)
		if !bytes.Equal(got[len(prior):], want) {
			t.Fatalf("inline %q: appendPutFrame differs", inline)
		}
		// One buffer for the frame (testEntry has no URL, whose string
		// would be one more): nothing else.
		if n := testing.AllocsPerRun(100, func() { appendRecordFrame(nil, ik, e, 42, inline) }); n > 1 && !raceEnabled {
			t.Errorf("inline %q: appendRecordFrame allocates %v times, want 1", inline, n)
		}
		payload, ok := checkFrame(want)
		if !ok || len(payload)+frameHeader != len(want) {
			t.Fatalf("inline %q: the frame does not check", inline)
		}
		p, err := parsePut(payload)
		if err != nil || !bytes.Equal(p.ik, ik) || !bytes.Equal(p.rec, rec) {
			t.Fatalf("inline %q: the put does not parse back: %v", inline, err)
		}
	}
}
