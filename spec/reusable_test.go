package spec

import (
	"testing"
	"time"
)

// RFC 9111 §3 and §4.2.4: a response the cache could never use again (no
// freshness, no validator, no stale window) is not stored, and
// Cache-Status says why (RFC 9211 §2.8 detail). Every case that is stored
// differs from a not-reusable one by the one thing that makes it usable.
func TestStore_RFC9111_3_4_2_4_NotReusable(t *testing.T) {
	p, s := private(t0), shared(t0)
	budget := Options{Clock: fixed(t0), Shared: true, StaleBudget: time.Hour}
	notReusable := want{state: "CouldNotBeStored", code: "not-reusable",
		cs: "cellar; fwd=uri-miss; fwd-status=200; detail=not-reusable"}
	runStores(t, []storeCase{
		{"200 without freshness or validator (a dynamic page)", s, get(), ok200(), notReusable},
		{"... private cache alike", p, get(), ok200(), notReusable},
		{"... with an ETag it can be validated (§4.3.1)", s, get(), ok200("ETag", `"a"`),
			want{state: "StoreAndUse", code: "heuristic"}},
		{"... with Last-Modified it can be validated and has a heuristic lifetime (§4.2.2)", s, get(), ok200("Last-Modified", hd(at(-1000))),
			want{state: "StoreAndUse", code: "heuristic"}},
		{"max-age=0 without validator", s, get(), ok200("Cache-Control", "max-age=0"), notReusable},
		{"max-age=0 with a stale budget: the budget alone keeps nothing never fresh (§4.2.4)", budget, get(), ok200("Cache-Control", "max-age=0"),
			want{state: "CouldNotBeStored", code: "not-reusable"}},
		{"max-age=0, stale-if-error (RFC 5861 §4)", s, get(), ok200("Cache-Control", "max-age=0, stale-if-error=60"),
			want{state: "StoreAndUse", code: "max-age"}},
		{"max-age=0, stale-while-revalidate (RFC 5861 §3)", s, get(), ok200("Cache-Control", "max-age=0, stale-while-revalidate=60"),
			want{state: "StoreAndUse", code: "max-age"}},
		{"must-revalidate forbids the stale budget (§5.2.2.2)", budget, get(), ok200("Cache-Control", "max-age=0, must-revalidate"), notReusable},
		{"stale on arrival: Age past max-age (§4.2.3)", s, get(), ok200("Cache-Control", "max-age=60", "Age", "120"), notReusable},
		{"fresh on arrival", s, get(), ok200("Cache-Control", "max-age=60", "Age", "30"),
			want{state: "StoreAndUse", code: "max-age"}},
		{"no-cache without validator: every use would refetch (§5.2.2.4)", s, get(), ok200("Cache-Control", "no-cache, max-age=60"), notReusable},
		{"no-cache with an ETag is validated (§5.2.2.4)", s, get(), ok200("Cache-Control", "no-cache, max-age=60", "ETag", `"a"`),
			want{state: "StoreAndUse", code: "max-age"}},
	})
}

// Judge and Explain make the same decision as CacheMiss.Next.
func TestStore_RFC9111_3_NotReusable_JudgeAndExplain(t *testing.T) {
	o := shared(t0)
	resp := ok200("Cache-Control", "max-age=0")
	if v := Judge(get(), resp, o); v.Storable || v.Reason.Code != "not-reusable" {
		t.Errorf("Judge: storable=%v %q, want not-reusable", v.Storable, v.Reason.Code)
	}
	if e := Explain(get(), resp, o); e.Storable || e.Store.Code != "not-reusable" {
		t.Errorf("Explain: storable=%v %q, want not-reusable", e.Storable, e.Store.Code)
	}
}
