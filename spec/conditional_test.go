package spec

import (
	"net/http"
	"testing"
)

// RFC 9111 §4.3.2 with RFC 9110 §13.1.2, §13.1.3 and §13.2.2: a cache
// answers the client's own conditional request from a fresh stored 200.
func TestConditional_RFC9111_4_3_2_ClientConditionals(t *testing.T) {
	lm := at(-3600)
	fresh := storedGET("p", ok200("Cache-Control", "max-age=600", "ETag", `"v1"`, "Last-Modified", hd(lm),
		"Content-Type", "text/plain", "Content-Length", "100", "Content-Location", "/r.txt", "Vary", "Accept-Encoding",
		"Expires", hd(at(600)), "X-Other", "o"))
	weak := storedGET("w", ok200("Cache-Control", "max-age=600", "ETag", `W/"v1"`))
	noLM := storedGET("d", ok200("Cache-Control", "max-age=600"))
	noTag := storedGET("n", ok200("Cache-Control", "max-age=600", "Last-Modified", hd(lm)))
	o := private(at(10))
	is304 := want{state: "FromCache", code: "fresh", status: 304, body: plan(BodyNone)}
	is200 := want{state: "FromCache", code: "fresh", status: 200, body: plan(BodyAll)}
	runLookups(t, []lookupCase{
		{"If-None-Match matches", o, []Pair{fresh}, get("If-None-Match", `"v1"`), want{
			state: "FromCache", code: "fresh", status: 304, body: plan(BodyNone), cs: "cellar; hit; ttl=590",
			// RFC 9110 §15.4.5: the fields a 200 would carry that a 304 must, and no other representation metadata.
			header: map[string]string{"Etag": `"v1"`, "Cache-Control": "max-age=600", "Date": hd(t0), "Vary": "Accept-Encoding",
				"Content-Location": "/r.txt", "Expires": hd(at(600)), "Last-Modified": hd(lm), "Age": "10",
				"Content-Type": absent, "Content-Length": absent, "X-Other": absent}}},
		{"If-None-Match compares weakly: weak request tag", o, []Pair{fresh}, get("If-None-Match", `W/"v1"`), is304},
		{"If-None-Match compares weakly: weak stored tag", o, []Pair{weak}, get("If-None-Match", `"v1"`), is304},
		{"If-None-Match does not match", o, []Pair{fresh}, get("If-None-Match", `"v2"`), is200},
		{"If-None-Match list", o, []Pair{fresh}, get("If-None-Match", `"v0", "v1"`), is304},
		{"If-None-Match on several lines", o, []Pair{fresh}, get("If-None-Match", `"v0"`, "If-None-Match", `W/"v1"`), is304},
		{"If-None-Match: * matches any current representation", o, []Pair{fresh}, get("If-None-Match", "*"), is304},
		{"If-None-Match: * without a stored ETag", o, []Pair{noLM}, get("If-None-Match", "*"), is304},
		{"If-None-Match without a stored ETag", o, []Pair{noTag}, get("If-None-Match", `"v1"`), is200},
		{"If-Modified-Since equal to Last-Modified", o, []Pair{fresh}, get("If-Modified-Since", hd(lm)), is304},
		{"If-Modified-Since after Last-Modified", o, []Pair{fresh}, get("If-Modified-Since", hd(at(-10))), is304},
		{"If-Modified-Since before Last-Modified", o, []Pair{fresh}, get("If-Modified-Since", hd(lm.Add(-1))), is200},
		{"If-Modified-Since in an obsolete format", o, []Pair{fresh}, get("If-Modified-Since", "Friday, 01-Mar-24 11:00:00 GMT"), is304},
		{"invalid If-Modified-Since is ignored", o, []Pair{fresh}, get("If-Modified-Since", "yesterday"), is200},
		{"If-None-Match takes precedence: no match, IMS would match", o, []Pair{fresh},
			get("If-None-Match", `"v2"`, "If-Modified-Since", hd(at(-10))), is200},
		{"If-None-Match takes precedence: match, IMS would not", o, []Pair{fresh},
			get("If-None-Match", `"v1"`, "If-Modified-Since", hd(lm.Add(-1))), is304},
		{"no Last-Modified: the stored Date is used", o, []Pair{noLM}, get("If-Modified-Since", hd(t0)), is304},
		{"no Last-Modified: the stored Date is after IMS", o, []Pair{noLM}, get("If-Modified-Since", hd(at(-1))), is200},
		{"If-Match and If-Unmodified-Since are for the origin", o, []Pair{fresh},
			get("If-Match", `"nope"`, "If-Unmodified-Since", hd(at(-7200))), is200},
		{"HEAD with If-None-Match", o, []Pair{fresh}, rq(http.MethodHead, testURL, "If-None-Match", `"v1"`), is304},
		{"If-None-Match and Range: 304", o, []Pair{fresh}, get("If-None-Match", `"v1"`, "Range", "bytes=0-9"), is304},
	})
}

