package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
)

// The origin serves deterministic bytes derived from the path, and the
// checker recomputes them: byte i of a body is byte i%8 of word i/8, and
// word k is splitmix64(seed+k), with seed a hash of the path. Any byte can
// be computed from its offset alone, so a body is checked as it streams.

func seedOf(path string) uint64 {
	h := fnv.New64a()
	io.WriteString(h, path)
	return h.Sum64()
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// fillPattern writes the bytes at [off, off+len(p)) of seed's body into p.
func fillPattern(seed uint64, off int64, p []byte) {
	for len(p) > 0 && off%8 != 0 {
		p[0] = byte(splitmix(seed+uint64(off/8)) >> (8 * (off % 8)))
		p, off = p[1:], off+1
	}
	for len(p) >= 8 {
		binary.LittleEndian.PutUint64(p, splitmix(seed+uint64(off/8)))
		p, off = p[8:], off+8
	}
	for i := range p {
		p[i] = byte(splitmix(seed+uint64(off/8)) >> (8 * (off % 8)))
		off++
	}
}

var (
	errMismatch = errors.New("body differs from what the origin served")
	// errLength is a body that ended cleanly (io.EOF: the response's
	// framing said it was complete) at the wrong length, unlike a read
	// error, which is a connection cut.
	errLength = errors.New("body ended at the wrong length")
)

// verify reads r to its end and checks every byte against path's pattern
// and the total against want. It returns the bytes read that matched and
// the first failure: a read error, a mismatch, or a body that ended
// short or long (errLength, which is also io.ErrUnexpectedEOF).
func verify(r io.Reader, path string, want int64) (int64, error) {
	seed := seedOf(path)
	buf := make([]byte, 256<<10)
	exp := make([]byte, 256<<10)
	var off int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			fillPattern(seed, off, exp[:n])
			if !bytes.Equal(buf[:n], exp[:n]) {
				return off, fmt.Errorf("%w at or after byte %d", errMismatch, off)
			}
			off += int64(n)
		}
		if err == io.EOF {
			if off != want {
				return off, fmt.Errorf("%w (%w): %d of %d bytes", errLength, io.ErrUnexpectedEOF, off, want)
			}
			return off, nil
		}
		if err != nil {
			return off, err
		}
	}
}
