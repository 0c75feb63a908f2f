package bench

import (
	"fmt"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/pquerna/cachecontrol"
	"github.com/pquerna/cachecontrol/cacheobject"

	"github.com/cellar-http/cellar/spec"
)

// One op is one decision, on the corpus's responses in turn: may the response
// be stored by a shared cache, and for how long is it fresh.
//
//   - cellar-miss walks the state machine as the engine does:
//     IdleClient.Next(req, no stored pairs) → CacheMiss → Next(resp) →
//     StoreAndUse (with the header cleaned for storage, the key, the variant,
//     the TTL and the stale horizon) or CouldNotBeStored (with its Reason).
//   - cellar-explain is spec.Explain: storability, lifetime, age, validators,
//     stale windows and Vary, without building a stored pair.
//   - cellar-judge is spec.Judge: storability and lifetime, the same
//     question cachecontrol answers (like for like).
//   - cachecontrol is pquerna/cachecontrol.CachableResponse: the reasons not
//     to store and the expiration time.
func BenchmarkDecision(b *testing.B) {
	samples := corpus(time.Now())
	idle := spec.NewIdleClient(spec.Options{Shared: true})
	opts := spec.Options{Shared: true}
	ccOpts := cachecontrol.Options{PrivateCache: false}
	libs := []struct {
		name   string
		stores func(b *testing.B, s *sample) bool
	}{
		{"cellar-miss", func(b *testing.B, s *sample) bool {
			m, ok := idle.Next(s.sreq, nil).(spec.CacheMiss)
			if !ok {
				b.Fatalf("%s: lookup with nothing stored is not a CacheMiss", s.name)
			}
			_, stored := m.Next(s.sresp).(spec.StoreAndUse)
			return stored
		}},
		{"cellar-explain", func(b *testing.B, s *sample) bool {
			e := spec.Explain(s.sreq, s.sresp, opts)
			return e.Storable && e.TTL > 0
		}},
		{"cellar-judge", func(b *testing.B, s *sample) bool {
			v := spec.Judge(s.sreq, s.sresp, opts)
			return v.Storable && v.Lifetime > 0
		}},
		{"cachecontrol", func(b *testing.B, s *sample) bool {
			reasons, exp, err := cachecontrol.CachableResponse(s.hreq, s.hresp, ccOpts)
			return err == nil && len(reasons) == 0 && !exp.IsZero()
		}},
	}
	for _, lib := range libs {
		b.Run("lib="+lib.name, func(b *testing.B) {
			var stored int
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if lib.stores(b, &samples[i%len(samples)]) {
					stored++
				}
				i++
			}
			sinkInt = stored
		})
	}
}

var sinkInt int

// TestDecisionAgreement prints both libraries' verdicts on the corpus, so a
// reader of the benchmark can see they answer the same question (and where
// they disagree, which RFC rule Cellar applied).
func TestDecisionAgreement(t *testing.T) {
	now := time.Now()
	samples := corpus(now)
	var sb strings.Builder
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "response\tcellar\tcellar ttl\tcellar reason\tcachecontrol\tcc ttl")
	idle := spec.NewIdleClient(spec.Options{Shared: true})
	for _, s := range samples {
		var verdict, ttl, why string
		switch r := idle.Next(s.sreq, nil).(spec.CacheMiss).Next(s.sresp).(type) {
		case spec.StoreAndUse:
			verdict, ttl, why = "store", fmt.Sprintf("%ds", r.Serve.CacheStatus.TTL), r.Reason.String()
		case spec.CouldNotBeStored:
			verdict, ttl, why = "no-store", "-", r.Reason.String()
		}
		reasons, exp, err := cachecontrol.CachableResponse(s.hreq, s.hresp, cachecontrol.Options{})
		cc, ccTTL := "store", "-"
		if err != nil {
			cc = "error: " + err.Error()
		} else if len(reasons) > 0 {
			cc = "no-store " + reasonsString(reasons)
		}
		if !exp.IsZero() {
			ccTTL = fmt.Sprintf("%ds", int64(exp.Sub(now).Round(time.Second)/time.Second))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.name, verdict, ttl, why, cc, ccTTL)
	}
	tw.Flush()
	t.Log("\n" + sb.String())
}

func reasonsString(rs []cacheobject.Reason) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.String()
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
