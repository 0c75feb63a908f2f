package disk

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cellar-http/cellar/store"
)

// The crash test re-executes the test binary as a child that writes,
// replaces, updates and purges entries in a loop, and kills it with SIGKILL
// at random moments. After each kill the parent opens the directory and
// checks that recovery left no temporary or orphan file and that every entry
// it can find has exactly the body its metadata promises.

const (
	crashDirEnv   = "CELLAR_DISK_CRASH_DIR"
	crashFsyncEnv = "CELLAR_DISK_CRASH_FSYNC"
	crashSeedEnv  = "CELLAR_DISK_CRASH_SEED"
)

// crashBody is the body an entry must have: a function of its key, variant
// and the generation recorded in its response header.
func crashBody(key, variant string, gen uint64) []byte {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%d", key, variant, gen)
	sum := h.Sum64()
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], sum)
	binary.LittleEndian.PutUint64(seed[8:], gen)
	size := int(sum % (128 << 10))
	if sum>>63 == 1 { // half the bodies are small enough to be kept inline
		size = int(sum % (12 << 10))
	}
	b := make([]byte, size)
	rand.NewChaCha8(seed).Read(b)
	return b
}

func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process of TestCrash")
	}
	f, _ := strconv.Atoi(os.Getenv(crashFsyncEnv))
	seed, _ := strconv.ParseUint(os.Getenv(crashSeedEnv), 10, 64)
	s, err := Open(dir, Options{MaxBytes: 4 << 20, Fsync: Fsync(f)})
	if err != nil {
		fmt.Println("open failed:", err)
		os.Exit(2)
	}
	// Compact whenever 256 KiB are dead, so that kills land in the
	// middle of compactions too.
	s.compactMin = 256 << 10
	fmt.Println("ready")
	// Several writers, so that commits share appends.
	var out sync.Mutex
	for i := range crashWriters {
		go crashWriter(s, rand.New(rand.NewPCG(seed, uint64(i+1))), i, &out)
	}
	select {}
}

// crashGonePrefix starts the keys a writer commits once, deletes, and never
// writes again; the child prints "gone KEY" once the Delete returned.
const crashGonePrefix = "https://crash.example/gone/"

const crashWriters = 4

// crashWriter writes, replaces, updates and purges entries until the
// process is killed. Writer w also commits and deletes keys of its own that
// it never writes again, and reports each deletion once it returned on out.
func crashWriter(s *Store, r *rand.Rand, w int, out *sync.Mutex) {
	ctx := context.Background()
	for n := 0; ; n++ {
		key := fmt.Sprintf("https://crash.example/%d", r.IntN(60))
		variant := fmt.Sprint("v", r.IntN(3))
		switch op := r.IntN(20); {
		case op == 19:
			gone := fmt.Sprintf("%s%d-%d-%d", crashGonePrefix, r.Uint64(), w, n)
			e := testEntry(gone, "", "tag-gone")
			e.Pair.Response.Header.Set("X-Gen", "0")
			wr, err := s.Create(ctx, e)
			if err != nil {
				panic(err)
			}
			wr.Write(crashBody(gone, "", 0))
			if _, err := wr.Commit(); err != nil {
				panic(err)
			}
			if err := s.Delete(ctx, gone); err != nil {
				panic(err)
			}
			out.Lock()
			fmt.Println("gone", gone)
			out.Unlock()
		case op == 0:
			s.Delete(ctx, key)
		case op == 1:
			s.PurgeTag(ctx, fmt.Sprint("tag", r.IntN(5)))
		case op == 2:
			es, _ := s.Lookup(ctx, key)
			for i := range es {
				es[i].Pair.Response.Header.Set("X-Updated", strconv.Itoa(r.Int()))
				es[i].Expires = time.Now().Add(time.Hour)
			}
			s.Update(ctx, key, es)
		default:
			gen := r.Uint64()
			e := testEntry(key, variant, fmt.Sprint("tag", r.IntN(5)))
			e.Pair.Response.Header.Set("X-Gen", strconv.FormatUint(gen, 10))
			body := crashBody(key, variant, gen)
			w, err := s.Create(ctx, e)
			if err != nil {
				panic(err)
			}
			for len(body) > 0 {
				n := min(len(body), 1+r.IntN(16<<10))
				if _, err := w.Write(body[:n]); err != nil {
					panic(err)
				}
				body = body[n:]
			}
			if op == 3 {
				w.Abort()
			} else if _, err := w.Commit(); err != nil {
				panic(err)
			}
		}
	}
}

