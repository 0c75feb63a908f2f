package spec

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fuzzHeader reads "Name: value" lines into a header (names canonicalized,
// repeated names giving several field lines).
func fuzzHeader(s string) http.Header {
	h := http.Header{}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k == "" {
			continue
		}
		k = http.CanonicalHeaderKey(strings.TrimSpace(k))
		h[k] = append(h[k], strings.TrimSpace(v))
	}
	return h
}

// fuzzStored reads stored responses separated by blank lines; a block may
// start with a status line of its own.
func fuzzStored(s string, status int, recv time.Time) []Pair {
	var ps []Pair
	for i, block := range strings.Split(s, "\n\n") {
		st := status
		if first, rest, ok := strings.Cut(block, "\n"); ok {
			if n, err := strconv.Atoi(first); err == nil {
				st, block = n, rest
			}
		}
		h := fuzzHeader(block)
		req := get()
		// The stored request carries the fields Vary names, as stored.
		req.Header = h.Clone()
		ps = append(ps, Pair{ID: strconv.Itoa(i), Request: req,
			Response: Response{Status: st, Header: h, RequestTime: recv.Add(-time.Second), ResponseTime: recv}})
	}
	return ps
}

// FuzzStateMachine walks the state machine with requests and responses
// built from fuzzed header text: Idle → (Miss → Next) / (Revalidation →
// Next, UpstreamFailed) / (PartialUpdate → Next) and so on. Nothing may
// panic, every state must carry a Reason with a code, and the oracles of
// fuzzWorld hold (issue 11): no stored response served that its directives
// forbid, no Content-Length other than the bytes served, no stale answer
// without the rule that allows it.
func FuzzStateMachine(f *testing.F) {
	f.Add("GET", "Accept-Encoding: gzip", 200, "Cache-Control: max-age=60\nVary: Accept-Encoding\nAccept-Encoding: gzip", 200, "Cache-Control: max-age=60", false, int64(10))
	f.Add("GET", "Cache-Control: max-stale", 200, "Cache-Control: max-age=60, stale-if-error=600\nETag: \"a\"", 503, "", true, int64(300))
	f.Add("GET", "If-None-Match: \"a\"\nRange: bytes=0-9, 20-", 200, "Cache-Control: max-age=10\nETag: \"a\"\nContent-Length: 100", 304, "ETag: \"a\"\nCache-Control: private=\"X\"\nX: 1", true, int64(100))
	f.Add("GET", "Range: bytes=0-99", 206, "Content-Range: bytes 0-49/100\nETag: \"p\"\nCache-Control: max-age=99\n\n206\nContent-Range: bytes 50-99/100\nETag: \"p\"\nCache-Control: max-age=99", 206, "Content-Range: bytes 0-99/100", false, int64(5))
	f.Add("HEAD", "Pragma: no-cache", 200, "Last-Modified: Fri, 01 Mar 2024 11:00:00 GMT\nCDN-Cache-Control: max-age=5, s-maxage=9", 200, "Content-Length: 3", true, int64(-50))
	f.Add("POST", "", 200, "Cache-Control: max-age=60", 201, "Location: /x\nContent-Location: http://other/y", true, int64(0))
	f.Add("GET", "Cache-Control: only-if-cached, max-age=0", 200, "Cache-Control: immutable, max-age=60\nVary: *", 200, "Set-Cookie: a=1\nConnection: x, close\nX: 2", true, int64(1))
	// The oracles' own cases: a single range and several, a 416, stale
	// with and without the rule that allows it.
	f.Add("GET", "Range: bytes=10-19", 200, "Cache-Control: max-age=60\nContent-Length: 100", 200, "Content-Length: 100", false, int64(5))
	f.Add("GET", "Range: bytes=0-0, 50-59, 90-", 200, "Cache-Control: max-age=60\nContent-Length: 100\nContent-Type: text/plain", 200, "", true, int64(5))
	f.Add("GET", "Range: bytes=500-", 200, "Cache-Control: max-age=60\nContent-Length: 100", 200, "", false, int64(5))
	f.Add("GET", "Cache-Control: max-stale=100", 200, "Cache-Control: max-age=60, must-revalidate", 504, "", false, int64(90))
	f.Add("GET", "", 200, "Cache-Control: max-age=60, stale-while-revalidate=60\nETag: \"a\"", 200, "", true, int64(90))
	f.Add("GET", "", 200, "Cache-Control: max-age=60, s-maxage=60, stale-if-error=600", 500, "", true, int64(90))
	f.Add("GET", "", 200, "Cache-Control: no-cache, max-age=600", 304, "", false, int64(1))

	f.Fuzz(func(t *testing.T, method, reqHdr string, storedStatus int, storedHdr string, upStatus int, upHdr string, isShared bool, elapsed int64) {
		elapsed %= 1 << 33 // keep times representable
		o := Options{Shared: isShared, Clock: fixed(at(int(elapsed))), TargetedField: "Cellar-Cache-Control", StaleBudget: time.Minute}
		req := Request{Method: method, URL: mustURL(testURL), Header: fuzzHeader(reqHdr)}
		stored := fuzzStored(storedHdr, storedStatus, t0)
		up := Response{Status: upStatus, Header: fuzzHeader(upHdr), RequestTime: at(int(elapsed) - 1), ResponseTime: at(int(elapsed))}
		w := &fuzzWorld{t: t, o: o, req: req, elapsed: elapsed}
		w.walkIdle(NewIdleClient(o).Next(req, stored), up)
	})
}