// RFC 9111 §4.3.2: when the cache validates for a client that sent its own
// conditional, it answers that conditional once the stored response is
// confirmed; a 304 with a tag not in the client's list gives a 200.
func TestConditional_RFC9111_4_3_2_AfterValidation(t *testing.T) {
	stored := old("a", 0, "ETag", `"a"`, "Content-Length", "10")
	cases := []struct {
		name   string
		client string
		resp   Response
		want   want
	}{
		{"304 with the client's tag: 304", `"a"`, notMod("ETag", `"a"`, "Cache-Control", "max-age=60"),
			want{state: "NeedToBeUpdated", status: 304, body: plan(BodyNone)}},
		{"304 with a tag the client lacks: 200", `"old"`, notMod("ETag", `"a"`, "Cache-Control", "max-age=60"),
			want{state: "NeedToBeUpdated", status: 200, body: plan(BodyAll), header: map[string]string{"Content-Length": "10"}}},
		{"full response, client's tag: 304", `"b"`, rsp(200, now150, "Date", hd(now150), "ETag", `"b"`, "Cache-Control", "max-age=60"),
			want{state: "CacheMiss", code: "validation-full-response"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nr := revalidation(t, private(now150), get("If-None-Match", tc.client), stored)
			s := nr.Next(tc.resp)
			check(t, s, tc.want)
			if m, ok := s.(CacheMiss); ok {
				check(t, m.Next(tc.resp), want{state: "StoreAndUse", status: 304, body: plan(BodyNone),
					header: map[string]string{"Etag": `"b"`}})
			}
		})
	}
}

// RFC 9111 §4.3.2: If-Modified-Since against a stored response without a
// (valid) Last-Modified is evaluated against its Date, else the time it was
// received; it does not make every such request a 200.
func TestConditional_RFC9111_4_3_2_ModifiedSinceWithoutLastModified(t *testing.T) {
	noDate := Pair{ID: "r", Request: get(), Response: rsp(200, at(0), "Cache-Control", "max-age=600")}
	badLM := storedGET("b", ok200("Cache-Control", "max-age=600", "Last-Modified", "yesterday"))
	o := private(at(10))
	is304 := want{state: "FromCache", status: 304, body: plan(BodyNone)}
	is200 := want{state: "FromCache", status: 200, body: plan(BodyAll)}
	runLookups(t, []lookupCase{
		{"no Date: the receipt time, equal", o, []Pair{noDate}, get("If-Modified-Since", hd(at(0))), is304},
		{"no Date: the receipt time, later", o, []Pair{noDate}, get("If-Modified-Since", hd(at(5))), is304},
		{"no Date: the receipt time, earlier", o, []Pair{noDate}, get("If-Modified-Since", hd(at(-1))), is200},
		{"invalid Last-Modified: the Date", o, []Pair{badLM}, get("If-Modified-Since", hd(t0)), is304},
		{"invalid Last-Modified: the Date, earlier", o, []Pair{badLM}, get("If-Modified-Since", hd(at(-1))), is200},
	})
	// After a validation that confirmed a response without Last-Modified,
	// its new Date answers the client's If-Modified-Since.
	stored := old("a", 0, "ETag", `"a"`)
	nr := revalidation(t, private(now150), get("If-Modified-Since", hd(now150)), stored)
	check(t, nr.Next(notMod("ETag", `"a"`, "Cache-Control", "max-age=60")), want{state: "NeedToBeUpdated", status: 304})
	nr = revalidation(t, private(now150), get("If-Modified-Since", hd(at(100))), stored)
	check(t, nr.Next(notMod("ETag", `"a"`, "Cache-Control", "max-age=60")), want{state: "NeedToBeUpdated", status: 200})
}
