package memory_test

import (
	"strconv"
	"testing"

	"github.com/cellar-http/cellar/store/memory"
)

// TestMaxVariantsOption: Options.MaxVariants replaces the default bound on
// the variants of one key (issue 12: a Vary flood), and a negative one is
// refused.
func TestMaxVariantsOption(t *testing.T) {
	if _, err := memory.New(memory.Options{MaxBytes: 1 << 20, MaxVariants: -1}); err == nil {
		t.Error("New(MaxVariants: -1) succeeded")
	}
	s, err := memory.New(memory.Options{MaxBytes: 64 << 20, MaxVariants: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const key = "https://example.com/flooded"
	for i := range 12 {
		e := typical(key)
		e.Variant = "cookie=" + strconv.Itoa(i)
		commit(t, s, e, []byte("body"))
	}
	es, err := s.Lookup(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 5 {
		t.Fatalf("Lookup returned %d variants, want the 5 configured", len(es))
	}
	for _, e := range es {
		if n, _ := strconv.Atoi(e.Variant[len("cookie="):]); n < 7 {
			t.Errorf("variant %q survived, but it is older than the 5 latest commits", e.Variant)
		}
	}
}
