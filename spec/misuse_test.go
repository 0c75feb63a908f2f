package spec

import (
	"net/http"
	"testing"
	"time"
)

// wantInvalid asserts that s is the error state of a state not made by the
// machine: ReasonInvalidState, and when it serves, a generated 500 (or,
// for CacheMiss.Next, the upstream response passed on) that stores nothing.
func wantInvalid(t *testing.T, what string, s State) {
	t.Helper()
	r, sv, _, _ := parts(s)
	if r.Code != ReasonInvalidState {
		t.Fatalf("%s gave %s %q, want %s", what, s.StateName(), r.Code, ReasonInvalidState)
	}
	if sv == nil {
		return
	}
	if sv.CacheStatus.Detail != string(ReasonInvalidState) || sv.CacheStatus.Stored {
		t.Fatalf("%s: Cache-Status %+v, want detail %s and nothing stored", what, sv.CacheStatus, ReasonInvalidState)
	}
	switch s := s.(type) {
	case FromCache:
		if s.Pair != nil || s.Refresh != nil || s.Serve.Status != http.StatusInternalServerError || s.Serve.Body != BodyNone {
			t.Fatalf("%s: %+v, want a generated 500", what, s)
		}
	case NeedToBeUpdated:
		if s.Pair != nil || len(s.Updates) != 0 || s.Serve.Status != http.StatusInternalServerError || s.Stale() {
			t.Fatalf("%s: %+v, want a generated 500 and no update", what, s)
		}
	}
}

// The zero values of the states the machine makes cannot be followed: each
// method answers the error state, never a panic, and stores nothing
// (issue 11). The zero IdleClient is a private cache with the defaults.
func TestZeroStates_AnswerInvalidState(t *testing.T) {
	up := Response{Status: 200, Header: http.Header{"Cache-Control": {"max-age=60"}}}
	wantInvalid(t, "CacheMiss{}.Next", CacheMiss{}.Next(up))
	wantInvalid(t, "CacheMiss{}.WithoutCompletion().Next", CacheMiss{}.WithoutCompletion().Next(up))
	if _, ok := (CacheMiss{}).UpstreamFailed(); ok {
		t.Fatal("CacheMiss{}.UpstreamFailed served something")
	}
	if _, ok := (CacheMiss{}).StaleOnError(Response{Status: 503}); ok {
		t.Fatal("CacheMiss{}.StaleOnError served something")
	}
	if (CacheMiss{}).Completed(up) {
		t.Fatal("CacheMiss{}.Completed")
	}
	wantInvalid(t, "PartialUpdate{}.Next", (PartialUpdate{}).Next(Pair{Response: up}).(State))
	wantInvalid(t, "NeedRevalidation{}.Next", (NeedRevalidation{}).Next(Response{Status: 304}).(State))
	for _, f := range []Failure{FailureDisconnected, FailureTimeout, FailureOther} {
		if _, ok := (NeedRevalidation{}).UpstreamFailedWith(f); ok {
			t.Fatal("NeedRevalidation{}.UpstreamFailedWith served something")
		}
		wantInvalid(t, "NeedRevalidation{}.UpstreamError", NeedRevalidation{}.UpstreamError(f))
	}
	var inv InvalidateEntries
	if inv.Keys(up) != nil || inv.Prefixes(up) != nil {
		t.Fatal("InvalidateEntries{} names keys")
	}
	if _, ok := inv.Store(up); ok {
		t.Fatal("InvalidateEntries{}.Store stores")
	}
	if _, ok := (IdleClient{}).Next(get(), nil).(CacheMiss); !ok {
		t.Fatal("IdleClient{}.Next with nothing stored is not a miss")
	}
	if o := (IdleClient{}).Options(); o.Shared {
		t.Fatal("IdleClient{} is shared")
	}
	stored := []Pair{{Request: get(), Response: Response{Status: 200, Header: http.Header{"Cache-Control": {"max-age=60"}}, ResponseTime: time.Now()}}}
	if _, ok := (IdleClient{}).Collapsed(get(), stored).(FromCache); !ok {
		t.Fatal("IdleClient{}.Collapsed does not serve a fresh response")
	}
}

