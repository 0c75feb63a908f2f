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
// # The state machine
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
// Some edges leave a state by another method than Next, or carry a second
// walk inside a state. Each is documented at its type:
//
//	FromCache.Refresh (not nil)     → NeedRevalidation, walked in the background after serving (RFC 5861 §3)
//	NeedRevalidation.UpstreamFailedWith → NeedToBeUpdated, serving stale (§4.2.4, RFC 5861 §4)
//	NeedRevalidation.UpstreamError  → FromCache, a generated 502 or 504 (§4.2.4)
//	NeedRevalidation.Next           → CacheMiss, Received: the validation's response is the answer (§4.3.3)
//	NeedRevalidation.Next           → CacheMiss, not Received: send again without conditionals (§4.3.4)
//	CacheMiss.UpstreamFailedWith    → NeedToBeUpdated, serving stale, after that second request only
//	CacheMiss.StaleOnError          → NeedToBeUpdated, serving stale, after that second request only
//	CacheMiss.WithoutCompletion     → CacheMiss, when Completes was not Completed (§3.4)
//	InvalidateEntries.Store         → StoreAndUse, a POST response reused for GET (RFC 9110 §9.3.3)
//	UpstreamError                   → FromCache, a generated 502 or 504 for a miss without response
//
// Every state that ends a walk carries a [Reason] naming the RFC section that
// decided it. A state not made by the machine (a zero value, or exported
// fields edited out of range) answers [ReasonInvalidState] instead of
// panicking; the zero [IdleClient] is a private cache with default [Options].
//
// # RFC 9111, section by section
//
//   - §1.2.2 Delta Seconds: directive values and Age cap at 2^31 seconds
//     ([AgeTerms.AgeField]).
//   - §2 Overview of Cache Operation, the cache key: [Key], [TargetURI],
//     [OtherMethodsPrefix]; [Options.CacheableMethods] names the methods
//     whose responses are stored.
//   - §3 Storing Responses in Caches: [CacheMiss.Next] gives [StoreAndUse]
//     or [CouldNotBeStored]; [Judge] and [Verdict] answer the same question
//     without building what a store needs; [StoreAndUse.Expires] is how long
//     the stored response stays useful.
//   - §3.1 Storing Header and Trailer Fields: [StoreAndUse.Pair] is
//     cleaned for storage; [HopByHop] for what engines pass on themselves.
//   - §3.2 Updating Stored Header Fields: [NeedToBeUpdated.Updates].
//   - §3.3 Storing Incomplete Responses: [StoreAndUse.ExpectedLength];
//     stored 206 responses answer the ranges they hold ([FromCache]).
//   - §3.4 Combining Partial Content: [PartialUpdate], and
//     [CacheMiss.Completes] with [CacheMiss.Completed] and
//     [CacheMiss.WithoutCompletion] to ask only for the missing bytes.
//   - §3.5 Storing Responses to Authenticated Requests: [CacheMiss.Next]
//     ([CouldNotBeStored.ByRequest]).
//   - §4 Constructing Responses from Caches: [IdleClient.Next] and
//     [IdleClient.Collapsed] (§4's "satisfy multiple requests"), [FromCache],
//     [Serve].
//   - §4.1 Calculating Cache Keys with the Vary Header Field: the secondary
//     key [StoreAndUse.Variant], [PartialUpdate.Variant]; [Explanation.Vary].
//   - §4.2 Freshness; §4.2.1 Calculating Freshness Lifetime:
//     [Verdict.Lifetime], [Explanation.Lifetime].
//   - §4.2.2 Calculating Heuristic Freshness: [Options.HeuristicFraction],
//     [Options.HeuristicCap], [Verdict.Heuristic].
//   - §4.2.3 Calculating Age: [Response.RequestTime],
//     [Response.ResponseTime], [AgeTerms], [Explanation.Age].
//   - §4.2.4 Serving Stale Responses: [Options.StaleBudget],
//     [DefaultStaleBudget], [Failure], [NeedRevalidation.UpstreamFailedWith],
//     [NeedRevalidation.UpstreamError], [NeedToBeUpdated.Stale],
//     [Explanation.Disconnected].
//   - §4.3 Validation: [NeedRevalidation].
//   - §4.3.1 Sending a Validation Request: [NeedRevalidation.Forward],
//     [NeedRevalidation.ValidatorsFrom].
//   - §4.3.2 Handling a Received Validation Request: the client's own
//     conditionals answered from storage ([Serve] with status 304),
//     [NeedRevalidation.ClientMerged].
//   - §4.3.3 Handling a Validation Response: [NeedRevalidation.Next].
//   - §4.3.4 Freshening Stored Responses upon Validation:
//     [NeedRevalidation.Candidates], [NeedToBeUpdated].
//   - §4.3.5 Freshening Responses with HEAD: [NeedRevalidation.Next] for a
//     HEAD request.
//   - §4.4 Invalidating Stored Responses: [InvalidateEntries] and its
//     [InvalidateEntries.Keys], [InvalidateEntries.Prefixes];
//     [NormalizeURI].
//   - §5.1 Age: the Age field [Serve.Header] writes.
//   - §5.2 Cache-Control; §5.2.1 Request Directives: [IdleClient.Next],
//     [Options.IgnoreRequestDirectives]; §5.2.2 Response Directives:
//     [CacheMiss.Next], [Judge], [Explain]; §5.2.3 Extension Directives are
//     ignored unless understood (immutable, stale-*, below).
//   - §5.3 Expires, §5.4 Pragma: read with Cache-Control wherever it is.
//   - §7.1 Cache Poisoning: [TargetURI] keys what is forwarded.
//   - §7.3 Caching of Sensitive Information: [Options.Shared],
//     [Options.StoreSetCookie].
//
// # The other RFCs
//
//   - RFC 5861 §3 stale-while-revalidate: [FromCache.Refresh]; §4
//     stale-if-error: [NeedRevalidation.Next],
//     [NeedRevalidation.UpstreamFailedWith], [CacheMiss.StaleOnError].
//   - RFC 8246 §2 immutable: a fresh immutable response skips the
//     validation a reload's max-age=0 asks for ([IdleClient.Next]).
//   - RFC 9110 §12.5.3 Accept-Encoding: a stored response is selected only
//     for a request that accepts its content codings, whether or not its
//     Vary names Accept-Encoding ([IdleClient.Next]).
//   - RFC 9110 §15.5.13, §15.5.17, §15.5.18: a 412, 416 or 417 that answers
//     the request's own precondition, Range or Expect is not stored
//     ([CouldNotBeStored], ReasonAnswersRequestField).
//   - RFC 9110 §7.6.1 Connection: [HopByHop]; §9.3.3 POST:
//     [InvalidateEntries.Store]; §13 Conditional Requests and §14 Range
//     Requests answered from storage: [Serve], [BodyPlan], [ByteRange],
//     [Part], [Serve.Parts], [Serve.ContentLength]; §15.6 errors:
//     [UpstreamError].
//   - RFC 9211 Cache-Status: §2 [CacheStatus] and [CacheStatus.Value];
//     §2.2 fwd: [FwdURIMiss] and the other Fwd constants,
//     [CacheMiss.Fwd], [NeedRevalidation.Fwd].
//   - RFC 9213 Targeted Cache-Control: [Options.TargetedField],
//     [Options.IgnoreTargeted]; [OverrideFreshness] removes them with the
//     rest when an operator forces a lifetime.
//
// # Why
//
// [Explain] and [ExplainNotes] say, for one response, every decision above
// with its Reason; they run the code that decides.
package spec