func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: re-executes the test binary 30 times")
	}
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	verified, withTmp, repaired, deleted := 0, 0, 0, 0
	for i := range 30 {
		policy := Fsync(i % 4)
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(),
			crashDirEnv+"="+dir,
			crashFsyncEnv+"="+strconv.Itoa(int(policy)),
			crashSeedEnv+"="+strconv.FormatUint(r.Uint64(), 10))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if line != "ready\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child %d: %q %v; stderr: %s", i, line, err, stderr.String())
		}
		goneKeys := make(chan []string, 1)
		go func() {
			var keys []string
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if k, ok := strings.CutPrefix(sc.Text(), "gone "); ok {
					keys = append(keys, k)
				}
			}
			goneKeys <- keys
		}()
		time.Sleep(time.Duration(5+r.IntN(76)) * time.Millisecond)
		cmd.Process.Kill()
		err = cmd.Wait()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != -1 {
			t.Fatalf("child %d did not die by the signal: %v; stderr: %s", i, err, stderr.String())
		}
		if len(files(t, dir, "tmp")) > 0 {
			withTmp++
		}
		gone := <-goneKeys
		deleted += len(gone)
		n, log := checkAfterCrash(t, dir, policy, gone)
		verified += n
		if strings.Contains(log, "recovered store") {
			repaired++
			// A process crash loses nothing the kernel was given: recovery
			// may remove orphans but never a committed entry's body.
			if !strings.Contains(log, "entries_dropped=0") {
				t.Fatalf("crash %d: Open dropped entries: %s", i, log)
			}
		}
	}
	if verified == 0 {
		t.Fatal("no entry survived any crash: the child never committed anything")
	}
	t.Logf("verified %d entries and %d deletions across 30 crashes; %d left a body in tmp/, %d left orphan bodies", verified, deleted, withTmp, repaired)
}

// checkAfterCrash opens dir and checks every entry and file in it, and that
// none of the keys whose deletion returned (gone) is back; it returns how
// many entries it verified and what Open logged.
func checkAfterCrash(t *testing.T, dir string, policy Fsync, gone []string) (int, string) {
	t.Helper()
	var log bytes.Buffer
	s, err := Open(dir, Options{MaxBytes: 4 << 20, Fsync: policy, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatalf("Open after crash: %v", err)
	}
	defer s.Close()
	if f := files(t, dir, "tmp"); len(f) != 0 {
		t.Fatalf("tmp files after Open: %v", f)
	}
	ctx := context.Background()
	for _, k := range gone {
		if es, _ := s.Lookup(ctx, k); len(es) != 0 {
			t.Fatalf("%s was deleted before the crash and is back", k)
		}
	}
	var all []store.Entry
	s.Iterate(ctx, func(e store.Entry) bool { all = append(all, e); return true })
	ids := map[string]bool{}
	for _, e := range all {
		ids[e.ID] = true
	}
	for _, f := range files(t, dir, "bodies") {
		if name := f[len(f)-idLen:]; !ids[name] {
			t.Fatalf("orphan body file after Open: %s", f)
		}
	}
	if fb := fileBodies(s); fb != len(files(t, dir, "bodies")) {
		t.Fatalf("%d entries with a body file (%d in all) but %d body files", fb, len(ids), len(files(t, dir, "bodies")))
	}
	if st := s.Stats(); st.Entries != int64(len(all)) || st.Bytes > 4<<20 {
		t.Fatalf("stats %+v for %d entries", st, len(all))
	}
	n := 0
	seenKeys := map[string]bool{}
	for _, e := range all {
		if seenKeys[e.Key] {
			continue
		}
		seenKeys[e.Key] = true
		es, err := s.Lookup(ctx, e.Key)
		if err != nil || len(es) == 0 {
			t.Fatalf("Lookup(%q) = %d entries, %v; Iterate listed it", e.Key, len(es), err)
		}
		for _, got := range es {
			gen, err := strconv.ParseUint(got.Pair.Response.Header.Get("X-Gen"), 10, 64)
			if err != nil {
				t.Fatalf("%s/%s: bad X-Gen: %v", got.Key, got.Variant, err)
			}
			want := crashBody(got.Key, got.Variant, gen)
			b, err := s.Open(ctx, got.Key, got.ID)
			if err != nil {
				t.Fatalf("Open(%s/%s): %v", got.Key, got.Variant, err)
			}
			data, err := io.ReadAll(b)
			b.Close()
			if err != nil || !bytes.Equal(data, want) || got.Size != int64(len(want)) || got.Checksum != crc(want) {
				t.Fatalf("%s/%s gen %d: read %d bytes (%v), want %d; size %d crc %x want %x",
					got.Key, got.Variant, gen, len(data), err, len(want), got.Size, got.Checksum, crc(want))
			}
			n++
		}
	}
	return n, log.String()
}

// TestSecondProcessLocked opens a directory that a child process holds.
func TestSecondProcessLocked(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashFsyncEnv+"=1", crashSeedEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		t.Fatalf("child: %q %v", line, err)
	}
	go io.Copy(io.Discard, out)
	s, err := Open(dir, Options{LockTimeout: 20 * time.Millisecond})
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded while another process holds the directory")
	}
	if !errors.Is(err, ErrLocked) || err.Error() != "disk store: directory "+dir+" is in use by another process" {
		t.Fatalf("Open: %v", err)
	}
}