// fuzzWorld is what the oracles know of one walk: the options, the
// client's request, and the seconds elapsed since the stored responses
// were received. The oracles read header fields with naive code of their
// own, not with the core's parsers, and say nothing where such code could
// misread (quoted strings, targeted fields, duplicated max-age).
type fuzzWorld struct {
	t       *testing.T
	o       Options
	req     Request
	elapsed int64
}

// walkIdle follows an IdleClient's next state to its end.
func walkIdle(t *testing.T, s IdleNext, up Response) {
	t.Helper()
	w := &fuzzWorld{t: t, req: Request{Method: http.MethodGet}, elapsed: -1}
	w.walkIdle(s, up)
}

func (w *fuzzWorld) walkIdle(s IdleNext, up Response) {
	t := w.t
	t.Helper()
	fuzzCheck(t, s)
	switch s := s.(type) {
	case CacheMiss:
		w.walkMiss(s, up)
	case FromCache:
		w.fromCache(s)
		if s.Refresh != nil {
			w.walkRevalidation(*s.Refresh, up)
		}
	case NeedRevalidation:
		w.walkRevalidation(s, up)
	case PartialUpdate:
		if len(s.Parts) < 2 || len(s.Parts) != len(s.Ranges) {
			t.Fatalf("PartialUpdate with %d parts, %d ranges", len(s.Parts), len(s.Ranges))
		}
		for _, r := range s.Ranges {
			if r.Start < 0 || r.Length <= 0 {
				t.Fatalf("PartialUpdate range %v", r)
			}
		}
		switch n := s.Next(Pair{ID: "combined", Request: s.Parts[0].Request, Response: s.Combined}).(type) {
		case CacheMiss:
			fuzzCheck(t, n)
			w.walkMiss(n, up)
		case FromCache:
			fuzzCheck(t, n)
			w.fromCache(n)
			if n.Refresh != nil {
				w.walkRevalidation(*n.Refresh, up)
			}
		case NeedRevalidation:
			fuzzCheck(t, n)
			w.walkRevalidation(n, up)
		}
	case InvalidateEntries:
		_ = s.Keys(up)
		sv := s.Serve(up)
		w.bytesServed("InvalidateEntries", &sv, up.Header)
	}
}

func (w *fuzzWorld) walkMiss(m CacheMiss, up Response) {
	t := w.t
	t.Helper()
	if n, ok := m.UpstreamFailed(); ok {
		fuzzCheck(t, n)
		w.staleOnFailure("CacheMiss.UpstreamFailed", n, true)
	}
	if n, ok := m.StaleOnError(up); ok {
		fuzzCheck(t, n)
		w.staleOnFailure("CacheMiss.StaleOnError", n, false)
	}
	switch r := m.Next(up).(type) {
	case StoreAndUse:
		fuzzCheck(t, r)
		w.bytesServed("StoreAndUse", &r.Serve, up.Header)
	case CouldNotBeStored:
		fuzzCheck(t, r)
		w.bytesServed("CouldNotBeStored", &r.Serve, up.Header)
	}
}

