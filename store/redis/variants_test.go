package redis

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cellar-http/cellar/store/redis/redistest"
)

// TestVariantBound covers what the contract suite cannot see of the bound
// on a key's variants (issue 12: a Vary flood): the option, the use set's
// lifetime (it lives and dies with the meta hash, so it never outlives
// what it orders) and variants written before the bound existed, without a
// use record, going first.
func TestVariantBound(t *testing.T) {
	if _, err := (Options{Addrs: []string{"127.0.0.1:1"}, MaxVariants: -1}).withDefaults(); err == nil {
		t.Fatal("MaxVariants: -1 accepted")
	}
	srv := redistest.Start(t)
	s := newTestStore(t, []string{srv.Addr}, Options{Prefix: "vb:", MaxVariants: 3})
	const key = "https://example.com/flooded"
	h := hashTag(key)
	meta, use := "vb:{"+h+"}:m", "vb:{"+h+"}:u"
	variants := func() []string {
		t.Helper()
		es, err := s.Lookup(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		var vs []string
		for _, e := range es {
			vs = append(vs, e.Variant)
		}
		slices.Sort(vs)
		return vs
	}

	for i := range 5 {
		put(t, s, testEntry(key, "v"+strconv.Itoa(i)), []byte("x"))
	}
	if got := variants(); !slices.Equal(got, []string{"v2", "v3", "v4"}) {
		t.Fatalf("variants kept: %q, want the 3 latest", got)
	}
	if n, _ := srv.Do("ZCARD", use); n != "3" {
		t.Errorf("use set holds %s members for 3 variants", n)
	}
	if d, m := pttl(t, srv, use), pttl(t, srv, meta); d <= 0 || m-d > time.Second {
		t.Errorf("PTTL of the use set = %v, of the meta hash %v: want the same", d, m)
	}

	// A variant without a use record (as stored before the bound existed)
	// goes before the least recently used one.
	if _, err := srv.Do("ZREM", use, "v3"); err != nil {
		t.Fatal(err)
	}
	put(t, s, testEntry(key, "v5"), []byte("x"))
	if got := variants(); !slices.Equal(got, []string{"v2", "v4", "v5"}) {
		t.Fatalf("variants kept: %q, want v3 (no use record) gone", got)
	}

	if err := s.Delete(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	if ks := keys(t, srv, "vb:{"+h+"}:[mu]"); len(ks) != 0 {
		t.Fatalf("after Delete: %q remain", ks)
	}
}
