package spec

// The header work of a miss is done in one pass, without canonicalising
// field names (see fieldname.go). These tests hold the fast code to the
// straightforward code it replaced, kept here as the oracle: Header.Clone
// then Del, http.CanonicalHeaderKey for every name.

import (
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// oracleCleanForStorage is cleanForStorage as first written.
func oracleCleanForStorage(o *Options, req Request, resp Response, pol *policy) Pair {
	r := resp
	r.Header = r.Header.Clone()
	if r.Header == nil {
		r.Header = http.Header{}
	}
	forEachListMember(r.Header["Connection"], func(m string) bool {
		r.Header.Del(m)
		return true
	})
	for k := range r.Header {
		if hopByHop(k) {
			delete(r.Header, k)
		}
	}
	if o.Shared && pol.cc.privateFields != "" {
		forEachFieldName(pol.cc.privateFields, func(n string) { r.Header.Del(n) })
	}
	if len(r.Header["Date"]) == 0 && !r.ResponseTime.IsZero() {
		r.Header["Date"] = []string{formatHTTPDate(r.ResponseTime)}
	}
	stored := Request{Method: req.Method, Header: oracleVaryRequestHeader(req.Header, resp.Header)}
	if req.URL != nil {
		u := *req.URL
		stored.URL = &u
	}
	return Pair{Request: stored, Response: r}
}

func oracleVaryRequestHeader(req http.Header, resp http.Header) http.Header {
	vary := resp["Vary"]
	if len(vary) == 0 {
		return http.Header{}
	}
	h := make(http.Header, 2)
	forEachListMember(vary, func(name string) bool {
		k := http.CanonicalHeaderKey(name)
		if v, ok := req[k]; ok {
			h[k] = append([]string(nil), v...)
		}
		return true
	})
	return h
}

func oracleVariantKey(req *Request, resp http.Header) string {
	vary := resp["Vary"]
	if len(vary) == 0 {
		return ""
	}
	b := make([]byte, 0, 64)
	forEachListMember(vary, func(name string) bool {
		k := http.CanonicalHeaderKey(name)
		b = append(b, strings.ToLower(k)...)
		b = appendVaryCanonical(append(b, '='), k, req.Header[k])
		b = append(b, '\n')
		return true
	})
	return string(b)
}

// oracleDropped is Serve.dropped when the names to leave out were
// canonicalised up front: the Connection members of an upstream response
// and the qualified no-cache names.
func oracleDropped(k string, conn []string, noCache string) bool {
	if hopByHop(k) {
		return true
	}
	var drop []string
	forEachListMember(conn, func(m string) bool {
		drop = append(drop, http.CanonicalHeaderKey(m))
		return true
	})
	forEachFieldName(noCache, func(n string) { drop = append(drop, http.CanonicalHeaderKey(n)) })
	for _, d := range drop {
		if d == k {
			return true
		}
	}
	return false
}

// rawHeader reads "Name: value" lines into a header without canonicalising
// the names, so that the oracle sees keys no net/http header would hold. A
// value "<nil>" makes the field's slice nil, "<empty>" an empty one.
func rawHeader(s string) http.Header {
	h := http.Header{}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch v {
		case "<nil>":
			h[k] = nil
		case "<empty>":
			if h[k] == nil {
				h[k] = []string{}
			}
		default:
			h[k] = append(h[k], v)
		}
	}
	return h
}

func checkStorageOracle(t *testing.T, respHdr, reqHdr string, isShared, noTime bool) {
	t.Helper()
	o := &Options{Shared: isShared, Clock: fixed(t0)}
	resp := Response{Status: http.StatusOK, Header: rawHeader(respHdr), RequestTime: t0, ResponseTime: t0}
	if noTime {
		resp.ResponseTime = time.Time{}
	}
	req := Request{Method: http.MethodGet, URL: mustURL(testURL), Header: rawHeader(reqHdr)}
	pol := responsePolicy(o, resp.Header)

	got := cleanForStorage(o, &req, &resp, &pol)
	want := oracleCleanForStorage(o, req, resp, &pol)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("cleanForStorage:\n got %#v\nwant %#v", got, want)
	}
	if got.Request.URL == req.URL {
		t.Fatal("the stored URL is the request's")
	}
	if g, w := variantKey(&req, resp.Header), oracleVariantKey(&req, resp.Header); g != w {
		t.Fatalf("variantKey: got %q, want %q", g, w)
	}
	conn := resp.Header["Connection"]
	s := Serve{base: resp.Header, conn: true, noCache: pol.cc.noCacheFields}
	for k := range resp.Header {
		if g, w := s.dropped(k, s.connection()), oracleDropped(k, conn, pol.cc.noCacheFields); g != w {
			t.Fatalf("dropped(%q): got %v, want %v", k, g, w)
		}
		if g, w := canonicalIs(k, http.CanonicalHeaderKey(k)), true; g != w {
			t.Fatalf("canonicalIs(%q, CanonicalHeaderKey): false", k)
		}
	}
}

