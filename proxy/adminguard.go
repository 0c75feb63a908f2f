package proxy

import (
	"encoding/json"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
)

// PurgeHeader is the request field that marks a purge as sent by a tool
// rather than by a browser's form: a cross-site page cannot add it without
// a CORS preflight, which the admin listener never grants. A purge without
// a token needs it (any value) or a JSON body.
const PurgeHeader = "X-Cellar-Purge"

// MinAdminTokenLen is the shortest --admin-token accepted.
const MinAdminTokenLen = 16

// loopbackHost reports whether the Host field names this machine by a
// loopback name (localhost, 127.0.0.0/8, ::1), with or without a port, or
// is addr, the admin listener's configured address.
func loopbackHost(host, addr string) bool {
	if host == "" {
		return false
	}
	if addr != "" && strings.EqualFold(host, addr) {
		return true
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	if addr != "" {
		if a, _, err := net.SplitHostPort(addr); err == nil && a != "" && strings.EqualFold(name, strings.Trim(a, "[]")) {
			return true
		}
	}
	name = strings.Trim(name, "[]")
	if strings.EqualFold(name, "localhost") {
		return true
	}
	ip := net.ParseIP(name)
	return ip != nil && ip.IsLoopback()
}

// localOnly guards what the admin listener exposes beyond /metrics and
// /healthz (purges, profiles) when no token protects it: loopback is not a
// trust boundary by itself. DNS rebinding lets a web page reach
// 127.0.0.1:9090 under its own name, so the Host must be a loopback name
// or the configured address (421 otherwise).
func (a *admin) localOnly(next http.Handler) http.Handler {
	if a.cfg.Token != "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host, a.cfg.Addr) {
			writeJSON(w, http.StatusMisdirectedRequest, map[string]string{
				"error": "without --admin-token the admin listener answers only Host localhost, 127.0.0.1, [::1] or its --admin address"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// notSimple refuses a purge a browser could send cross-site without a CORS
// preflight (a "simple" request: a form POST): without a token it must
// carry [PurgeHeader] or a JSON body (Content-Type: application/json), or
// use the PURGE method. http.CrossOriginProtection, in front of it,
// refuses requests whose Sec-Fetch-Site or Origin says cross-site.
func (a *admin) notSimple(next http.Handler) http.Handler {
	if a.cfg.Token != "" {
		return next // a browser cannot add Authorization cross-site without a preflight
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && len(r.Header[PurgeHeader]) == 0 && !isJSON(r) {
			writeJSON(w, http.StatusForbidden, map[string]string{
				"error": "send the purge with the header " + PurgeHeader + ": 1, or a JSON body with Content-Type: application/json (a cross-site form cannot)"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func isJSON(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// purgeBody is the JSON form of a purge: {"url": [...], "prefix": [...],
// "tag": [...]}.
type purgeBody struct {
	URL    []string `json:"url"`
	Prefix []string `json:"prefix"`
	Tag    []string `json:"tag"`
}

// readJSONPurge adds a JSON body's lists to q.
func readJSONPurge(r *http.Request, q map[string][]string) error {
	var b purgeBody
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil && err != io.EOF {
		return err
	}
	q["url"] = append(q["url"], b.URL...)
	q["prefix"] = append(q["prefix"], b.Prefix...)
	q["tag"] = append(q["tag"], b.Tag...)
	return nil
}
