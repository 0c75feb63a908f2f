package disk

import (
	"slices"
	"testing"
	"time"
)

// variantsOf returns the variants Lookup finds under key, sorted.
func variantsOf(t *testing.T, s *Store, key string) []string {
	t.Helper()
	var vs []string
	for _, e := range lookup(t, s, key) {
		vs = append(vs, e.Variant)
	}
	slices.Sort(vs)
	return vs
}

// TestVariantBound covers what the contract suite cannot see of the bound
// on a key's variants (issue 12: a Vary flood): the option, the bodies of
// the variants removed, the order after a restart (commit time, then use)
// and expired variants going before live ones.
func TestVariantBound(t *testing.T) {
	if _, err := Open(t.TempDir(), Options{MaxVariants: -1}); err == nil {
		t.Fatal("Open(MaxVariants: -1) succeeded")
	}

	t.Run("bodies", func(t *testing.T) {
		s := openTest(t, Options{MaxVariants: 3, InlineMax: -1})
		for _, v := range []string{"a", "b", "c", "d", "e"} {
			put(t, s, testEntry("k", v), []byte(v))
		}
		if got := variantsOf(t, s, "k"); !slices.Equal(got, []string{"c", "d", "e"}) {
			t.Fatalf("variants kept: %q, want the 3 latest", got)
		}
		if n := len(files(t, s.dir, "bodies")); n != 3 {
			t.Fatalf("%d body files for 3 variants", n)
		}
		if st := s.Stats(); st.Entries != 3 || st.Evictions != 2 {
			t.Fatalf("Stats after 2 variants past the bound: %+v", st)
		}
	})

	t.Run("reopen", func(t *testing.T) {
		clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
		s := openTest(t, Options{MaxVariants: 3, Clock: clk.now, InlineMax: -1})
		var ids = map[string]string{}
		for _, v := range []string{"a", "b", "c"} {
			ids[v] = put(t, s, testEntry("k", v), []byte(v)).ID
			clk.add(time.Second)
		}
		s = reopen(t, s)
		readAll(t, s, "k", ids["a"]) // after the restart, a is the most recently used
		put(t, s, testEntry("k", "d"), []byte("d"))
		if got := variantsOf(t, s, "k"); !slices.Equal(got, []string{"a", "c", "d"}) {
			t.Fatalf("variants kept: %q, want b (oldest commit, unused since) gone", got)
		}
	})

	t.Run("expired first", func(t *testing.T) {
		clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
		s := openTest(t, Options{MaxVariants: 3, Clock: clk.now, SweepInterval: time.Hour, InlineMax: -1})
		put(t, s, testEntry("k", "a"), []byte("a"))
		put(t, s, testEntry("k", "b"), []byte("b"))
		e := testEntry("k", "c")
		e.Expires = clk.now().Add(time.Second)
		put(t, s, e, []byte("c"))
		clk.add(time.Minute)
		put(t, s, testEntry("k", "d"), []byte("d"))
		if got := variantsOf(t, s, "k"); !slices.Equal(got, []string{"a", "b", "d"}) {
			t.Fatalf("variants kept: %q, want the expired c gone rather than the least recently used a", got)
		}
		if n := len(files(t, s.dir, "bodies")); n != 3 {
			t.Fatalf("%d body files for 3 variants", n)
		}
	})
}
