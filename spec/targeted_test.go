package spec

import (
	"testing"
)

// RFC 9213 §2.2: a shared cache uses the first valid, non-empty field of its
// target list (Options.TargetedField, then CDN-Cache-Control) and then
// ignores Cache-Control and Expires; a private cache ignores targeted fields.
func TestTargeted_RFC9213_2_2_Freshness(t *testing.T) {
	s, p := shared(at(10)), private(at(10))
	own := func(o Options) Options { o.TargetedField = "cellar-cache-control"; return o }
	ignore := s
	ignore.IgnoreTargeted = true
	cdn600 := []string{"Cache-Control", "max-age=60", "CDN-Cache-Control", "max-age=600"}
	runFresh(t, []freshCase{
		{"CDN-Cache-Control overrides Cache-Control", s, ok200(cdn600...), 590, "max-age"},
		{"private cache uses Cache-Control", p, ok200(cdn600...), 50, "max-age"},
		{"IgnoreTargeted uses Cache-Control", ignore, ok200(cdn600...), 50, "max-age"},
		{"CDN-Cache-Control overrides s-maxage in Cache-Control", s,
			ok200("Cache-Control", "s-maxage=60", "CDN-Cache-Control", "max-age=600"), 590, "max-age"},
		{"s-maxage in CDN-Cache-Control", s, ok200("CDN-Cache-Control", "max-age=600, s-maxage=300"), 290, "s-maxage"},
		{"CDN-Cache-Control overrides Expires", s,
			ok200("CDN-Cache-Control", "public", "Expires", hd(at(600))), -10, "no-explicit-freshness"},
		{"private cache uses Expires", p, ok200("CDN-Cache-Control", "public", "Expires", hd(at(600))), 590, "expires"},
		{"invalid CDN-Cache-Control is ignored: upper-case key", s,
			ok200("Cache-Control", "max-age=60", "CDN-Cache-Control", "Max-Age=600"), 50, "max-age"},
		{"invalid CDN-Cache-Control is ignored: trailing comma", s,
			ok200("Cache-Control", "max-age=60", "CDN-Cache-Control", "max-age=600,"), 50, "max-age"},
		{"invalid CDN-Cache-Control is ignored: Expires counts again", s,
			ok200("Expires", hd(at(300)), "CDN-Cache-Control", "max-age=600;;"), 290, "expires"},
		{"empty CDN-Cache-Control is ignored", s, ok200("Cache-Control", "max-age=60", "CDN-Cache-Control", ""), 50, "max-age"},
		{"valid field, invalid max-age value: stale", s,
			ok200("Cache-Control", "max-age=60", "CDN-Cache-Control", "max-age=600.5"), -10, "invalid-max-age"},
		{"CDN-Cache-Control over several lines", s,
			ok200("Cache-Control", "max-age=60", "CDN-Cache-Control", "public", "CDN-Cache-Control", "max-age=600"), 590, "max-age"},
		{"Options.TargetedField first", own(s),
			ok200(append(cdn600, "Cellar-Cache-Control", "max-age=900")...), 890, "max-age"},
		{"Options.TargetedField overrides Expires", own(s),
			ok200("Cellar-Cache-Control", "public", "Expires", hd(at(600))), -10, "no-explicit-freshness"},
		{"invalid TargetedField falls back to CDN-Cache-Control", own(s),
			ok200(append(cdn600, "Cellar-Cache-Control", "max-age=900, ?")...), 590, "max-age"},
		{"invalid TargetedField and CDN-Cache-Control fall back to Cache-Control", own(s),
			ok200("Cache-Control", "max-age=60", "CDN-Cache-Control", "max-age=", "Cellar-Cache-Control", `max-age="9"x`), 50, "max-age"},
		{"private cache ignores the TargetedField", own(p),
			ok200(append(cdn600, "Cellar-Cache-Control", "max-age=900")...), 50, "max-age"},
	})
}

// RFC 9213 §2.2 and §3.1: the targeted field decides storing in a shared
// cache, Cache-Control and Expires then being ignored.
func TestTargeted_RFC9213_3_1_Storing(t *testing.T) {
	s, p := shared(t0), private(t0)
	runStores(t, []storeCase{
		{"Cache-Control: no-store, CDN-Cache-Control: none: a CDN stores", s, get(),
			ok200("Cache-Control", "no-store", "CDN-Cache-Control", "none", "ETag", `"v"`), want{state: "StoreAndUse", code: "heuristic"}},
		{"... and other caches do not", p, get(),
			ok200("Cache-Control", "no-store", "CDN-Cache-Control", "none"), want{state: "CouldNotBeStored", code: "no-store"}},
		{"CDN-Cache-Control: max-age=600, Cache-Control: no-store", s, get(),
			ok200("Cache-Control", "no-store", "CDN-Cache-Control", "max-age=600"),
			want{state: "StoreAndUse", code: "max-age", cs: "cellar; fwd=uri-miss; fwd-status=200; ttl=600; stored"}},
		{"CDN-Cache-Control: no-store", s, get(), ok200("Cache-Control", "max-age=600", "CDN-Cache-Control", "no-store"),
			want{state: "CouldNotBeStored", code: "no-store"}},
		{"CDN-Cache-Control: private", s, get(), ok200("Cache-Control", "max-age=600", "CDN-Cache-Control", "private"),
			want{state: "CouldNotBeStored", code: "private"}},
		{"Expires ignored for storing", s, get(), rsp(302, t0, "Expires", hd(at(600)), "CDN-Cache-Control", "must-revalidate"),
			want{state: "CouldNotBeStored", code: "not-cacheable"}},
		{"Expires counts for a private cache", p, get(), rsp(302, t0, "Expires", hd(at(600)), "CDN-Cache-Control", "must-revalidate"),
			want{state: "StoreAndUse", code: "expires"}},
		{"invalid CDN-Cache-Control ignored", s, get(), ok200("Cache-Control", "no-store", "CDN-Cache-Control", "max-age=600, "),
			want{state: "CouldNotBeStored", code: "no-store"}},
	})
}

// RFC 9213 §2.2: the targeted field's directives have Cache-Control's
// semantics for reuse too.
func TestTargeted_RFC9213_2_2_Reuse(t *testing.T) {
	stored := func(cdn string) []Pair {
		return []Pair{storedGET("p", ok200("Cache-Control", "max-age=600", "CDN-Cache-Control", cdn, "ETag", `"a"`))}
	}
	runLookups(t, []lookupCase{
		{"no-cache in CDN-Cache-Control", shared(at(10)), stored("max-age=600, no-cache"), get(),
			want{state: "NeedRevalidation", code: "no-cache"}},
		{"... not for a private cache", private(at(10)), stored("max-age=600, no-cache"), get(),
			want{state: "FromCache", code: "fresh"}},
		{"must-revalidate in CDN-Cache-Control forbids stale", shared(at(200)), stored("max-age=100, must-revalidate"),
			get("Cache-Control", "max-stale"), want{state: "NeedRevalidation", code: "stale"}},
		{"stale-while-revalidate in CDN-Cache-Control", shared(at(150)), stored("max-age=100, stale-while-revalidate=60"), get(),
			want{state: "FromCache", code: "stale-while-revalidate"}},
	})
}
