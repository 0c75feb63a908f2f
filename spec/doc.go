// Package spec is Cellar's sans-I/O core: a fully typed state machine for HTTP
// caching as RFC 9111 specifies it, with the extensions of RFC 5861
// (stale-while-revalidate, stale-if-error), RFC 8246 (immutable), RFC 9211
// (Cache-Status) and RFC 9213 (CDN-Cache-Control and targeted fields).
//
// The package owns no socket, file, goroutine or clock. It is given requests,
// stored request/response pairs and upstream responses, and it answers with the
// next state: what to send upstream, what to store, what to serve and why.
// The caller does all I/O. Bodies never pass through here; only their lengths
// and byte ranges do.
//
// A lookup starts at [NewIdleClient]. Each state's Next method returns a sealed
// interface of exactly the states that may follow it, so a type switch over the
// result is exhaustive (checked in CI by go-check-sumtype):
//
//	IdleClient       → CacheMiss | PartialUpdate | FromCache | NeedRevalidation | InvalidateEntries
//	PartialUpdate    → CacheMiss | FromCache | NeedRevalidation
//	CacheMiss        → StoreAndUse | CouldNotBeStored
//	NeedRevalidation → NeedToBeUpdated | CacheMiss
//
// Every state that ends a walk carries a [Reason] naming the RFC section that
// decided it.
package spec