func (w *fuzzWorld) walkRevalidation(nr NeedRevalidation, up Response) {
	t := w.t
	t.Helper()
	fuzzCheck(t, nr)
	if n, ok := nr.UpstreamFailed(); ok {
		fuzzCheck(t, n)
		w.staleOnFailure("NeedRevalidation.UpstreamFailed", n, true)
	}
	switch n := nr.Next(up).(type) {
	case NeedToBeUpdated:
		fuzzCheck(t, n)
		if n.Stale() {
			w.staleOnFailure("NeedRevalidation.Next", n, false)
		} else if n.Pair != nil {
			w.bytesServed("NeedToBeUpdated", &n.Serve, n.Pair.Response.Header)
		}
	case CacheMiss:
		fuzzCheck(t, n)
		w.walkMiss(n, up)
	}
}

// fromCache checks a FromCache: a stored response served without
// contacting the origin.
func (w *fuzzWorld) fromCache(fc FromCache) {
	if fc.Pair == nil {
		w.bytesServed("FromCache (generated)", &fc.Serve, nil)
		return
	}
	w.bytesServed("FromCache", &fc.Serve, fc.Pair.Response.Header)
	w.unvalidated("FromCache "+string(fc.Reason.Code), fc.Pair, &fc.Serve, false)
	if !w.stale(fc.Pair, &fc.Serve) {
		return
	}
	rq, ok1 := w.requestDirectives()
	cc, ok2 := w.responseDirectives(fc.Pair.Response.Header)
	d, known := w.staleness(fc.Pair)
	switch {
	case !ok1 || !ok2:
	case fc.Reason.Code == "max-stale" && rq.has("max-stale") && within(d, known, rq["max-stale"], true):
	case fc.Reason.Code == "stale-while-revalidate" && fc.Refresh != nil && cc.has("stale-while-revalidate") &&
		within(d, known, cc["stale-while-revalidate"], false):
	default:
		w.t.Fatalf("FromCache serves a stale response (TTL %d, elapsed %ds) without a rule that allows it: %s (%v)",
			fc.Serve.CacheStatus.TTL, w.elapsed, fc.Reason, fc.Pair.Response.Header)
	}
}

// staleOnFailure checks a stale response served because the origin failed:
// stale-if-error (RFC 5861 §4) in the request or the response, or the stale
// budget when the origin could not be reached at all (RFC 9111 §4.2.4).
func (w *fuzzWorld) staleOnFailure(what string, n NeedToBeUpdated, disconnected bool) {
	t := w.t
	t.Helper()
	if !n.Stale() || n.Pair == nil || len(n.Updates) != 0 {
		t.Fatalf("%s: %s serves no stored response stale (Pair %v, %d updates)", what, n.Reason.Code, n.Pair != nil, len(n.Updates))
	}
	w.bytesServed(what, &n.Serve, n.Pair.Response.Header)
	w.unvalidated(what, n.Pair, &n.Serve, true)
	cc, ok1 := w.responseDirectives(n.Pair.Response.Header)
	rq, ok2 := w.requestDirectives()
	d, known := w.staleness(n.Pair)
	switch {
	case !ok1 || !ok2:
	case n.Reason.Code == "stale-if-error" && (cc.has("stale-if-error") && within(d, known, cc["stale-if-error"], false) ||
		rq.has("stale-if-error") && within(d, known, rq["stale-if-error"], false)):
	case n.Reason.Code == "stale-budget" && disconnected && w.o.StaleBudget >= 0 &&
		within(d, known, []string{strconv.FormatInt(int64(cmp.Or(w.o.StaleBudget, DefaultStaleBudget)/time.Second), 10)}, false):
	default:
		t.Fatalf("%s serves stale without the rule that allows it: %s (%v)", what, n.Reason, n.Pair.Response.Header)
	}
}

// unvalidated checks a stored response served without a validation the
// origin answered: its directives, and the request's, must allow it. The
// request's no-cache is a preference (§5.2.1.4, "prefers"), which a cache
// whose origin failed may pass over; the response's directives hold then
// too (§4.2.4).
func (w *fuzzWorld) unvalidated(what string, p *Pair, sv *Serve, failed bool) {
	t := w.t
	t.Helper()
	h := p.Response.Header
	if cc, ok := w.responseDirectives(h); ok {
		if cc.bare("no-cache") {
			t.Fatalf("%s: served a no-cache response without validation (RFC 9111 §5.2.2.4): %v", what, h)
		}
		if w.stale(p, sv) {
			switch {
			case cc.bare("must-revalidate"):
				t.Fatalf("%s: served a stale must-revalidate response (RFC 9111 §5.2.2.2): %v", what, h)
			case w.o.Shared && cc.bare("proxy-revalidate"):
				t.Fatalf("%s: a shared cache served a stale proxy-revalidate response (RFC 9111 §5.2.2.8): %v", what, h)
			case w.o.Shared && cc.has("s-maxage"):
				t.Fatalf("%s: a shared cache served a stale s-maxage response (RFC 9111 §5.2.2.10): %v", what, h)
			}
		}
	}
	if vary, ok := naiveList(h["Vary"]); ok && slices.Contains(vary, "*") {
		t.Fatalf("%s: served a response with Vary: * (RFC 9111 §4.1): %v", what, h)
	}
	if rq, ok := w.requestDirectives(); ok && rq.has("no-cache") && !failed {
		t.Fatalf("%s: served a stored response to a request with no-cache (RFC 9111 §5.2.1.4): %v", what, w.req.Header)
	}
}

