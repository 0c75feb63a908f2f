package proxy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"testing"

	"github.com/cellar-http/cellar/store/memory"
)

// TestAdminPurgePath: path= purges one path under every host the cache
// keyed it on (clients that said localhost and 127.0.0.1) and both schemes
// (keys carry the client's, RFC 9111 §4), and no other path or query; the
// answer lists the keys it tried. With a key host, the keys of both
// schemes under it.
func TestAdminPurgePath(t *testing.T) {
	up, _ := url.Parse("http://origin:9000")
	for _, tt := range []struct {
		name    string
		keyHost string
		stored  []string
		path    string
		keys    []string
		left    int
	}{
		{"every host", "",
			[]string{"http://localhost:8080/x", "http://127.0.0.1:8080/x", "http://localhost:8080/x?q=1", "http://localhost:8080/xy", "http://localhost:8080/y/x"},
			"/x", []string{"http://127.0.0.1:8080/x", "http://localhost:8080/x"}, 3},
		{"with its query", "",
			[]string{"http://a/x?q=1", "http://b/x?q=1", "http://a/x"},
			"/x?q=1", []string{"http://a/x?q=1", "http://b/x?q=1"}, 1},
		{"a configured key host", "www.example",
			[]string{"http://www.example/x", "http://localhost/x"},
			"/x", []string{"http://www.example/x", "https://www.example/x"}, 1},
		{"both schemes", "",
			[]string{"http://a/x", "https://a/x", "https://b/x", "https://a/y"},
			"/x", []string{"http://a/x", "https://a/x", "https://b/x"}, 1},
		{"both schemes under a key host", "www.example",
			[]string{"http://www.example/x", "https://www.example/x", "https://localhost/x"},
			"/x", []string{"http://www.example/x", "https://www.example/x"}, 1},
		{"nothing stored", "", []string{"http://a/y"}, "/x", nil, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, err := memory.New(memory.Options{MaxBytes: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			for _, u := range tt.stored {
				put(t, st, u)
			}
			h := Admin(AdminConfig{Store: st, Upstream: up, KeyHost: tt.keyHost})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, loopbackPurge("/purge?path="+url.QueryEscape(tt.path)))
			var res purgeResult
			if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || rec.Code != 200 || len(res.Detail) != 1 {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			keys := res.Detail[0].Keys
			slices.Sort(keys)
			if !reflect.DeepEqual(keys, tt.keys) {
				t.Errorf("keys tried %q, want %q", keys, tt.keys)
			}
			if got := st.Stats().Entries; got != int64(tt.left) {
				t.Errorf("%d entries left, want %d", got, tt.left)
			}
			if res.Purged != len(tt.stored)-tt.left {
				t.Errorf("purged %d, want %d", res.Purged, len(tt.stored)-tt.left)
			}
		})
	}
	h := Admin(AdminConfig{Store: nil, Upstream: up})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, loopbackPurge("/purge?path=x"))
	if rec.Code == http.StatusOK {
		t.Errorf("a path without /: %d", rec.Code)
	}
}

// TestAdminPurgeBothSchemes_RFC9111_4: keys carry the client's scheme
// (RFC 9111 §4), and url= and prefix= remove the copies of both schemes
// whichever the operator wrote (both are one resource upstream), and
// nothing of another URL or host.
func TestAdminPurgeBothSchemes_RFC9111_4(t *testing.T) {
	up, _ := url.Parse("http://origin:9000")
	stored := []string{"http://a/x", "https://a/x", "https://a/x/y", "http://a/z", "https://b/x"}
	for _, tt := range []struct {
		kind, value string
		keys        []string
		left        int
	}{
		{"url", "http://a/x", []string{"http://a/x", "https://a/x"}, 3},
		{"url", "https://a/x", []string{"https://a/x", "http://a/x"}, 3},
		{"prefix", "http://a/x", []string{"http://a/x", "https://a/x"}, 2},
		{"prefix", "https://a/", []string{"https://a/", "http://a/"}, 1},
	} {
		t.Run(tt.kind+" "+tt.value, func(t *testing.T) {
			st, err := memory.New(memory.Options{MaxBytes: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			for _, u := range stored {
				put(t, st, u)
			}
			h := Admin(AdminConfig{Store: st, Upstream: up})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, loopbackPurge("/purge?"+tt.kind+"="+url.QueryEscape(tt.value)))
			var res purgeResult
			if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || rec.Code != 200 || len(res.Detail) != 1 {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			if got := res.Detail[0].Keys; !reflect.DeepEqual(got, tt.keys) {
				t.Errorf("keys %q, want %q", got, tt.keys)
			}
			if got := st.Stats().Entries; got != int64(tt.left) {
				t.Errorf("%d entries left, want %d", got, tt.left)
			}
			if res.Purged != len(stored)-tt.left {
				t.Errorf("purged %d, want %d", res.Purged, len(stored)-tt.left)
			}
		})
	}
}

// TestPurgeKeyUnderKeyHost: with a key host, a purged URL is looked up
// under it whatever host the operator wrote.
func TestPurgeKeyUnderKeyHost(t *testing.T) {
	up, _ := url.Parse("http://origin:9000")
	for in, want := range map[string]string{
		"http://localhost:8080/a?b=c": "http://www.example/a?b=c",
		"/a":                          "http://www.example/a",
	} {
		if got, err := purgeKey(in, up, "www.example"); err != nil || got != want {
			t.Errorf("purgeKey(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// loopbackPurge is a tokenless purge as the admin listener accepts it: a
// loopback Host and the purge header (see adminguard.go).
func loopbackPurge(target string) *http.Request {
	r := httptest.NewRequest("POST", "http://localhost"+target, nil)
	r.Header.Set(PurgeHeader, "1")
	return r
}
