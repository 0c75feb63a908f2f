package proxy

import (
	"crypto/subtle"
	"net/http"
)

// mountStatus serves the status page and its data on the admin listener,
// behind the guards of the profiles: without a token, a loopback Host
// (localOnly, against DNS rebinding); with one, the token.
func (a *admin) mountStatus(mux *http.ServeMux, s *Status) {
	guard := func(h http.HandlerFunc) http.Handler { return a.localOnly(a.statusAuth(h)) }
	mux.Handle("GET /{$}", guard(s.servePage))
	mux.Handle("GET /status.json", guard(s.serveJSON))
	mux.Handle("GET /decisions", guard(s.serveDecisions))
}

// statusAuth is auth for the read-only status routes, which a browser
// also loads: besides "Authorization: Bearer TOKEN" it takes the token as
// the password of HTTP Basic authentication (RFC 7617, any user name), the
// only credentials a browser prompts for and then sends with the page's
// own requests (its EventSource cannot add a header). Basic is not taken
// on /purge or the profiles: a browser sends remembered Basic credentials
// with cross-site requests too, which only a read-only GET whose answer
// the other site cannot read (same-origin policy) may receive.
func (a *admin) statusAuth(next http.Handler) http.Handler {
	if a.cfg.Token == "" {
		return next
	}
	bearer := []byte("Bearer " + a.cfg.Token)
	token := []byte(a.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok := subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), bearer) == 1
		if _, pass, basic := r.BasicAuth(); basic && !ok {
			ok = subtle.ConstantTimeCompare([]byte(pass), token) == 1
		}
		if !ok {
			w.Header()["WWW-Authenticate"] = []string{`Bearer realm="cellar admin"`, `Basic realm="cellar admin", charset="UTF-8"`}
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "a valid bearer token is required (or the token as the password of Basic authentication)"})
			return
		}
		next.ServeHTTP(w, r)
	})
}
