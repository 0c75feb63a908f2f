package spec

// ReasonCode is the stable, kebab-case code of a Reason: what machines and
// the core itself compare, never the text.
type ReasonCode string

// The reason codes the core gives, with the sections that decide them.
const (
	Reason304ClientTag           ReasonCode = "304-client-tag"           // RFC 9110 §15.4.5
	Reason304NoValidator         ReasonCode = "304-no-validator"         // RFC 9111 §4.3.4
	Reason304StrongETag          ReasonCode = "304-strong-etag"          // RFC 9111 §4.3.4
	Reason304StrongLastModified  ReasonCode = "304-strong-last-modified" // RFC 9110 §8.8.2.2
	Reason304Unmatched           ReasonCode = "304-unmatched"            // RFC 9111 §4.3.4
	Reason304WeakETag            ReasonCode = "304-weak-etag"            // RFC 9111 §4.3.4
	Reason304WeakLastModified    ReasonCode = "304-weak-last-modified"   // RFC 9110 §8.8.2.2
	ReasonAnswersRequestField    ReasonCode = "answers-request-field"    // RFC 9110 §15.5.13, §15.5.17, §15.5.18
	ReasonAuthorization          ReasonCode = "authorization"            // RFC 9111 §3.5
	ReasonCombinePartial         ReasonCode = "combine-partial"          // RFC 9111 §3.4
	ReasonCookieHeuristic        ReasonCode = "cookie-heuristic"         // RFC 9111 §4.2.2
	ReasonExpires                ReasonCode = "expires"                  // RFC 9111 §3, RFC 9111 §4.2.1
	ReasonFresh                  ReasonCode = "fresh"                    // RFC 9111 §4.2
	ReasonHeadCompares           ReasonCode = "head-compares"            // RFC 9111 §4.3.5
	ReasonHeadDisagrees          ReasonCode = "head-disagrees"           // RFC 9111 §4.3.5
	ReasonHeadFreshened          ReasonCode = "head-freshened"           // RFC 9111 §4.3.5
	ReasonHeadFreshensNothing    ReasonCode = "head-freshens-nothing"    // RFC 9111 §4.3.5
	ReasonHeadResponse           ReasonCode = "head-response"            // RFC 9111 §3
	ReasonHeuristic              ReasonCode = "heuristic"                // RFC 9111 §3, RFC 9111 §4.2.2
	ReasonIMSDate                ReasonCode = "ims-date"                 // RFC 9111 §4.3.2
	ReasonIMSLastModified        ReasonCode = "ims-last-modified"        // RFC 9111 §4.3.2
	ReasonIMSReceived            ReasonCode = "ims-received"             // RFC 9111 §4.3.2
	ReasonInvalidExpires         ReasonCode = "invalid-expires"          // RFC 9111 §5.3
	ReasonInvalidMaxAge          ReasonCode = "invalid-max-age"          // RFC 9111 §4.2.1
	ReasonInvalidSMaxage         ReasonCode = "invalid-s-maxage"         // RFC 9111 §4.2.1
	ReasonInvalidState           ReasonCode = "invalid-state"            // RFC 9110 §15.6.1
	ReasonInvalidates            ReasonCode = "invalidates"              // RFC 9111 §4.4
	ReasonLenientDate            ReasonCode = "lenient-date"             // RFC 9110 §5.6.7
	ReasonMaxAge                 ReasonCode = "max-age"                  // RFC 9111 §3, RFC 9111 §5.2.2.1
	ReasonMaxStale               ReasonCode = "max-stale"                // RFC 9111 §5.2.1.2
	ReasonMethodNotCacheable     ReasonCode = "method-not-cacheable"     // RFC 9111 §3
	ReasonMustRevalidate         ReasonCode = "must-revalidate"          // RFC 9111 §5.2.2.2
	ReasonMustUnderstand         ReasonCode = "must-understand"          // RFC 9111 §5.2.2.3
	ReasonNoCache                ReasonCode = "no-cache"                 // RFC 9111 §5.2.2.4
	ReasonNoExplicitFreshness    ReasonCode = "no-explicit-freshness"    // RFC 9111 §4.2.2
	ReasonNoInvalidation         ReasonCode = "no-invalidation"          // RFC 9111 §4.4
	ReasonNoStore                ReasonCode = "no-store"                 // RFC 9111 §5.2.2.5
	ReasonNotCacheable           ReasonCode = "not-cacheable"            // RFC 9111 §3
	ReasonNotModified            ReasonCode = "not-modified"             // RFC 9111 §3, RFC 9111 §4.3.4
	ReasonNotReusable            ReasonCode = "not-reusable"             // RFC 9111 §3, §4.2.4
	ReasonOnlyIfCached           ReasonCode = "only-if-cached"           // RFC 9111 §5.2.1.7
	ReasonPartial                ReasonCode = "partial"                  // RFC 9111 §3.3, RFC 9111 §3.4
	ReasonPartialCompletion      ReasonCode = "partial-completion"       // RFC 9111 §3.4
	ReasonPartialHit             ReasonCode = "partial-hit"              // RFC 9111 §3.3
	ReasonPartialLengthMismatch  ReasonCode = "partial-length-mismatch"  // RFC 9111 §3.3
	ReasonPartialNotModified     ReasonCode = "partial-not-modified"     // RFC 9111 §4.3.2
	ReasonPartialUnusable        ReasonCode = "partial-unusable"         // RFC 9111 §3.3
	ReasonPostContentLocation    ReasonCode = "post-content-location"    // RFC 9110 §9.3.3
	ReasonPrivate                ReasonCode = "private"                  // RFC 9111 §5.2.2.7
	ReasonPrivateCache           ReasonCode = "private-cache"            // RFC 9111 §3
	ReasonProxyRevalidate        ReasonCode = "proxy-revalidate"         // RFC 9111 §5.2.2.8
	ReasonPublic                 ReasonCode = "public"                   // RFC 9111 §3
	ReasonRanges                 ReasonCode = "ranges"                   // RFC 9110 §14.2
	ReasonRangesLengthUnknown    ReasonCode = "ranges-length-unknown"    // RFC 9110 §14.2
	ReasonRequestContent         ReasonCode = "request-content"          // RFC 9110 §9.3.1
	ReasonRequestMaxAge          ReasonCode = "request-max-age"          // RFC 9111 §5.2.1.1
	ReasonRequestMinFresh        ReasonCode = "request-min-fresh"        // RFC 9111 §5.2.1.3
	ReasonRequestNoCache         ReasonCode = "request-no-cache"         // RFC 9111 §5.2.1.4
	ReasonRequestNoStore         ReasonCode = "request-no-store"         // RFC 9111 §5.2.1.5
	ReasonSMaxage                ReasonCode = "s-maxage"                 // RFC 9111 §3, RFC 9111 §5.2.2.10
	ReasonSetCookie              ReasonCode = "set-cookie"               // RFC 9111 §7.3
	ReasonStale                  ReasonCode = "stale"                    // RFC 9111 §4.2.4
	ReasonStaleBudget            ReasonCode = "stale-budget"             // RFC 9111 §4.2.4
	ReasonStaleBudgetExceeded    ReasonCode = "stale-budget-exceeded"    // RFC 9111 §4.2.4
	ReasonStaleForbidden         ReasonCode = "stale-forbidden"          // see the Reason
	ReasonStaleIfError           ReasonCode = "stale-if-error"           // RFC 5861 §4
	ReasonStaleRefused           ReasonCode = "stale-refused"            // see the Reason
	ReasonStaleWhileRevalidate   ReasonCode = "stale-while-revalidate"   // RFC 5861 §3
	ReasonStatusNotFinal         ReasonCode = "status-not-final"         // RFC 9111 §3
	ReasonUnsafeMethod           ReasonCode = "unsafe-method"            // RFC 9111 §4.4
	ReasonUpstreamError          ReasonCode = "upstream-error"           // RFC 9110 §15.6.3
	ReasonUpstreamTimeout        ReasonCode = "upstream-timeout"         // RFC 9110 §15.6.5
	ReasonUpstreamUnreachable    ReasonCode = "upstream-unreachable"     // RFC 9110 §15.6.3
	ReasonURIMiss                ReasonCode = "uri-miss"                 // RFC 9111 §4
	ReasonValidationFullResponse ReasonCode = "validation-full-response" // RFC 9111 §4.3.3
	ReasonVaryInvalid            ReasonCode = "vary-invalid"             // RFC 9111 §4.1
	ReasonVaryMiss               ReasonCode = "vary-miss"                // RFC 9111 §4.1
	ReasonVaryNormalized         ReasonCode = "vary-normalized"          // RFC 9111 §4.1, RFC 9110 §12.4.2
	ReasonVaryStar               ReasonCode = "vary-star"                // RFC 9111 §4.1
)
