package spec

import "net/http"

// The states are made by the machine: IdleClient.Next and the transitions
// that follow it fill their unexported fields. A state the caller made
// itself (a zero value such as CacheMiss{} or NeedRevalidation{}), or one
// whose exported fields it edited out of range (Candidates, Selected,
// ValidatorsFrom), cannot be followed. Its methods never panic: they answer
// the error state below, which stores and updates nothing and tells the
// caller why, so that a bug in a caller costs one response, not the
// process or the cache's content.
//
// The zero IdleClient is the exception: it is a usable machine, a private
// cache with the default Options, as NewIdleClient(Options{}) gives.

// reasonInvalid (ReasonInvalidState) is the Reason of the error state answered by a method
// whose receiver was not made by the machine (see CacheMiss,
// PartialUpdate, NeedRevalidation, InvalidateEntries): a generated 500
// (RFC 9110 §15.6.1) that stores nothing, or for CacheMiss.Next the
// upstream response passed on unstored.
var reasonInvalid = reason(ReasonInvalidState, "RFC 9110 §15.6.1",
	"the state was not made by the state machine (a zero value, or fields edited out of range), so the cache stores nothing and answers with an error")

// invalidState is the generated answer of an invalid state: a 500 without
// content, not stored (Cache-Control: no-store), fwd as given.
func invalidState(fwd Fwd) FromCache {
	return generated(http.StatusInternalServerError, fwd, reasonInvalid)
}

// valid reports whether s was made by the machine and its exported fields
// still index what they must: Selected a candidate, ValidatorsFrom
// candidates.
func (s *NeedRevalidation) valid() bool {
	if s.o == nil || s.Selected < 0 || s.Selected >= len(s.Candidates) {
		return false
	}
	for _, i := range s.ValidatorsFrom {
		if i < 0 || i >= len(s.Candidates) {
			return false
		}
	}
	return true
}

// invalidUpdate is NeedRevalidation's error state: no update, a generated
// 500 to serve (Pair is nil).
func (s *NeedRevalidation) invalidUpdate() NeedToBeUpdated {
	fc := invalidState(s.fwd)
	return NeedToBeUpdated{Serve: fc.Serve, Reason: fc.Reason}
}

// invalidMiss is CacheMiss.Next's error state: resp is passed on as it
// came, and nothing is stored.
func invalidMiss(resp *Response) CouldNotBeStored {
	sv := Serve{Status: resp.Status, base: resp.Header, conn: true}
	sv.CacheStatus = CacheStatus{Fwd: FwdMiss, FwdStatus: resp.Status, Detail: string(ReasonInvalidState)}
	return CouldNotBeStored{Serve: sv, Reason: reasonInvalid}
}

// defaultOptions are the options of the zero IdleClient. The core never
// writes through an *Options, so states may share it.
var defaultOptions Options
