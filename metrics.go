package cellar

// Outcome is how a response was produced, for Metrics.Served.
type Outcome string

// Outcomes.
const (
	OutcomeHit         Outcome = "hit"         // fresh from the store
	OutcomeStale       Outcome = "stale"       // stale from the store (max-stale, stale-while-revalidate, stale-if-error)
	OutcomeRevalidated Outcome = "revalidated" // from the store after the origin confirmed it
	OutcomeMiss        Outcome = "miss"        // from upstream, being stored
	OutcomePass        Outcome = "pass"        // from upstream, not stored
	OutcomeCollapsed   Outcome = "collapsed"   // from another request's upstream exchange
	OutcomeBypass      Outcome = "bypass"      // the cache was not used (Upgrade, CONNECT, override, store unavailable)
	OutcomeError       Outcome = "error"       // no response: the upstream failed and nothing could be served
)

// Source is where served body bytes came from, for Metrics.Bytes.
type Source string

// Sources.
const (
	SourceCache    Source = "cache"
	SourceUpstream Source = "upstream"
)

// Metrics receives the engine's counters. Implementations must be safe for
// concurrent use and fast: they are called on the request path. Embed
// NopMetrics to implement only some. Store-side counters (entries, bytes,
// evictions) come from store.Store.Stats; package prommetrics exports both.
type Metrics interface {
	// Served is called once per request, when its response is returned.
	Served(o Outcome)
	// Revalidated is called when a validation request got an answer:
	// notModified when the origin confirmed the stored response (304, or
	// a HEAD freshening it).
	Revalidated(notModified bool)
	// Coalesced is called for each request that waited for another's
	// upstream exchange instead of making its own.
	Coalesced()
	// Stored is called when an entry was committed, with its body size.
	Stored(size int64)
	// Aborted is called when a store write was abandoned: "truncated",
	// "upstream-error", "length-mismatch", "store-error", "cancelled".
	Aborted(reason string)
	// Bytes is called when a response body is closed, with the number of
	// body bytes the client read and where they came from.
	Bytes(from Source, n int64)
	// Refreshed is called when a background (stale-while-revalidate)
	// refresh ended; err is nil when it succeeded.
	Refreshed(err error)
}

// NopMetrics discards every counter.
type NopMetrics struct{}

var _ Metrics = NopMetrics{}

func (NopMetrics) Served(Outcome)      {}
func (NopMetrics) Revalidated(bool)    {}
func (NopMetrics) Coalesced()          {}
func (NopMetrics) Stored(int64)        {}
func (NopMetrics) Aborted(string)      {}
func (NopMetrics) Bytes(Source, int64) {}
func (NopMetrics) Refreshed(error)     {}