func TestStorageOracle(t *testing.T) {
	for _, c := range []struct {
		resp, req    string
		shared, zero bool
	}{
		{"Connection: keep-alive, x-a\nKeep-Alive: timeout=5\nX-A: 1\nx-a: 2\nDate: <empty>\nVary: accept-encoding, ACCEPT, User-Agent", "Accept-Encoding: gzip\nAccept: <nil>\nuser-agent: ua", true, false},
		{"Cache-Control: private=\"set-cookie, x-b\", max-age=9\nSet-Cookie: a\nX-B: 1\nX-C: <nil>\nConnection: date\nDate: Fri, 01 Mar 2024 11:00:00 GMT", "", true, false},
		{"Cache-Control: private=\"set-cookie\"\nSet-Cookie: a\nConnection: <empty>\nTransfer-Encoding: chunked", "", false, true},
		{"Vary: Accept-Encoding, accept-encoding\nConnection: \"a,b\", foo bar\nfoo bar: 1\nFoo Bar: 2", "Accept-Encoding: br\nAccept-Encoding: gzip", true, false},
		{"Cache-Control: no-cache=\"X-Tok, ,x-é\"\nx-é: 1\nX-Tok: 2\nVary: x-é, É", "x-é: 1", false, false},
		{"Connection: a, b, c, d, e, f, g, h, i, j, x-k\nX-K: 1\nJ: 2\nH: 3\nCache-Control: private=\"x-z, x-y\"\nX-Z: 3\nX-Y: 4\nX-X: 5", "", true, false},
		{"Connection: a, b, c, d, e, f, g\nG: 1\nCache-Control: private=\"x-z, x-y\"\nX-Z: 3\nX-Y: 4\nX-X: 5", "", true, false},
		{"", "", false, false},
		{"", "", true, true},
	} {
		checkStorageOracle(t, c.resp, c.req, c.shared, c.zero)
	}
}

// FuzzStorageOracle holds cleanForStorage, variantKey and Serve.dropped to
// the oracle on fuzzed headers.
func FuzzStorageOracle(f *testing.F) {
	f.Add("Connection: keep-alive, X-Foo\nX-Foo: 1\nKeep-Alive: 5\nVary: accept-encoding", "Accept-Encoding: gzip", true, false)
	f.Add("Cache-Control: private=\"x-a\", no-cache=\"x-b\"\nx-a: 1\nX-B: 2\nDate: <nil>", "", true, false)
	f.Add("Connection: Date\nDate: x\nVary: \"a,b\", Cookie", "cookie: a=1; b=2\nCookie: c", false, true)
	f.Fuzz(func(t *testing.T, respHdr, reqHdr string, isShared, noTime bool) {
		checkStorageOracle(t, respHdr, reqHdr, isShared, noTime)
	})
}

func TestHeuristicText(t *testing.T) {
	for status := 100; status < 600; status++ {
		if !heuristicallyCacheable(status) {
			continue
		}
		if got, want := heuristicText(status), "status "+strconv.Itoa(status)+" is heuristically cacheable (RFC 9110 §15.1)"; got != want {
			t.Errorf("heuristicText(%d) = %q, want %q", status, got, want)
		}
	}
}

