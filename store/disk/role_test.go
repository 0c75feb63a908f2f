package disk

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cellar-http/cellar/store"
)

// A directory keeps the role of the first cache that used it, across
// reopenings: a private cache's entries are never read by a shared cache
// that opens the directory later (RFC 9111 §3.5). A role file a crash left
// empty counts as none.
func TestClaimRole_RFC9111_3_5(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir, Options{})
	if err := s.ClaimRole(t.Context(), false); err != nil {
		t.Fatalf("first claim: %v", err)
	}
	if err := s.ClaimRole(t.Context(), false); err != nil {
		t.Fatalf("same role: %v", err)
	}
	s.Close()
	s = openDir(t, dir, Options{})
	if err := s.ClaimRole(t.Context(), true); !errors.Is(err, store.ErrRole) {
		t.Fatalf("shared claim of a private directory after reopening: %v, want ErrRole", err)
	}
	s.Close()

	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, roleFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s = openDir(t, empty, Options{})
	if err := s.ClaimRole(t.Context(), true); err != nil {
		t.Fatalf("claim over an empty role file: %v", err)
	}
	if err := s.ClaimRole(t.Context(), false); !errors.Is(err, store.ErrRole) {
		t.Fatalf("after the claim over an empty file: %v, want ErrRole", err)
	}
}
