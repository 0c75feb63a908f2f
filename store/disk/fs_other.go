//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package disk

import (
	"os"
	"time"
)

// lockDir is a no-op where flock is not available: there, nothing keeps a
// second Store from opening the directory, and two Stores appending to one
// log damage it. Open a directory from one process only.
func lockDir(dir string, timeout time.Duration) (*os.File, error) {
	return nil, nil
}

// openBody opens a body file for reading.
func openBody(path string) (*os.File, error) { return os.Open(path) }

// createBody creates a temporary body file, which must not exist yet.
func createBody(path string) (bodyFile, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
}