// oracleExplain is Explain as first written: NewIdleClient's options, and
// the validators read from a conditional request built for the response.
func oracleExplain(req Request, resp Response, opts Options) Explanation {
	o := NewIdleClient(opts).o
	now := o.now()
	if req.Method == "" {
		req.Method = http.MethodGet
	}
	if req.Header == nil {
		req.Header = http.Header{}
	}
	pol := responsePolicy(o, resp.Header)
	f := computeFreshness(o, &resp, &pol, now)
	e := Explanation{
		Shared: o.Shared, Policy: pol.source,
		Lifetime: f.lifetime, LifetimeReason: f.why, Heuristic: f.heuristic,
		Age: f.age, AgeTerms: ageTermsAt(&resp, dateOf(&resp), now), TTL: f.ttl(),
		VariantKey: oracleVariantKey(&req, resp.Header),
	}
	e.Store, e.Storable = storable(o, req, &resp, &pol)
	if why, must := mustValidate(&directives{}, &pol.cc, &f); must {
		e.MustValidate = &why
	}
	if why, prohibited := staleProhibited(o, &pol.cc); prohibited {
		e.StaleProhibited = &why
	} else {
		if d := pol.cc.staleWhileRevalidate; d.set && !d.invalid {
			e.StaleWhileRevalidate = secs(d.secs)
		}
		if d := pol.cc.staleIfError; d.set && !d.invalid {
			e.StaleIfError = secs(d.secs)
		}
	}
	cond := conditionalRequest(Request{Header: http.Header{}}, []Pair{{Response: resp}}, 0)
	for _, k := range []string{"If-None-Match", "If-Modified-Since"} {
		if v := cond.Header.Get(k); v != "" {
			e.Validators = append(e.Validators, k+": "+v)
		}
	}
	forEachListMember(resp.Header["Vary"], func(m string) bool {
		e.Vary = append(e.Vary, m)
		return true
	})
	if e.Storable {
		f := f
		e.Expires = horizon(o, &resp, &pol, &f, now)
	}
	return e
}

func checkExplainOracle(t *testing.T, respHdr, reqHdr string, status int, isShared bool, targeted string) {
	t.Helper()
	opts := Options{Shared: isShared, Clock: fixed(at(30)), TargetedField: targeted}
	resp := Response{Status: status, Header: rawHeader(respHdr), RequestTime: t0, ResponseTime: t0}
	req := Request{URL: mustURL(testURL), Header: rawHeader(reqHdr)}
	if reqHdr == "" {
		req.Header = nil
	}
	if got, want := Explain(req, resp, opts), oracleExplain(req, resp, opts); !reflect.DeepEqual(got, want) {
		t.Fatalf("Explain:\n got %#v\nwant %#v", got, want)
	}
}

func TestExplainOracle(t *testing.T) {
	checkExplainOracle(t, "Cache-Control: max-age=60, stale-while-revalidate=30\nETag: \"a\"\nLast-Modified: Fri, 01 Mar 2024 11:00:00 GMT\nVary: Accept-Encoding, , accept", "Accept-Encoding: gzip", 200, true, "")
	checkExplainOracle(t, "Cache-Control: no-cache\nETag: \nLast-Modified: <empty>", "", 200, false, "")
	checkExplainOracle(t, "cellar-cache-control: max-age=5\nCellar-Cache-Control: max-age=9\nLast-Modified: \nLast-Modified: x", "", 404, true, "cellar-cache-control")
	checkExplainOracle(t, "", "", 599, true, "")
}

// FuzzExplainOracle holds Explain to the oracle on fuzzed headers.
func FuzzExplainOracle(f *testing.F) {
	f.Add("Cache-Control: max-age=60\nETag: \"a\"\nVary: a, b", "A: 1", 200, true, "")
	f.Add("CDN-Cache-Control: max-age=5\nLast-Modified: Fri, 01 Mar 2024 11:00:00 GMT", "Cache-Control: no-store", 206, true, "x-cc")
	f.Fuzz(func(t *testing.T, respHdr, reqHdr string, status int, isShared bool, targeted string) {
		checkExplainOracle(t, respHdr, reqHdr, status, isShared, targeted)
	})
}

// oracleNormalPercent is writeNormalPercent as first written, byte by byte.
func oracleNormalPercent(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' || i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			b.WriteByte(c)
			continue
		}
		v := unhex(s[i+1])<<4 | unhex(s[i+2])
		if isUnreserved(v) {
			b.WriteByte(v)
		} else {
			b.WriteByte('%')
			b.WriteByte(upperHex(s[i+1]))
			b.WriteByte(upperHex(s[i+2]))
		}
		i += 2
	}
	return b.String()
}

func FuzzNormalPercentOracle(f *testing.F) {
	for _, s := range []string{"", "/a%2fb%7E%7e%", "%%41%4", "/plain/path", "%41%zz%2F/x%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b strings.Builder
		writeNormalPercent(&b, s)
		if got, want := b.String(), oracleNormalPercent(s); got != want {
			t.Fatalf("writeNormalPercent(%q) = %q, want %q", s, got, want)
		}
	})
}