// stale reports whether p, served as sv, is stale: by the oracle's own
// arithmetic when it can (staleness), else by the TTL the core reported.
func (w *fuzzWorld) stale(p *Pair, sv *Serve) bool {
	if d, ok := w.staleness(p); ok {
		return d >= 0
	}
	return sv.CacheStatus.HasTTL && sv.CacheStatus.TTL < 0
}

// staleness is how many seconds p is past its freshness lifetime (0 and
// more: stale, RFC 9111 §4.2), computed by the oracle for a response
// simple enough: one max-age, no Date, Age or Expires, so that its age is
// elapsed plus the one second between request_time and response_time
// (§4.2.3).
func (w *fuzzWorld) staleness(p *Pair) (int64, bool) {
	h := p.Response.Header
	cc, ok := w.responseDirectives(h)
	if !ok || w.elapsed < 0 || len(cc["max-age"]) != 1 || len(h["Date"]) > 0 || len(h["Age"]) > 0 || len(h["Expires"]) > 0 ||
		w.o.Shared && cc.has("s-maxage") || !p.Response.ResponseTime.Equal(t0) || !p.Response.RequestTime.Equal(t0.Add(-time.Second)) {
		return 0, false
	}
	n, ok := naiveSeconds(cc["max-age"][0])
	return w.elapsed + 1 - n, ok
}

// within reports whether staleness d is within the window of a directive
// whose values are vs (max-stale, stale-while-revalidate, stale-if-error);
// a bare max-stale accepts any. Without a staleness, or with the directive
// repeated, it cannot say, and agrees.
func within(d int64, known bool, vs []string, bareAny bool) bool {
	if len(vs) != 1 {
		return len(vs) > 1
	}
	v := vs[0]
	if v == "" {
		return bareAny
	}
	n, ok := naiveSeconds(v)
	return !known || !ok || d <= n
}

