//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package disk

import (
	"os"
	"syscall"
)

// mapSegment maps n bytes of f read-only and shared, so that reads of the
// log are memory accesses instead of a pread each (on a 2-core VM a pread
// cost ~3 µs, most of a Lookup). The mapping may run past the end of the
// file, so that the active segment's appends show through it without a
// remap; only bytes already written are ever read. As with the mmap of the
// bbolt index of earlier releases, a log file truncated by someone else
// while the store is open makes a read fault.
func mapSegment(f *os.File, n int64) ([]byte, error) {
	if n <= 0 {
		return nil, nil
	}
	return syscall.Mmap(int(f.Fd()), 0, int(n), syscall.PROT_READ, syscall.MAP_SHARED)
}

// unmapSegment undoes mapSegment.
func unmapSegment(b []byte) error {
	if b == nil {
		return nil
	}
	return syscall.Munmap(b)
}
