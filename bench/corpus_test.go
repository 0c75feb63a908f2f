package bench

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/cellar-http/cellar/spec"
)

// sample is one request/response exchange as a cache sees it after the
// upstream answered, in both libraries' shapes over the same header maps.
type sample struct {
	name  string
	hreq  *http.Request
	hresp *http.Response
	sreq  spec.Request
	sresp spec.Response
}

// corpus returns ten responses of the kinds a shared cache meets every day:
// immutable assets, HTML pages that must be revalidated, PHP's no-store
// triple, private API answers, Expires-only and heuristic responses, CDN
// policies with s-maxage and stale-while-revalidate, Set-Cookie, a cached 404,
// a permanent redirect and a request with Authorization. Times are relative
// to now, so both libraries (which both read the clock) see fresh responses.
func corpus(now time.Time) []sample {
	date := now.Add(-2 * time.Second).UTC().Format(http.TimeFormat)
	lastMod := now.Add(-30 * 24 * time.Hour).UTC().Format(http.TimeFormat)
	inHour := now.Add(time.Hour).UTC().Format(http.TimeFormat)
	common := func(kv ...string) http.Header {
		h := http.Header{
			"Date":           {date},
			"Server":         {"nginx/1.22.1"},
			"Content-Type":   {"text/html; charset=utf-8"},
			"Content-Length": {strconv.Itoa(4096)},
			"Connection":     {"keep-alive"},
		}
		for i := 0; i+1 < len(kv); i += 2 {
			h[http.CanonicalHeaderKey(kv[i])] = append(h[http.CanonicalHeaderKey(kv[i])], kv[i+1])
		}
		return h
	}
	browser := func(kv ...string) http.Header {
		h := http.Header{
			"User-Agent":      {"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
			"Accept":          {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
			"Accept-Encoding": {"gzip, deflate, br, zstd"},
			"Accept-Language": {"en-US,en;q=0.5"},
		}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	type raw struct {
		name   string
		method string
		url    string
		reqH   http.Header
		status int
		respH  http.Header
	}
	raws := []raw{
		{"immutable-asset", "GET", "https://example.com/static/app.3f9c2e.js", browser(), 200,
			common("Cache-Control", "public, max-age=31536000, immutable", "ETag", `"3f9c2e"`,
				"Last-Modified", lastMod, "Content-Type", "application/javascript")},
		{"html-no-cache", "GET", "https://example.com/", browser(), 200,
			common("Cache-Control", "no-cache", "ETag", `W/"5d1-18f"`, "Vary", "Accept-Encoding")},
		{"php-no-store", "GET", "https://example.com/cart.php", browser("Cookie", "PHPSESSID=abc123"), 200,
			common("Cache-Control", "no-store, no-cache, must-revalidate", "Pragma", "no-cache",
				"Expires", "Thu, 19 Nov 1981 08:52:00 GMT", "Set-Cookie", "PHPSESSID=abc123; path=/")},
		{"api-private", "GET", "https://api.example.com/v1/me", browser("Accept", "application/json"), 200,
			common("Cache-Control", "private, max-age=60", "Vary", "Accept-Encoding, Authorization",
				"Content-Type", "application/json")},
		{"expires-only", "GET", "https://example.com/feed.xml", browser(), 200,
			common("Expires", inHour, "Last-Modified", lastMod, "Content-Type", "application/rss+xml")},
		{"heuristic", "GET", "https://example.com/images/logo.png", browser(), 200,
			common("Last-Modified", lastMod, "ETag", `"logo-7"`, "Content-Type", "image/png")},
		{"cdn-s-maxage-swr", "GET", "https://example.com/news?page=2", browser(), 200,
			common("Cache-Control", "public, max-age=60, s-maxage=600, stale-while-revalidate=30, stale-if-error=86400",
				"Vary", "Accept-Encoding", "ETag", `"n2"`)},
		{"set-cookie", "GET", "https://example.com/welcome", browser(), 200,
			common("Cache-Control", "max-age=300", "Set-Cookie", "visitor=1; Path=/; HttpOnly")},
		{"cached-404", "GET", "https://example.com/missing", browser(), 404,
			common("Cache-Control", "public, max-age=60")},
		{"permanent-redirect", "GET", "http://example.com/old", browser(), 301,
			common("Location", "https://example.com/new", "Cache-Control", "max-age=86400")},
		{"authorization", "GET", "https://api.example.com/v1/items?limit=50",
			browser("Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"), 200,
			common("Cache-Control", "public, max-age=120", "Content-Type", "application/json")},
	}
	out := make([]sample, len(raws))
	for i, r := range raws {
		u, err := url.Parse(r.url)
		if err != nil {
			panic(err)
		}
		hreq := &http.Request{Method: r.method, URL: u, Header: r.reqH, Host: u.Host}
		hresp := &http.Response{StatusCode: r.status, Header: r.respH, Request: hreq}
		out[i] = sample{
			name: r.name, hreq: hreq, hresp: hresp,
			sreq: spec.Request{Method: r.method, URL: u, Header: r.reqH},
			sresp: spec.Response{Status: r.status, Header: r.respH,
				RequestTime: now.Add(-5 * time.Millisecond), ResponseTime: now},
		}
	}
	return out
}