func naiveSeconds(v string) (int64, bool) {
	if v == "" || len(v) > 9 || strings.Trim(v, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// bytesServed checks that the Content-Length sent is the number of bytes
// the plan sends (RFC 9110 §8.6), given the header of the response whose
// body the caller holds (nil for a generated response), and that served
// ranges lie within that body.
func (w *fuzzWorld) bytesServed(what string, sv *Serve, held http.Header) {
	t := w.t
	t.Helper()
	h := sv.Header()
	_, hasCL := h["Content-Length"]
	cl, clOK := naiveLength(h)
	size, sized := naiveLength(held)
	switch sv.Body {
	case BodyNone:
		if hasCL && sv.Status != http.StatusNotModified && w.req.Method != http.MethodHead && (!clOK || cl != 0) {
			t.Fatalf("%s: %d without a body sends Content-Length %q", what, sv.Status, h["Content-Length"])
		}
	case BodyAll:
		if hasCL && sized && (!clOK || cl != size) && w.req.Method != http.MethodHead {
			t.Fatalf("%s: the whole body of %d bytes sent with Content-Length %q", what, size, h["Content-Length"])
		}
	case BodyRanges:
		if len(sv.Ranges) == 0 {
			t.Fatalf("%s: BodyRanges without ranges", what)
		}
		var want int64
		for _, r := range sv.Ranges {
			if r.Start < 0 || r.Length <= 0 || sized && r.Start+r.Length > size {
				t.Fatalf("%s: served range %v of a body of %d bytes (known %v)", what, r, size, sized)
			}
			want += r.Length
		}
		parts, closing := sv.Parts()
		if len(sv.Ranges) > 1 {
			if len(parts) != len(sv.Ranges) {
				t.Fatalf("%s: %d ranges framed as %d parts", what, len(sv.Ranges), len(parts))
			}
			want += int64(len(closing))
			for i, p := range parts {
				if p.Range != sv.Ranges[i] {
					t.Fatalf("%s: part %d frames %v, range %v", what, i, p.Range, sv.Ranges[i])
				}
				want += int64(len(p.Header))
			}
		}
		if !clOK || cl != want {
			t.Fatalf("%s: %d bytes served with Content-Length %q", what, want, h["Content-Length"])
		}
	}
}

// fuzzDirectives are the members of a directive list, by lower-case name,
// with their raw values ("" for a bare name).
type fuzzDirectives map[string][]string

func (d fuzzDirectives) has(name string) bool { return len(d[name]) > 0 }

// bare reports whether name appears without a value (a qualified no-cache
// or private names fields and means something else).
func (d fuzzDirectives) bare(name string) bool { return slices.Contains(d[name], "") }

// responseDirectives reads the Cache-Control of a stored response. ok is
// false where naive reading could be wrong: a quote anywhere, or a
// targeted field a shared cache would honour instead (RFC 9213).
func (w *fuzzWorld) responseDirectives(h http.Header) (fuzzDirectives, bool) {
	if w.o.Shared && (len(h["Cdn-Cache-Control"]) > 0 || len(h[http.CanonicalHeaderKey(w.o.TargetedField)]) > 0) {
		return nil, false
	}
	return naiveDirectives(h["Cache-Control"])
}

// requestDirectives reads the request's Cache-Control, or Pragma: no-cache
// without it (RFC 9111 §5.4).
func (w *fuzzWorld) requestDirectives() (fuzzDirectives, bool) {
	if cc := w.req.Header["Cache-Control"]; len(cc) > 0 {
		return naiveDirectives(cc)
	}
	pragma, ok := naiveList(w.req.Header["Pragma"])
	if !ok {
		return nil, false
	}
	d := fuzzDirectives{}
	for _, m := range pragma {
		if strings.EqualFold(m, "no-cache") {
			d["no-cache"] = []string{""}
		}
	}
	return d, true
}

func naiveDirectives(lines []string) (fuzzDirectives, bool) {
	members, ok := naiveList(lines)
	if !ok {
		return nil, false
	}
	d := fuzzDirectives{}
	for _, m := range members {
		k, v, _ := strings.Cut(m, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		d[k] = append(d[k], strings.TrimSpace(v))
	}
	return d, true
}

// naiveList splits field lines on commas. ok is false when a line holds a
// quote or a character no list member of these fields has.
func naiveList(lines []string) ([]string, bool) {
	var out []string
	for _, l := range lines {
		if strings.ContainsAny(l, "\"\\\x00\r") {
			return nil, false
		}
		for _, m := range strings.Split(l, ",") {
			if m = strings.TrimSpace(m); m != "" {
				out = append(out, m)
			}
		}
	}
	return out, true
}

// naiveLength reads a Content-Length of one line of digits.
func naiveLength(h http.Header) (int64, bool) {
	v := h["Content-Length"]
	if len(v) != 1 || v[0] == "" || len(v[0]) > 15 || strings.Trim(v[0], "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v[0], 10, 64)
	return n, err == nil
}

// fuzzCheck asserts what every state must satisfy.
func fuzzCheck(t *testing.T, s State) {
	t.Helper()
	r, _, _, _ := parts(s)
	if r.Code == "" {
		t.Fatalf("%s has no Reason.Code (%+v)", s.StateName(), r)
	}
}

// Bad input never panics (issue 3): a request without URL or header,
// responses without header or times still give decisions with reasons.
func TestStateMachine_BadInputNeverPanics(t *testing.T) {
	bare := Response{Status: 200}
	withCC := Response{Status: 200, Header: http.Header{"Cache-Control": {"max-age=60"}}}
	for _, req := range []Request{{Method: "GET"}, {}, {Method: "POST"}, {Method: "GET", URL: mustURL("/relative")}} {
		for _, stored := range [][]Pair{nil, {{}}, {{Request: req, Response: bare}}, {{Response: withCC}}} {
			for _, up := range []Response{{}, bare, withCC, {Status: 304}, {Status: 206, Header: http.Header{"Content-Range": {"bytes 0-0/1"}}}} {
				for _, o := range []Options{{}, {Shared: true, Clock: fixed(t0)}} {
					walkIdle(t, NewIdleClient(o).Next(req, stored), up)
				}
			}
		}
	}
}
