package spec

import (
	"net/http"
	"testing"
)

// threeVariants are three stored variants of one URL, Vary: Accept-Encoding,
// as a cache would hold them (stored through CacheMiss).
func threeVariants(b *testing.B) []Pair {
	b.Helper()
	o := private(t0)
	var ps []Pair
	for i, enc := range []string{"identity", "br", "gzip, deflate"} {
		req := get("Accept-Encoding", enc, "User-Agent", "bench")
		resp := ok200("Cache-Control", "public, max-age=3600", "Vary", "Accept-Encoding", "ETag", `"v`+itoa(i)+`"`,
			"Content-Type", "text/html; charset=utf-8", "Content-Length", "5120", "Last-Modified", hd(at(-86400)))
		sa, ok := NewIdleClient(o).Next(req, nil).(CacheMiss)
		if !ok {
			b.Fatal("not a miss")
		}
		st, ok := sa.Next(resp).(StoreAndUse)
		if !ok {
			b.Fatal("not stored")
		}
		st.Pair.ID = itoa(i)
		ps = append(ps, st.Pair)
	}
	return ps
}

// BenchmarkFreshHitThreeVariants is the hot path of a cache: a request
// matching the third of three Vary variants, answered fresh, its header
// written into a reused header map. Target: < 1 µs, ≤ 4 allocs/op. The two
// allocations are the FromCache boxed in the IdleNext interface and the
// Age field's value.
func BenchmarkFreshHitThreeVariants(b *testing.B) {
	stored := threeVariants(b)
	idle := NewIdleClient(Options{Shared: true, Clock: fixed(at(60))})
	req := get("Accept-Encoding", "gzip, deflate", "User-Agent", "bench", "Accept", "*/*")
	dst := make(http.Header, 16)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		fc, ok := idle.Next(req, stored).(FromCache)
		if !ok || fc.Pair.ID != "2" {
			b.Fatal("not a hit on the third variant")
		}
		// Every iteration writes the same fields, so dst holds one
		// response's header throughout: reused without clearing.
		fc.Serve.WriteHeader(dst)
	}
}

// BenchmarkFreshHitNewGoroutine is BenchmarkFreshHitThreeVariants on a new
// goroutine each time, as a server's connection goroutine meets it after a
// GC shrank its stack: frames deeper than the stack make the runtime copy
// it to a larger one (runtime.copystack), so the hit path keeps its frames
// small (see decide).
func BenchmarkFreshHitNewGoroutine(b *testing.B) {
	stored := threeVariants(b)
	idle := NewIdleClient(Options{Shared: true, Clock: fixed(at(60))})
	req := get("Accept-Encoding", "gzip, deflate", "User-Agent", "bench", "Accept", "*/*")
	done := make(chan bool)
	b.ReportAllocs()
	for b.Loop() {
		go func() {
			fc, ok := idle.Next(req, stored).(FromCache)
			if ok {
				dst := make(http.Header, 16)
				fc.Serve.WriteHeader(dst)
			}
			done <- ok && fc.Pair.ID == "2"
		}()
		if !<-done {
			b.Fatal("not a hit on the third variant")
		}
	}
}

// BenchmarkStoreDecision judges an upstream response for storage
// (CacheMiss.Next): the policy, freshness, cleaning and variant key.
func BenchmarkStoreDecision(b *testing.B) {
	o := Options{Shared: true, Clock: fixed(t0)}
	req := get("Accept-Encoding", "gzip, br", "User-Agent", "bench")
	m := NewIdleClient(o).Next(req, nil).(CacheMiss)
	resp := ok200("Cache-Control", "public, max-age=3600, stale-while-revalidate=60", "Vary", "Accept-Encoding",
		"ETag", `"v1"`, "Content-Type", "text/html", "Content-Length", "5120", "Connection", "keep-alive",
		"Keep-Alive", "timeout=5", "Last-Modified", hd(at(-86400)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, ok := m.Next(resp).(StoreAndUse); !ok {
			b.Fatal("not stored")
		}
	}
}

// BenchmarkMerge304 handles a 304 to a validation request
// (NeedRevalidation.Next): selection (§4.3.4) and header update (§3.2).
func BenchmarkMerge304(b *testing.B) {
	stored := threeVariants(b)
	o := Options{Shared: true, Clock: fixed(at(7200))}
	req := get("Accept-Encoding", "gzip, deflate", "User-Agent", "bench")
	nr, ok := NewIdleClient(o).Next(req, stored).(NeedRevalidation)
	if !ok {
		b.Fatal("not a revalidation")
	}
	resp := rsp(http.StatusNotModified, at(7200), "Date", hd(at(7200)), "ETag", `"v2"`, "Cache-Control", "public, max-age=3600")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, ok := nr.Next(resp).(NeedToBeUpdated); !ok {
			b.Fatal("not updated")
		}
	}
}
