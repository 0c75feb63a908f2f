package spec

import (
	"net/http"
	"slices"
	"strconv"
	"time"
)

// PartialUpdate means stored 206 responses can be combined into one
// (RFC 9111 §3.4): write a new stored response with header Combined whose
// body is the union of the parts' bodies (Ranges say which representation
// bytes each part holds), drop the parts, and call Next with the combined
// pair to go on answering the request.
type PartialUpdate struct {
	o     *Options
	req   Request
	rq    directives
	rest  []Pair // stored pairs other than the parts
	Parts []Pair
	// Ranges[i] is the range of the representation Parts[i] holds.
	Ranges []ByteRange
	// Combined is the response to store: a 200 when the parts cover the
	// whole representation, else a 206 with the union's Content-Range. Its
	// header is the parts' merged from the oldest to the newest, as §3.4
	// and §3.2 update stored fields; its times are the newest part's.
	Combined Response
	// Key and Variant are where to store the combined response.
	Key, Variant string
	Reason       Reason
}

// partRange reads the range a stored 206 holds: a range-resp with a
// complete length (RFC 9110 §14.4). The unsatisfied-range form
// "bytes */complete", which parseContentRange reports as first = last = -1,
// belongs to a 416 and holds no byte: a 206 carrying it is unusable (§3.3).
func partRange(h http.Header) (ByteRange, int64, bool) {
	a, b, complete, ok := parseContentRange(first(h["Content-Range"]))
	if !ok || complete < 0 || a < 0 || b < a {
		return ByteRange{}, 0, false
	}
	return ByteRange{Start: a, Length: b - a + 1}, complete, true
}

// fromPartial answers from stored 206 responses when it can (§3.3, §3.4):
// by combining them, or by serving a requested range one of them holds.
func fromPartial(o *Options, req Request, rq *directives, stored []Pair, sel selection, now time.Time, combine bool) (IdleNext, bool) {
	if len(sel.partial) == 0 {
		return nil, false
	}
	if combine {
		if pu, ok := combinable(o, req, rq, stored, sel.partial); ok {
			return pu, true
		}
	}
	if req.Method != http.MethodGet || rq.noCache {
		return nil, false
	}
	for _, i := range sel.partial {
		if fc, ok := servePartial(o, req, rq, &stored[i], now); ok {
			return fc, true
		}
	}
	if m, ok := completion(o, &req, rq, stored, &sel, now); ok {
		return m, true
	}
	return nil, false
}

// servePartial serves a single requested range lying wholly within the
// range a fresh stored 206 holds (§3.3), or a 304 when the client's
// conditional matches it (§4.3.2: If-None-Match is evaluated before Range,
// RFC 9110 §13.2.2, so a stored part answers it as a stored 200 would).
func servePartial(o *Options, req Request, rq *directives, p *Pair, now time.Time) (FromCache, bool) {
	have, size, ok := partRange(p.Response.Header)
	if !ok {
		return FromCache{}, false
	}
	pol := responsePolicy(o, p.Response.Header)
	f := computeFreshness(o, &p.Response, &pol, now)
	if _, must := mustValidate(rq, &pol.cc, &f); must || !f.fresh() {
		return FromCache{}, false
	}
	s := Serve{Status: http.StatusPartialContent, base: p.Response.Header, age: ageSeconds(f.age), hasAge: true, noCache: pol.cc.noCacheFields}
	s.CacheStatus = CacheStatus{Hit: true, TTL: f.ttlSeconds(), HasTTL: true, Detail: "partial"}
	if notModified(req.Header, p.Response.Header, f.date) {
		notModifiedServe(&s)
		return FromCache{Pair: p, Serve: s, Reason: reason(ReasonPartialNotModified, "RFC 9111 §4.3.2",
			"the client's conditional matches a fresh stored partial response, which answers it with 304")}, true
	}
	rv := req.Header["Range"]
	if len(rv) != 1 || !ifRangeHolds(req.Header, p.Response.Header, f.date) {
		return FromCache{}, false
	}
	want, outcome := parseRange(rv[0], size)
	want = coalesceRanges(want)
	if outcome != rangeSatisfiable || len(want) != 1 ||
		want[0].Start < have.Start || want[0].Start+want[0].Length > have.Start+have.Length {
		return FromCache{}, false
	}
	w := want[0]
	s.Body, s.Ranges = BodyRanges, []ByteRange{{Start: w.Start - have.Start, Length: w.Length}}
	s.setField("Content-Range", contentRange(w, size))
	s.setField("Content-Length", strconv.FormatInt(w.Length, 10))
	return FromCache{Pair: p, Serve: s, Reason: reason(ReasonPartialHit, "RFC 9111 §3.3",
		"the requested range lies wholly within a stored partial response")}, true
}

