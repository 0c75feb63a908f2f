package spec

import (
	"net/http"
	"testing"
	"time"
)

// TestOverrideFreshness: the opt-in forced TTL (outside RFC 9111) makes an
// otherwise unstorable response storable and fresh for exactly the TTL, and
// takes away every other source of freshness the core would read.
func TestOverrideFreshness(t *testing.T) {
	o := shared(t0)
	o.TargetedField = "Cellar-Cache-Control"
	tests := []struct {
		name string
		kv   []string
	}{
		{"no caching information", nil},
		{"no-store and private", []string{"Cache-Control", "no-store, private"}},
		{"Expires and Pragma", []string{"Expires", hd(at(-10)), "Pragma", "no-cache"}},
		{"RFC 9213 targeted fields", []string{"CDN-Cache-Control", "no-store", "Cellar-Cache-Control", "max-age=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := rsp(http.StatusOK, t0, append([]string{"Date", hd(t0)}, tt.kv...)...)
			OverrideFreshness(o, resp.Header, 90*time.Second)
			for _, k := range []string{"Expires", "Pragma", "Cdn-Cache-Control", "Cellar-Cache-Control"} {
				if _, ok := resp.Header[k]; ok {
					t.Errorf("%s left in place", k)
				}
			}
			sa := as[StoreAndUse](t, missFor(t, o, get()).Next(resp))
			if got := sa.Serve.CacheStatus.TTL; got != 90 {
				t.Errorf("ttl = %d, want 90", got)
			}
			// 89 s later it is still fresh, 91 s later it is not.
			sa.Pair.ID = "a"
			if _, ok := NewIdleClient(shared(at(89))).Next(get(), []Pair{sa.Pair}).(FromCache); !ok {
				t.Error("not fresh 89 s after a forced TTL of 90 s")
			}
			if _, ok := NewIdleClient(shared(at(91))).Next(get(), []Pair{sa.Pair}).(NeedRevalidation); !ok {
				t.Error("still fresh 91 s after a forced TTL of 90 s")
			}
		})
	}
}
