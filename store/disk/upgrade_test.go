package disk

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// legacyEntry is an entry as an earlier release stored it: its index key,
// its record and, for a body in a file, that file's contents.
type legacyEntry struct {
	ik, rec []byte
	id      string
	file    []byte
}

// writeLegacyIndex writes dir/index.db as a release with a bbolt index did,
// with the body files, and the last use of each entry.
func writeLegacyIndex(t *testing.T, dir string, es []legacyEntry, used map[string]int64) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, legacyIndex), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		eb, _ := tx.CreateBucket([]byte("entries"))
		tx.CreateBucket([]byte("tags"))
		ub, _ := tx.CreateBucket([]byte("used"))
		for _, e := range es {
			if err := eb.Put(e.ik, e.rec); err != nil {
				return err
			}
		}
		for id, ts := range used {
			if err := ub.Put([]byte(id), binary.AppendVarint(nil, ts)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, e := range es {
		if e.file == nil {
			continue
		}
		p := filepath.Join(dir, "bodies", e.id[:2], e.id)
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, e.file, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func legacy(key string, body []byte, inline bool, stored int64, tags ...string) legacyEntry {
	e := testEntry(key, "", tags...)
	e.ID = newID()
	e.Pair.ID = e.ID
	e.Size, e.Checksum = int64(len(body)), crc(body)
	le := legacyEntry{ik: indexKey(key, ""), id: e.ID}
	if inline {
		le.rec = encodeRecord(e, stored, body)
	} else {
		le.rec = encodeRecord(e, stored, nil)
		le.file = body
	}
	return le
}

// An index.db of an earlier release is imported at Open, bodies in files
// and inline, tags and recency included, and then removed.
func TestUpgradeImportsBoltIndex(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().UnixNano()
	bodyOf := func(c byte) []byte { return bytes.Repeat([]byte{c}, 12_000) }
	a := legacy("A", bodyOf('a'), false, now-3, "t")
	b := legacy("B", bodyOf('b'), true, now-2)
	c := legacy("C", bodyOf('c'), false, now-1, "t")
	missing := legacy("missing", []byte("no file"), false, now)
	writeLegacyIndex(t, dir, []legacyEntry{a, b, c, missing}, map[string]int64{a.id: now})
	os.Remove(filepath.Join(dir, "bodies", missing.id[:2], missing.id))
	s := openDir(t, dir, Options{})
	if _, err := os.Stat(filepath.Join(dir, legacyIndex)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("index.db is still there: %v", err)
	}
	// A was used last, B is the least recent: with the budget cut to
	// three entries, the next commit evicts B.
	s.budget = 40_000
	put(t, s, testEntry("D", ""), make([]byte, 12_000))
	if len(lookup(t, s, "B")) != 0 {
		t.Fatal("recency of the old index was not imported: B, the least recent, survived")
	}
	s.budget = DefaultMaxBytes
	for _, e := range []legacyEntry{a, c} {
		key := string(e.ik[:1])
		if es := lookup(t, s, key); len(es) != 1 || es[0].ID != e.id || !bytes.Equal(readAll(t, s, key, e.id), e.file) {
			t.Fatalf("%s after the upgrade: %+v", key, es)
		}
	}
	if len(lookup(t, s, "missing")) != 0 {
		t.Fatal("entry without its body file imported")
	}
	s = reopen(t, s)
	if n, err := s.PurgeTag(context.Background(), "t"); n != 2 || err != nil {
		t.Fatalf("PurgeTag of imported tags = %d, %v", n, err)
	}
	checkAtRest(t, s)
}

// An inline body is imported with its record.
func TestUpgradeImportsInlineBody(t *testing.T) {
	dir := t.TempDir()
	b := legacy("B", []byte("inline in the old index"), true, 1)
	writeLegacyIndex(t, dir, []legacyEntry{b}, nil)
	s := openDir(t, dir, Options{})
	if got := readAll(t, s, "B", b.id); string(got) != "inline in the old index" {
		t.Fatalf("inline body after the upgrade: %q", got)
	}
}

// index.db is the index while it exists: a log beside it is an import a
// crash interrupted, and is replaced.
func TestUpgradeInterruptedImportRedone(t *testing.T) {
	dir := t.TempDir()
	a := legacy("A", []byte("a"), true, time.Now().UnixNano())
	s := openDir(t, dir, Options{})
	put(t, s, testEntry("stale", ""), []byte("from a log beside index.db"))
	s.Close()
	writeLegacyIndex(t, dir, []legacyEntry{a}, nil)
	s = openDir(t, dir, Options{})
	if len(lookup(t, s, "stale")) != 0 || len(lookup(t, s, "A")) != 1 {
		t.Fatal("the log beside index.db was not replaced by the import")
	}
}

// An index.db bbolt cannot read is removed; the store starts empty and
// the bodies it named are swept.
func TestUpgradeGarbageIndexStartsEmpty(t *testing.T) {
	dir := t.TempDir()
	a := legacy("A", []byte("a body in a file"), false, 1)
	writeLegacyIndex(t, dir, []legacyEntry{a}, nil)
	if err := os.WriteFile(filepath.Join(dir, legacyIndex), bytes.Repeat([]byte("garbage!"), 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	s := openDir(t, dir, Options{})
	if len(lookup(t, s, "A")) != 0 || len(files(t, dir, "bodies")) != 0 {
		t.Fatal("damaged old index not discarded")
	}
	put(t, s, testEntry("k", ""), []byte("body"))
}
