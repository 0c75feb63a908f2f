package spec_test

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/cellar-http/cellar/spec"
)

// The examples walk the seed's scenarios with a fixed clock: the caller
// does all I/O, the core says what to do next.

var start = time.Date(2024, time.March, 1, 12, 0, 0, 0, time.UTC)

func clockAt(t time.Time) func() time.Time { return func() time.Time { return t } }

func request(kv ...string) spec.Request {
	u, _ := url.Parse("https://example.com/resource")
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return spec.Request{Method: http.MethodGet, URL: u, Header: h}
}

func response(status int, at time.Time, kv ...string) spec.Response {
	h := http.Header{"Date": {at.Format(http.TimeFormat)}}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return spec.Response{Status: status, Header: h, RequestTime: at, ResponseTime: at}
}

// A miss: nothing is stored, so the request goes upstream and the response
// is judged for storage (RFC 9111 §3).
func Example_missThenStore() {
	idle := spec.NewIdleClient(spec.Options{Shared: true, Clock: clockAt(start)})
	req := request("Accept-Encoding", "gzip")

	switch s := idle.Next(req, nil).(type) {
	case spec.CacheMiss:
		fmt.Println("state:", s.StateName(), "-", s.Reason.Code)
		fmt.Println("send upstream:", s.Forward.Method, s.Forward.URL)
		// ... the caller sends s.Forward and gets a response ...
		resp := response(200, start, "Cache-Control", "max-age=3600", "ETag", `"v1"`,
			"Vary", "Accept-Encoding", "Connection", "close", "Content-Length", "12")
		switch r := s.Next(resp).(type) {
		case spec.StoreAndUse:
			fmt.Println("state:", r.StateName(), "-", r.Reason)
			fmt.Println("store under:", r.Key, "expecting", r.ExpectedLength, "bytes")
			fmt.Println("stored Connection:", r.Pair.Response.Header.Get("Connection") != "")
			fmt.Println("Cache-Status:", r.Serve.CacheStatus.Value("cellar"))
		case spec.CouldNotBeStored:
			fmt.Println("not stored:", r.Reason)
		}
	case spec.FromCache, spec.NeedRevalidation, spec.PartialUpdate, spec.InvalidateEntries:
		fmt.Println("unexpected:", s.StateName())
	}
	// Output:
	// state: CacheMiss - uri-miss
	// send upstream: GET https://example.com/resource
	// state: StoreAndUse - max-age allows storing it (RFC 9111 §3)
	// store under: https://example.com/resource expecting 12 bytes
	// stored Connection: false
	// Cache-Status: cellar; fwd=uri-miss; fwd-status=200; ttl=3600; stored
}

// A fresh hit: a stored response answers without going upstream, with its
// Age computed (RFC 9111 §4.2.3).
func Example_freshHit() {
	stored := spec.Pair{ID: "entry-1", Request: request(),
		Response: response(200, start, "Cache-Control", "max-age=3600", "Content-Length", "12")}
	idle := spec.NewIdleClient(spec.Options{Clock: clockAt(start.Add(10 * time.Minute))})

	fc := idle.Next(request(), []spec.Pair{stored}).(spec.FromCache)
	h := fc.Serve.Header()
	fmt.Println("state:", fc.StateName(), "-", fc.Reason)
	fmt.Println("serve", fc.Pair.ID, "with status", fc.Serve.Status)
	fmt.Println("Age:", h.Get("Age"))
	fmt.Println("Cache-Status:", fc.Serve.CacheStatus.Value("cellar"))
	// Output:
	// state: FromCache - the stored response is fresh (RFC 9111 §4.2)
	// serve entry-1 with status 200
	// Age: 600
	// Cache-Status: cellar; hit; ttl=3000
}

// Revalidation then update: a stale response is validated with a
// conditional request (RFC 9111 §4.3.1); a 304 freshens it (§4.3.4) and its
// header is updated (§3.2).
func Example_revalidationThenUpdate() {
	stored := spec.Pair{ID: "entry-1", Request: request(),
		Response: response(200, start, "Cache-Control", "max-age=60", "ETag", `"v1"`, "Content-Length", "12")}
	later := start.Add(5 * time.Minute)
	idle := spec.NewIdleClient(spec.Options{Clock: clockAt(later)})

	nr := idle.Next(request(), []spec.Pair{stored}).(spec.NeedRevalidation)
	fmt.Println("state:", nr.StateName(), "-", nr.Reason)
	fmt.Println("If-None-Match:", nr.Forward.Header.Get("If-None-Match"))

	// ... the caller sends nr.Forward; the origin answers 304 ...
	switch s := nr.Next(response(304, later, "Cache-Control", "max-age=600", "ETag", `"v1"`)).(type) {
	case spec.NeedToBeUpdated:
		fmt.Println("state:", s.StateName(), "-", s.Reason)
		for _, u := range s.Updates {
			fmt.Println("update", u.ID, "Cache-Control:", u.Response.Header.Get("Cache-Control"),
				"Content-Length:", u.Response.Header.Get("Content-Length"))
		}
		fmt.Println("serve status", s.Serve.Status, "Cache-Status:", s.Serve.CacheStatus.Value("cellar"))
	case spec.CacheMiss:
		fmt.Println("the 304 matched nothing:", s.Reason)
	}
	// Output:
	// state: NeedRevalidation - the stored response is stale and must be validated (RFC 9111 §4.2.4)
	// If-None-Match: "v1"
	// state: NeedToBeUpdated - the origin confirmed the stored response (304), whose header is updated (RFC 9111 §4.3.4)
	// update entry-1 Cache-Control: max-age=600 Content-Length: 12
	// serve status 200 Cache-Status: cellar; fwd=stale; fwd-status=304; ttl=600
}

