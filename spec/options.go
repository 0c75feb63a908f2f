package spec

import (
	"net/http"
	"time"
)

// Options configures what the RFCs leave to the cache (their MAYs and
// SHOULDs). The zero value is a private cache with the defaults documented on
// each field; [Options.Clock] should be set by any caller that wants
// deterministic behaviour.
type Options struct {
	// Shared selects a shared cache (a proxy or CDN) instead of a private one
	// (a browser-like client cache). RFC 9111 §1: shared caches must honour
	// s-maxage, proxy-revalidate and private, and must not store responses to
	// requests with Authorization unless allowed (§3.5).
	Shared bool

	// CacheableMethods lists the request methods whose responses may be
	// stored. RFC 9111 §3 requires that the cache understands the method; by
	// default GET and HEAD (RFC 9110 §9.2.3 defines them as cacheable).
	// Listing POST here opts in to caching POST responses under keys the
	// caller extends (for example with a hash of the body); such requests are
	// then looked up rather than treated as unsafe invalidations.
	CacheableMethods []string

	// HeuristicFraction is the fraction of (Date − Last-Modified) used as a
	// heuristic freshness lifetime (RFC 9111 §4.2.2, "a typical setting of
	// this fraction might be 10%"). Zero means 0.1; a negative value turns
	// heuristic freshness off.
	HeuristicFraction float64

	// HeuristicCap bounds a heuristic lifetime. Zero means 24h, the point past
	// which RFC 7234 required a Warning, and which common caches keep.
	HeuristicCap time.Duration

	// StaleBudget lets a stale response be served when the cache is
	// disconnected from the origin (the connection is refused, reset or
	// closed before a response arrives, or it times out), even without
	// stale-if-error, for at most this long past its freshness lifetime.
	// RFC 9111 §4.2.4 allows serving stale "if it is disconnected"; it is
	// never done where a directive forbids it (must-revalidate, no-cache,
	// and in a shared cache proxy-revalidate and s-maxage: §5.2.2.2,
	// §5.2.2.4, §5.2.2.8, §5.2.2.10), nor when the request's max-age or
	// min-fresh refuses stale responses (§5.2.1.1, §5.2.1.3) and its
	// max-stale does not accept this one. Zero means DefaultStaleBudget; a
	// negative value turns it off, so that only max-stale and
	// stale-if-error can serve stale.
	StaleBudget time.Duration

	// StoreSetCookie allows a shared cache to store responses carrying
	// Set-Cookie. RFC 9111 §7.3 warns that shared caches storing them can
	// leak one user's cookies to another, so the default is not to.
	StoreSetCookie bool

	// TargetedField is an extra RFC 9213 targeted cache-control field name
	// (such as "Cellar-Cache-Control") that a shared cache honours before
	// CDN-Cache-Control and Cache-Control. Empty means only CDN-Cache-Control.
	TargetedField string

	// IgnoreTargeted turns off RFC 9213 processing in a shared cache (private
	// caches always ignore targeted fields).
	IgnoreTargeted bool

	// IgnoreRequestDirectives makes the cache ignore the request's
	// Cache-Control and Pragma (no-cache, no-store, max-age, max-stale,
	// min-fresh, only-if-cached), as Varnish and nginx do by default. RFC
	// 9111 §5.2.1 lets a client force a refresh (no-cache, max-age=0); in a
	// shared cache that lets any client refetch and re-store a response at
	// will (re-poisoning it without waiting for expiry, or loading the
	// origin). The zero value honours them, as RFC 9111 describes; a shared
	// reverse proxy in front of its own origin may set it.
	IgnoreRequestDirectives bool

	// ValidatorRetention is how long a stale response with a validator
	// (ETag or Last-Modified) is kept past the time it could last be served,
	// because a conditional request can still refresh it cheaply (§4.3).
	// Zero means 24h; a negative value keeps none.
	ValidatorRetention time.Duration

	// Clock returns the current time. The core never reads the system clock
	// itself except through this function; nil means time.Now.
	Clock func() time.Time
}

// DefaultStaleBudget is the stale budget when Options.StaleBudget is zero:
// an hour covers the origin restarts, deploys and short outages operators
// expect a cache to ride out (Squid and Apache Traffic Server serve stale
// when the origin is down, for up to a week by default), while bounding
// both how stale an answer can be and how long the store keeps a response
// past its lifetime for this purpose.
const DefaultStaleBudget = time.Hour

var defaultMethods = []string{http.MethodGet, http.MethodHead}

// now returns the current time from the configured clock.
func (o *Options) now() time.Time {
	if o.Clock != nil {
		return o.Clock()
	}
	return time.Now()
}

// cacheableMethod reports whether responses to m may be stored (§3).
func (o *Options) cacheableMethod(m string) bool {
	ms := o.CacheableMethods
	if ms == nil {
		ms = defaultMethods
	}
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}

// cachesOtherMethods reports whether responses to a method other than GET
// and HEAD may be stored (an opt-in in CacheableMethods).
func (o *Options) cachesOtherMethods() bool {
	for _, m := range o.CacheableMethods {
		if m != http.MethodGet && m != http.MethodHead {
			return true
		}
	}
	return false
}

func (o *Options) heuristicFraction() float64 {
	if o.HeuristicFraction == 0 {
		return 0.1
	}
	return o.HeuristicFraction
}

func (o *Options) heuristicCap() time.Duration {
	if o.HeuristicCap == 0 {
		return 24 * time.Hour
	}
	return o.HeuristicCap
}

func (o *Options) validatorRetention() time.Duration {
	if o.ValidatorRetention == 0 {
		return 24 * time.Hour
	}
	return max(0, o.ValidatorRetention)
}

// staleBudget is the effective stale budget: zero when it is turned off.
func (o *Options) staleBudget() time.Duration {
	if o.StaleBudget == 0 {
		return DefaultStaleBudget
	}
	return max(0, o.StaleBudget)
}
