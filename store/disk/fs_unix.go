//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package disk

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockDir takes an exclusive flock on dir/lock, retrying until timeout.
// The lock belongs to the open file description, so a second Open in the
// same process conflicts too, and the kernel drops it when the process dies.
// It guards everything Open does to the directory (replaying, cutting and
// appending to the log) and every append while the Store is open: the log
// has no lock of its own.
func lockDir(dir string, timeout time.Duration) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("disk store: %w", err)
	}
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("disk store: locking %s: %w", dir, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, &lockedError{dir: dir}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// openBody opens a body file for reading. It saves os.Open's poller
// registration attempt, which a regular file never needs: a third of the
// cost of opening.
func openBody(path string) (*os.File, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), path), nil
	}
}

// createBody creates a temporary body file, which must not exist yet. Like
// openBody it skips os.OpenFile's poller registration attempt (an
// epoll_ctl that fails for every regular file).
func createBody(path string) (bodyFile, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, 0o600)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), path), nil
	}
}
