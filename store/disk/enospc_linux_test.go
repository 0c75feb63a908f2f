package disk

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// TestENOSPC fills a real 1 MiB tmpfs. It needs permission to mount, and
// skips without it; TestWriteErrorAbortsWrite covers the same path with an
// injected error everywhere.
func TestENOSPC(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (needs root and mount permission): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	s := openDir(t, filepath.Join(dir, "store"), Options{Fsync: FsyncAlways})
	defer s.Close()

	w, err := s.Create(context.Background(), testEntry("big", ""))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	var werr error
	for range 64 { // 4 MiB, far past the 1 MiB disk
		if _, werr = w.Write(chunk); werr != nil {
			break
		}
	}
	if !errors.Is(werr, syscall.ENOSPC) {
		t.Fatalf("filling the disk: %v, want ENOSPC", werr)
	}
	if _, err := w.Commit(); err == nil {
		t.Fatal("Commit after ENOSPC succeeded")
	}
	if f := files(t, s.dir, "tmp"); len(f) != 0 {
		t.Fatalf("tmp not cleaned: %v", f)
	}
	// The space is back: the store carries on.
	e := put(t, s, testEntry("small", ""), make([]byte, 100<<10))
	if got := readAll(t, s, "small", e.ID); len(got) != 100<<10 {
		t.Fatalf("read %d bytes", len(got))
	}
	if len(lookup(t, s, "big")) != 0 {
		t.Fatal("failed entry visible")
	}
}