// Partial combine: two stored 206 responses with the same strong validator
// and adjacent ranges become one complete response (RFC 9111 §3.4).
func Example_partialCombine() {
	part := func(id, cr, length string) spec.Pair {
		return spec.Pair{ID: id, Request: request(), Response: response(206, start,
			"Cache-Control", "max-age=600", "ETag", `"v1"`, "Content-Range", cr, "Content-Length", length)}
	}
	stored := []spec.Pair{part("p1", "bytes 0-499/1000", "500"), part("p2", "bytes 500-999/1000", "500")}
	idle := spec.NewIdleClient(spec.Options{Clock: clockAt(start.Add(time.Minute))})

	pu := idle.Next(request(), stored).(spec.PartialUpdate)
	fmt.Println("state:", pu.StateName(), "-", pu.Reason.Code)
	for i, p := range pu.Parts {
		fmt.Printf("part %s holds bytes %d-%d\n", p.ID, pu.Ranges[i].Start, pu.Ranges[i].Start+pu.Ranges[i].Length-1)
	}
	fmt.Println("combined:", pu.Combined.Status, "Content-Length:", pu.Combined.Header.Get("Content-Length"))

	// ... the caller writes the combined body, drops the parts, then goes on:
	combined := spec.Pair{ID: "whole", Request: request(), Response: pu.Combined}
	switch s := pu.Next(combined).(type) {
	case spec.FromCache:
		fmt.Println("state:", s.StateName(), "- serve", s.Pair.ID, "with status", s.Serve.Status)
	case spec.NeedRevalidation, spec.CacheMiss:
		fmt.Println("unexpected:", s.StateName())
	}
	// Output:
	// state: PartialUpdate - combine-partial
	// part p1 holds bytes 0-499
	// part p2 holds bytes 500-999
	// combined: 200 Content-Length: 1000
	// state: FromCache - serve whole with status 200
}

// The walk the README shows: ask the core, do what the state says.
func Example_walk() {
	req := request()
	// stored is what the store holds under spec.Key(req); fetch is the
	// caller's I/O.
	stored := []spec.Pair(nil)
	fetch := func(spec.Request) spec.Response {
		return response(200, time.Now(), "Cache-Control", "max-age=60")
	}

	idle := spec.NewIdleClient(spec.Options{Shared: true})
	switch s := idle.Next(req, stored).(type) {
	case spec.FromCache: // serve s.Pair as s.Serve says (Age, 304, 206 ...)
		fmt.Println("serve", s.Pair.ID, "with status", s.Serve.Status)
	case spec.NeedRevalidation: // send s.Forward, then s.Next(resp): NeedToBeUpdated | CacheMiss
		fmt.Println("validate with", s.Forward.Header.Get("If-None-Match"))
	case spec.PartialUpdate: // combine stored 206s, then s.Next(combined)
		fmt.Println("combine", len(s.Parts), "parts")
	case spec.InvalidateEntries: // forward, then drop s.Keys(resp)
		fmt.Println("forward", s.Forward.Method)
	case spec.CacheMiss: // send s.Forward, then s.Next(resp):
		resp := fetch(s.Forward)
		switch r := s.Next(resp).(type) {
		case spec.StoreAndUse: // store r.Pair under r.Key/r.Variant, serve it
			fmt.Println("store under", r.Key, "-", r.Reason)
		case spec.CouldNotBeStored: // serve it; r.Reason says why, with its RFC section
			fmt.Println("serve without storing:", r.Reason)
		}
	}
	// Output:
	// store under https://example.com/resource - max-age allows storing it (RFC 9111 §3)
}

func ExampleCacheStatus_Value() {
	cs := spec.CacheStatus{Fwd: spec.FwdURIMiss, FwdStatus: 200, TTL: 60, HasTTL: true, Stored: true}
	fmt.Println(cs.Value("cellar"))
	// Output: cellar; fwd=uri-miss; fwd-status=200; ttl=60; stored
}