// A NeedRevalidation whose Selected or ValidatorsFrom were edited out of
// the range of Candidates, or whose Candidates were emptied, answers the
// error state instead of indexing past them (issue 11).
func TestEditedRevalidation_AnswersInvalidState(t *testing.T) {
	stored := []Pair{storedGET("a", ok200("Cache-Control", "max-age=60", "ETag", `"a"`))}
	nr := as[NeedRevalidation](t, NewIdleClient(private(at(120))).Next(get(), stored))
	for name, edit := range map[string]func(*NeedRevalidation){
		"Selected=-1":          func(s *NeedRevalidation) { s.Selected = -1 },
		"Selected=len":         func(s *NeedRevalidation) { s.Selected = len(s.Candidates) },
		"Candidates=nil":       func(s *NeedRevalidation) { s.Candidates = nil },
		"ValidatorsFrom=[7]":   func(s *NeedRevalidation) { s.ValidatorsFrom = []int{7} },
		"ValidatorsFrom=[-1]":  func(s *NeedRevalidation) { s.ValidatorsFrom = []int{-1} },
		"Candidates truncated": func(s *NeedRevalidation) { s.Candidates = s.Candidates[:0] },
	} {
		s := nr
		edit(&s)
		wantInvalid(t, name+": Next", s.Next(Response{Status: 304, Header: http.Header{"Etag": {`"a"`}}}).(State))
		wantInvalid(t, name+": UpstreamError", s.UpstreamError(FailureDisconnected))
		if _, ok := s.UpstreamFailed(); ok {
			t.Fatalf("%s: UpstreamFailed served a candidate", name)
		}
	}
}

