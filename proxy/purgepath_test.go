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
// keyed it on (clients that said localhost and 127.0.0.1), and no other
// path or query; the answer lists the keys it tried. With a key host, the
// one key under it.
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
			"/x", []string{"http://www.example/x"}, 1},
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