// combinable finds stored 206 responses sharing a strong validator and
// their content codings (partcoding.go) whose ranges touch or overlap, so
// that they combine into one (§3.4).
func combinable(o *Options, req Request, rq *directives, stored []Pair, partial []int) (PartialUpdate, bool) {
	type part struct {
		i    int
		r    ByteRange
		size int64
		tag  entityTag
	}
	var ps []part
	for _, i := range partial {
		h := stored[i].Response.Header
		r, size, ok := partRange(h)
		t, tok := parseETag(first(h["Etag"]))
		if ok && tok && !t.weak {
			ps = append(ps, part{i, r, size, t})
		}
	}
	slices.SortFunc(ps, func(a, b part) int { return int(a.r.Start - b.r.Start) })
	for a := 0; a < len(ps); a++ {
		group := []part{ps[a]}
		end := ps[a].r.Start + ps[a].r.Length
		for b := a + 1; b < len(ps); b++ {
			if ps[b].r.Start > end || !strongMatch(ps[b].tag, ps[a].tag) || ps[b].size != ps[a].size ||
				!sameCodings(stored[ps[b].i].Response.Header, stored[ps[a].i].Response.Header) {
				continue
			}
			group = append(group, ps[b])
			end = max(end, ps[b].r.Start+ps[b].r.Length)
		}
		if len(group) < 2 {
			continue
		}
		pu := PartialUpdate{o: o, req: req, rq: *rq, Key: Key(req), Reason: reason(ReasonCombinePartial, "RFC 9111 §3.4",
			"stored partial responses share a strong validator and adjacent ranges, so they combine into one")}
		in := map[int]bool{}
		for _, g := range group {
			in[g.i] = true
			pu.Parts = append(pu.Parts, stored[g.i])
			pu.Ranges = append(pu.Ranges, g.r)
		}
		for i := range stored {
			if !in[i] {
				pu.rest = append(pu.rest, stored[i])
			}
		}
		union := ByteRange{Start: group[0].r.Start, Length: end - group[0].r.Start}
		pu.Combined, pu.Variant = combinedResponse(o, pu.Parts, union, ps[a].size)
		return pu, true
	}
	return PartialUpdate{}, false
}

// combinedResponse is the response to store for the union of parts, as a
// 200 when the union is the whole representation. §3.4 requires updating
// the stored header with the newer response's fields as §3.2 says, so the
// parts' headers are merged from the oldest to the newest (by Date): a
// field only an older part has is kept, one the newer part has replaces it.
func combinedResponse(o *Options, parts []Pair, union ByteRange, size int64) (Response, string) {
	byDate := slices.Clone(parts)
	slices.SortStableFunc(byDate, func(a, b Pair) int {
		return dateOf(&a.Response).Compare(dateOf(&b.Response))
	})
	merged := byDate[0]
	merged.Response = merged.Response.clone()
	for _, p := range byDate[1:] {
		merged, _ = mergeHeader(o, merged, p.Response)
		merged.Request = p.Request
	}
	r := merged.Response
	variant := variantKey(&merged.Request, r.Header)
	if union.Start == 0 && union.Length == size {
		r.Status = http.StatusOK
		delete(r.Header, "Content-Range")
	} else {
		r.Header["Content-Range"] = []string{contentRange(union, size)}
		variant += "\x00" + r.Header["Content-Range"][0]
	}
	r.Header["Content-Length"] = []string{strconv.FormatInt(union.Length, 10)}
	return r, variant
}

// Next goes on answering the request once the combined pair is stored.
func (s PartialUpdate) Next(combined Pair) PartialNext {
	if s.o == nil {
		return invalidState(FwdPartial)
	}
	stored := append(append([]Pair(nil), s.rest...), combined)
	switch n := lookupWith(s.o, &s.req, &s.rq, stored, false).(type) {
	case CacheMiss:
		return n
	case FromCache:
		return n
	case NeedRevalidation:
		return n
	case PartialUpdate, InvalidateEntries:
		// Unreachable: combining is off and the method was cacheable.
	}
	return newMiss(s.o, s.req, &s.rq, FwdPartial, reason(ReasonPartial, "RFC 9111 §3.4", "the combined response does not answer the request"))
}
