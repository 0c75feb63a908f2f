package main

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// The checker must catch what the harness is there to catch: a flipped
// byte, a short body and a long one, whatever the read sizes.
func TestVerifyCatchesCorruption(t *testing.T) {
	const path, size = "/obj/x", 100_003
	body := make([]byte, size)
	fillPattern(seedOf(path), 0, body)
	// Filling at an unaligned offset gives the same bytes.
	part := make([]byte, 1001)
	fillPattern(seedOf(path), 12_345, part)
	if !bytes.Equal(part, body[12_345:13_346]) {
		t.Fatal("fillPattern depends on where a fill starts")
	}
	if _, err := verify(io.LimitReader(bytes.NewReader(body), size), path, size); err != nil {
		t.Fatalf("intact body: %v", err)
	}
	flipped := bytes.Clone(body)
	flipped[77_777] ^= 1
	if _, err := verify(bytes.NewReader(flipped), path, size); !errors.Is(err, errMismatch) {
		t.Errorf("flipped byte: %v", err)
	}
	if _, err := verify(bytes.NewReader(body[:size-1]), path, size); !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, errLength) {
		t.Errorf("short body: %v", err)
	}
	// A read error is a cut, not a body that ended at the wrong length.
	cut := io.MultiReader(bytes.NewReader(body[:size/2]), iotest.ErrReader(io.ErrUnexpectedEOF))
	if _, err := verify(cut, path, size); err == nil || errors.Is(err, errLength) || errors.Is(err, errMismatch) {
		t.Errorf("cut body: %v", err)
	}
	if _, err := verify(bytes.NewReader(append(bytes.Clone(body), body[0])), path, size); err == nil {
		t.Error("long body verified")
	}
	if _, err := verify(bytes.NewReader(body), "/obj/y", size); !errors.Is(err, errMismatch) {
		t.Errorf("another path's body: %v", err)
	}
}
