package spec

import (
	"testing"
	"time"
)

// TestJudge_AgreesWithCacheMiss: Judge gives the storage decision and the
// lifetime the state machine gives (RFC 9111 §3, §4.2.1, §4.2.2), in shared
// and private caches.
func TestJudge_AgreesWithCacheMiss(t *testing.T) {
	responses := [][]string{
		{"Cache-Control", "max-age=60"},
		{"Cache-Control", "s-maxage=30, max-age=60"},
		{"Cache-Control", "private, max-age=60"},
		{"Cache-Control", "no-store"},
		{"Expires", hd(at(120))},
		{"Last-Modified", hd(at(-1000))},
		{"CDN-Cache-Control", "max-age=600", "Cache-Control", "no-store"},
		{},
	}
	for _, o := range []Options{shared(t0), private(t0)} {
		for _, kv := range responses {
			resp := ok200(kv...)
			v := Judge(get(), resp, o)
			next := missFor(t, o, get()).Next(resp)
			sa, stored := next.(StoreAndUse)
			if v.Storable != stored {
				t.Errorf("shared=%v %v: Judge says storable=%v (%s), CacheMiss gives %s", o.Shared, kv, v.Storable, v.Reason.Code, next.StateName())
			}
			if stored && time.Duration(sa.Serve.CacheStatus.TTL)*time.Second != v.Lifetime {
				t.Errorf("shared=%v %v: lifetime %v, CacheMiss ttl %ds", o.Shared, kv, v.Lifetime, sa.Serve.CacheStatus.TTL)
			}
		}
	}
}

// TestJudge_NoAllocations: the quick decision allocates nothing.
func TestJudge_NoAllocations(t *testing.T) {
	o := shared(t0)
	req := get()
	resp := ok200("Cache-Control", "public, max-age=3600", "ETag", `"x"`, "Content-Type", "text/html")
	if n := testing.AllocsPerRun(100, func() { Judge(req, resp, o) }); n != 0 {
		t.Errorf("Judge allocates %v times", n)
	}
}