// FuzzPublicAPI drives the exported API with what a caller may hand it
// (issue 11): zero values, states the machine made and the caller then
// edited (Selected, ValidatorsFrom, Candidates, Parts, Ranges, Refresh,
// Serve's plan), nil headers and URLs, any Options. Nothing may panic; a
// state not made by the machine answers ReasonInvalidState, and every other
// answer carries a Reason.
func FuzzPublicAPI(f *testing.F) {
	f.Add("GET", "", "Cache-Control: max-age=60\nETag: \"a\"", 304, "ETag: \"a\"", int64(120), 0, 0, 1, uint8(0))
	f.Add("GET", "Range: bytes=0-99", "206\nContent-Range: bytes 0-49/100\nETag: \"p\"\nCache-Control: max-age=99\n\n206\nContent-Range: bytes 50-99/100\nETag: \"p\"\nCache-Control: max-age=99", 206, "", int64(5), -1, 3, 0, uint8(2))
	f.Add("", "If-None-Match: \"a\"", "Cache-Control: max-age=1, stale-while-revalidate=99\nETag: \"a\"", 503, "", int64(30), 5, -2, 9, uint8(255))
	f.Add("DELETE", "Cookie: a", "", 200, "Location: /x", int64(0), 0, 0, 0, uint8(1))
	f.Fuzz(func(t *testing.T, method, reqHdr, storedHdr string, upStatus int, upHdr string, elapsed int64, selected, from, keep int, knobs uint8) {
		elapsed %= 1 << 33
		o := Options{Shared: knobs&1 != 0, IgnoreRequestDirectives: knobs&2 != 0, Clock: fixed(at(int(elapsed)))}
		if knobs&4 != 0 {
			o = Options{} // the zero Options, reading the system clock
		}
		req := Request{Method: method, URL: mustURL(testURL), Header: fuzzHeader(reqHdr)}
		if knobs&8 != 0 {
			req = Request{Method: method} // no URL, no header
		}
		up := Response{Status: upStatus, Header: fuzzHeader(upHdr), ResponseTime: at(int(elapsed))}
		if knobs&16 != 0 {
			up.Header = nil
		}
		stored := fuzzStored(storedHdr, 200, t0)

		// Functions of values.
		_ = Judge(req, up, o)
		_ = Explain(req, up, o)
		_ = ExplainNotes(req, up, o)
		_ = Key(req)
		OverrideFreshness(o, up.Header, time.Duration(elapsed)*time.Second)
		// The zero states and the zero IdleClient.
		wantInvalid(t, "CacheMiss{}.Next", CacheMiss{}.Next(up))
		wantInvalid(t, "PartialUpdate{}.Next", PartialUpdate{}.Next(Pair{Response: up}).(State))
		wantInvalid(t, "NeedRevalidation{}.Next", NeedRevalidation{}.Next(up).(State))
		(&fuzzWorld{t: t, req: req, elapsed: -1}).walkIdle(IdleClient{}.Next(req, stored), up)
		w := &fuzzWorld{t: t, o: o, req: req, elapsed: -1}
		fuzzPlan(t, Serve{Status: upStatus, Body: BodyPlan(knobs % 4), Ranges: []ByteRange{{Start: int64(selected), Length: int64(from)}}})

		// A state the machine made, then edited.
		switch s := NewIdleClient(o).Next(req, stored).(type) {
		case NeedRevalidation:
			fuzzEditedRevalidation(w, s, up, selected, from, keep)
		case FromCache:
			if s.Refresh != nil {
				fuzzEditedRevalidation(w, *s.Refresh, up, selected, from, keep)
			}
			s.Refresh = &NeedRevalidation{}
			wantInvalid(t, "Refresh: &NeedRevalidation{}", s.Refresh.Next(up).(State))
			s.Serve.Ranges = s.Serve.Ranges[:min(max(keep, 0), len(s.Serve.Ranges))]
			fuzzPlan(t, s.Serve)
		case PartialUpdate:
			s.Parts = s.Parts[:min(max(keep, 0), len(s.Parts))]
			s.Ranges = nil
			w.walkIdle(s.Next(Pair{Response: up}).(IdleNext), up)
		case CacheMiss:
			s.Completes = &ByteRange{Start: int64(selected), Length: int64(from)}
			_ = s.Completed(up)
			w.walkMiss(s.WithoutCompletion(), up)
			s.Forward = Request{}
			w.walkMiss(s, up)
		case InvalidateEntries:
			s.Forward = Request{}
			_, _ = s.Keys(up), s.Prefixes(up)
			_, _ = s.Store(up)
		}
	})
}

// fuzzEditedRevalidation edits a NeedRevalidation as a caller could and
// follows it: out of range, it answers the error state; else it walks on.
func fuzzEditedRevalidation(w *fuzzWorld, s NeedRevalidation, up Response, selected, from, keep int) {
	t := w.t
	t.Helper()
	s.Candidates = s.Candidates[:min(max(keep, 0), len(s.Candidates))]
	s.Selected = selected
	s.ValidatorsFrom = append(s.ValidatorsFrom, from)
	inRange := func(i int) bool { return i >= 0 && i < len(s.Candidates) }
	if !inRange(selected) || !inRange(from) {
		wantInvalid(t, "edited NeedRevalidation.Next", s.Next(up).(State))
		wantInvalid(t, "edited NeedRevalidation.UpstreamError", s.UpstreamError(FailureTimeout))
		if _, ok := s.UpstreamFailed(); ok {
			t.Fatal("edited NeedRevalidation.UpstreamFailed served a candidate")
		}
		return
	}
	w.walkRevalidation(s, up)
	fuzzCheck(t, s.UpstreamError(FailureTimeout))
}

// fuzzPlan reads a serve plan a caller may have edited.
func fuzzPlan(t *testing.T, sv Serve) {
	t.Helper()
	_ = sv.Header()
	_ = sv.ContentLength(int64(len(sv.Ranges)))
	_, _ = sv.Parts()
	_ = sv.CacheStatus.Value("")
}
