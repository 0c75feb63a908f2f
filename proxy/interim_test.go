package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"testing"

	"github.com/cellar-http/cellar"
	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store/memory"
)

// RFC 9110 §15.2: the proxy passes the origin's 103 (Early Hints) to the
// client before the final response, and does not replay it on a hit.
func TestProxy_RFC9110_15_2_EarlyHints(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "final")
	}))
	defer origin.Close()
	st, err := memory.New(memory.Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := cellar.New(cellar.Config{Spec: spec.Options{Shared: true}, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	u, _ := url.Parse(origin.URL)
	p, err := New(Config{Upstream: u, Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	get := func() (links []string, body string) {
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			links = append(links, http.StatusText(code)+" "+h.Get("Link"))
			return nil
		}}
		req, _ := http.NewRequest("GET", srv.URL+"/page", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Header.Get("Link") != "" {
			t.Errorf("the 103's Link reached the final response")
		}
		return links, string(b)
	}
	if links, body := get(); len(links) != 1 || links[0] != "Early Hints </a.css>; rel=preload" || body != "final" {
		t.Errorf("miss: interim %q, body %q", links, body)
	}
	if links, body := get(); len(links) != 0 || body != "final" {
		t.Errorf("hit: interim %q, body %q", links, body)
	}
}
