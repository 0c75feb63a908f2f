package main

// defaultMaxConns sizes --max-conns for the machine: half the open-file
// limit, the other half left for upstream connections, the store's files
// and the admin listener; 4096 when the limit is unknown, and never more
// than 1<<20. Each idle keep-alive connection holds a file and about 20
// KiB (issue 12: 5,000 held about 100 MB).
func defaultMaxConns() int {
	n := openFileLimit() / 2
	switch {
	case n == 0:
		return 4096
	case n < 64:
		return 64
	case n > 1<<20:
		return 1 << 20
	}
	return int(n)
}
