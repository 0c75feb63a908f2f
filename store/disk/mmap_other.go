//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package disk

import "os"

// mapSegment maps nothing where mmap is not available: reads of the log
// use pread.
func mapSegment(f *os.File, n int64) ([]byte, error) { return nil, nil }

// unmapSegment undoes mapSegment.
func unmapSegment(b []byte) error { return nil }
