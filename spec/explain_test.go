package spec

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

// TestExplainDecidesAsTheLookup: Explain reports what the lookup decides,
// through the same functions: the validators are those of the request a
// revalidation sends (§4.3.1), the TTL the one Cache-Status reports
// (§4.2), with the targeted field named in any case (RFC 9213).
func TestExplainDecidesAsTheLookup(t *testing.T) {
	lm := hd(at(-3600))
	responses := map[string]Response{
		"ETag":                   ok200("Cache-Control", "max-age=100", "ETag", `"a"`),
		"weak ETag":              ok200("Cache-Control", "max-age=100", "ETag", `W/"a"`),
		"Last-Modified":          ok200("Cache-Control", "max-age=100", "Last-Modified", lm),
		"both":                   ok200("Cache-Control", "max-age=100", "ETag", `"a"`, "Last-Modified", lm),
		"two Last-Modified":      ok200("Cache-Control", "max-age=100", "Last-Modified", lm, "Last-Modified", hd(at(-60))),
		"none":                   ok200("Cache-Control", "max-age=100"),
		"heuristic":              ok200("Last-Modified", lm, "ETag", `"h"`),
		"targeted, in lowercase": ok200("Cache-Control", "max-age=100", "Cellar-Cache-Control", "max-age=300", "ETag", `"t"`),
		"aged":                   ok200("Cache-Control", "max-age=100", "Age", "30", "ETag", `"g"`),
	}
	for name, resp := range responses {
		for _, now := range []time.Time{at(10), at(500)} {
			o := Options{Shared: true, TargetedField: "cellar-cache-control", Clock: fixed(now)}
			e := Explain(get(), resp, o)
			st := storedGET("p", resp)
			// A no-cache request revalidates whatever the freshness: the
			// request it forwards carries the validators.
			rv := as[NeedRevalidation](t, NewIdleClient(o).Next(get("Cache-Control", "no-cache"), []Pair{st}))
			var lines []string
			for _, k := range []string{"If-None-Match", "If-Modified-Since"} {
				for _, v := range rv.Forward.Header[k] {
					lines = append(lines, k+": "+v)
				}
			}
			if !slices.Equal(e.Validators, lines) {
				t.Errorf("%s: Explain's validators %q, the revalidation sends %q", name, e.Validators, lines)
			}
			var ttl int64
			switch n := NewIdleClient(o).Next(get("Cache-Control", "max-stale"), []Pair{st}).(type) {
			case FromCache:
				ttl = n.Serve.CacheStatus.TTL
			default:
				t.Fatalf("%s: %s", name, n.StateName())
			}
			if got := int64(e.TTL / time.Second); got != ttl {
				t.Errorf("%s at %s: Explain's TTL %ds, the lookup's Cache-Status ttl=%d", name, now.Sub(t0), got, ttl)
			}
		}
	}
	lower := Explain(get(), responses["targeted, in lowercase"], Options{Shared: true, TargetedField: "cellar-cache-control", Clock: fixed(at(10))})
	if lower.Policy != "Cellar-Cache-Control" || lower.Lifetime != 300*time.Second {
		t.Errorf("targeted field in lower case: policy %q, lifetime %s", lower.Policy, lower.Lifetime)
	}
	h := http.Header{"Cellar-Cache-Control": {"max-age=5"}}
	OverrideFreshness(Options{TargetedField: "cellar-cache-control"}, h, time.Minute)
	if _, ok := h["Cellar-Cache-Control"]; ok {
		t.Error("OverrideFreshness kept the targeted field named in lower case")
	}
}
