package spec

import "testing"

// RFC 9110 §15.5.13, §15.5.17, §15.5.18 with RFC 9111 §2 and §7.1: a 412,
// 416 or 417 is the origin's verdict on the request's own precondition,
// Range or Expect, none of which is in the key. Stored (explicit freshness
// on every response is common), one client's "If-Match: x" would have the
// 412 served to every client until it expires. Not stored, in a shared
// and a private cache alike; the same status without the field is judged
// as any response.
func TestStore_RFC9110_15_5_13_AnswersRequestFieldNotStored(t *testing.T) {
	s, p := shared(t0), private(t0)
	cc := func(status int) Response { return rsp(status, t0, "Cache-Control", "max-age=60") }
	no := want{state: "CouldNotBeStored", code: "answers-request-field"}
	runStores(t, []storeCase{
		{"412 to If-Match", s, get("If-Match", `"x"`), cc(412), no},
		{"412 to If-Unmodified-Since", s, get("If-Unmodified-Since", "Fri, 01 Jan 2010 00:00:00 GMT"), cc(412), no},
		{"412 to If-None-Match", s, get("If-None-Match", `"x"`), cc(412), no},
		{"412 to If-Match, private cache", p, get("If-Match", `"x"`), cc(412), no},
		{"412 even public", s, get("If-Match", `"x"`), rsp(412, t0, "Cache-Control", "public, s-maxage=600"), no},
		{"416 to Range", s, get("Range", "bytes=999999-"), cc(416), no},
		{"417 to Expect", s, get("Expect", "100-continue"), cc(417), no},
		{"412 without preconditions is judged as any", s, get(), cc(412), want{state: "StoreAndUse", code: "max-age"}},
		{"416 without Range is judged as any", s, get(), cc(416), want{state: "StoreAndUse", code: "max-age"}},
		{"200 to If-Match is stored", s, get("If-Match", `"x"`), cc(200), want{state: "StoreAndUse", code: "max-age"}},
		{"206 to Range is judged as a part", s, get("Range", "bytes=0-1"),
			rsp(206, t0, "Cache-Control", "max-age=60", "Content-Range", "bytes 0-1/10", "Content-Length", "2"), want{state: "StoreAndUse", code: "max-age"}},
	})
	// A revalidation's full response is judged by the same rule: a 412 to
	// the client's If-Match sent along with the cache's validators does
	// not replace the stored response.
	stored := old("a", 0, "ETag", `"a"`, "Content-Length", "10")
	rv := revalidation(t, shared(now150), get("If-Match", `"x"`), stored)
	m := as[CacheMiss](t, rv.Next(rsp(412, now150, "Date", hd(now150), "Cache-Control", "max-age=60")))
	check(t, m.Next(rsp(412, now150, "Date", hd(now150), "Cache-Control", "max-age=60")), no)
}
