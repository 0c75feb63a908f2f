//go:build unix

package main

import "syscall"

// openFileLimit returns the process's limit on open files (RLIMIT_NOFILE;
// the Go runtime raised the soft limit to the hard one at start), or 0.
func openFileLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	return rl.Cur
}
