package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cellar-http/cellar/spec"
)

// explainConfig is what `cellar explain` was asked.
type explainConfig struct {
	Target   string // a URL, or "-" for a response on stdin
	URL      *url.URL
	Method   string
	Header   http.Header
	JSON     bool
	At       time.Time // the clock, and for stdin the response time
	Targeted string
	Timeout  time.Duration
	// Content: the request carries a body the key ignores (a "fat GET").
	Content bool
}

func parseExplainConfig(args []string, getenv func(string) string, stderr io.Writer) (*explainConfig, error) {
	fs := newFlagSet("explain", "URL|- [flags]", stderr)
	var headers stringList
	asJSON := fs.Bool("json", false, "print JSON for tools instead of text")
	fs.Var(&headers, "H", "request header `FIELD: VALUE` (repeatable): sent when fetching, and used for Authorization, Cookie, request no-store and the Vary key")
	content := fs.Bool("with-body", false, "the request carries a body that is not part of the cache key (a \"fat GET\"; RFC 9110 §9.3.1)")
	method := fs.String("method", http.MethodGet, "request `METHOD` the response answers")
	rawURL := fs.String("url", "", "with -, the request `URL` the response answers (default: from a request line and Host pasted before the response)")
	at := fs.String("at", "", "with -, when the response was received, as an HTTP-date or RFC 3339 time (default now)")
	targeted := fs.String("targeted-field", "", "an RFC 9213 targeted field `NAME` a shared cache honours before CDN-Cache-Control")
	timeout := fs.Duration("timeout", 15*time.Second, "time allowed to fetch URL")
	// Accept flags after the URL too ("cellar explain URL --json").
	var positional []string
	rest := args
	for {
		if err := parseFlags(fs, rest, getenv); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(positional) != 1 {
		return nil, usagef("want exactly one URL, or - to read a response from stdin (as curl -si prints it); got %d arguments", len(positional))
	}
	c := &explainConfig{Target: positional[0], Method: strings.ToUpper(*method), Header: http.Header{}, JSON: *asJSON, Targeted: *targeted, Timeout: *timeout, Content: *content}
	if !spec.IsToken(c.Method) {
		return nil, usagef("--method %q is not a method token", *method)
	}
	if c.Targeted != "" && !spec.IsToken(c.Targeted) {
		return nil, usagef("--targeted-field %q is not a field name", c.Targeted)
	}
	for _, h := range headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok || !spec.IsToken(strings.TrimSpace(k)) {
			return nil, usagef("-H %q: want \"Field: value\"", h)
		}
		c.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	c.At = time.Now()
	if *at != "" {
		t, err := parseTime(*at)
		if err != nil {
			return nil, usagef("--at %q: want an HTTP-date (Mon, 02 Jan 2006 15:04:05 GMT) or an RFC 3339 time", *at)
		}
		c.At = t
	}
	target := c.Target
	if target == "-" {
		target = *rawURL
		if target == "" {
			return c, nil // from the pasted text: see pastedURL
		}
	} else if *rawURL != "" || *at != "" {
		return nil, usagef("--url and --at apply only to a response read from stdin (-)")
	}
	u, err := parseHTTPURL(target)
	if err != nil {
		return nil, err
	}
	c.URL = u
	return c, nil
}

func parseHTTPURL(target string) (*url.URL, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("%q is not an http(s) URL", target)
	}
	return u, nil
}

// errNoURL is the error of `explain -` when neither --url nor the pasted
// text says which URL the response answers.
var errNoURL = usagef("which URL does the response answer? Give it with --url URL " +
	"(curl -si URL | cellar explain - --url URL), or paste the request line and its Host field " +
	"(GET /path HTTP/1.1, Host: example.com) before the response")

// pastedRequest splits a request pasted before the response ("GET /a
// HTTP/1.1", its fields, a blank line; lines may carry curl -v's "> "
// prefix) from data, and returns the URL it targets: its absolute form, or
// http:// with its Host field and path. It returns "" and data whole when
// data does not start with a request line.
func pastedRequest(data []byte) (target string, rest []byte) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), len(data)+1)
	var method, path, host string
	consumed := 0
	for sc.Scan() {
		raw := sc.Text()
		consumed += len(raw) + 1
		line := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(raw), ">"))
		if method == "" {
			if line == "" {
				continue
			}
			f := strings.Fields(line)
			if len(f) != 3 || !spec.IsToken(f[0]) || !strings.HasPrefix(f[2], "HTTP/") {
				return "", data
			}
			method, path = f[0], f[1]
			continue
		}
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Host") {
			host = strings.TrimSpace(v)
		}
	}
	if method == "" {
		return "", data
	}
	rest = data[min(consumed, len(data)):]
	switch {
	case strings.HasPrefix(path, "http://"), strings.HasPrefix(path, "https://"):
		return path, rest
	case strings.HasPrefix(path, "/") && host != "":
		return "http://" + host + path, rest
	}
	return "", rest
}

func parseTime(s string) (time.Time, error) {
	if t, err := http.ParseTime(s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

func runExplain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	c, err := parseExplainConfig(args, nil, stderr)
	if err != nil {
		return err
	}
	var resp spec.Response
	if c.Target == "-" {
		resp, err = readPasted(c, stdin)
		resp.RequestTime, resp.ResponseTime = c.At, c.At
	} else {
		resp, err = fetch(ctx, c)
		c.At = resp.ResponseTime
	}
	if err != nil {
		return err
	}
	rep := explain(c, resp)
	if c.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.writeText(stdout)
}

// fetch sends the request and keeps the response's header: redirects are
// not followed (the redirect itself is explained) and the body is not read.
func fetch(ctx context.Context, c *explainConfig) (spec.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, c.Method, c.URL.String(), nil)
	if err != nil {
		return spec.Response{}, err
	}
	req.Header = c.Header.Clone()
	if h := req.Header.Get("Host"); h != "" {
		req.Host = h
	}
	client := &http.Client{
		// Compression off: the transport would otherwise ask for gzip and
		// drop Content-Encoding and Content-Length from what we explain.
		Transport:     &http.Transport{Proxy: http.ProxyFromEnvironment, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	sent := time.Now()
	res, err := client.Do(req)
	if err != nil {
		return spec.Response{}, err
	}
	received := time.Now()
	_ = res.Body.Close()
	return spec.Response{Status: res.StatusCode, Header: res.Header, RequestTime: sent, ResponseTime: received}, nil
}

// readPasted reads the response on stdin and, when --url did not say which
// URL it answers, takes it from a request pasted before it.
func readPasted(c *explainConfig, stdin io.Reader) (spec.Response, error) {
	data, err := io.ReadAll(io.LimitReader(stdin, 16<<20))
	if err != nil {
		return spec.Response{}, err
	}
	target, rest := pastedRequest(data)
	resp, err := readResponse(bytes.NewReader(rest))
	if err != nil || c.URL != nil {
		return resp, err
	}
	if target == "" {
		return resp, errNoURL
	}
	c.URL, err = parseHTTPURL(target)
	return resp, err
}

// readResponse reads a response's status line and header as curl -si (or
// curl -sD-) prints them. Interim 1xx responses and a proxy's "Connection
// established" are skipped when another response follows; the body, if
// any, is ignored (curl has already undone any chunked coding it names).
func readResponse(r io.Reader) (spec.Response, error) {
	data, err := io.ReadAll(io.LimitReader(r, 16<<20))
	if err != nil {
		return spec.Response{}, err
	}
	for {
		head, rest, ok := cutHead(data)
		if !ok {
			return spec.Response{}, errors.New("stdin: no HTTP response header (want the output of curl -si URL)")
		}
		res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(fixStatusLine(head))), nil)
		if err != nil {
			return spec.Response{}, fmt.Errorf("stdin: %w", err)
		}
		_ = res.Body.Close()
		_, phrase, _ := strings.Cut(res.Status, " ")
		interim := res.StatusCode < 200 || strings.EqualFold(strings.TrimSpace(phrase), "connection established")
		if interim {
			if _, _, more := cutHead(rest); more {
				data = rest
				continue
			}
		}
		return spec.Response{Status: res.StatusCode, Header: res.Header}, nil
	}
}

// cutHead returns the first header section in data (from a line starting
// "HTTP/" through the empty line ending it) and what follows it.
func cutHead(data []byte) (head, rest []byte, ok bool) {
	i := bytes.Index(data, []byte("HTTP/"))
	if i < 0 {
		return nil, nil, false
	}
	data = data[i:]
	for _, sep := range [][]byte{[]byte("\r\n\r\n"), []byte("\n\n"), []byte("\n\r\n")} {
		if j := bytes.Index(data, sep); j >= 0 && (head == nil || j+len(sep) < len(head)) {
			head, rest = data[:j+len(sep)], data[j+len(sep):]
		}
	}
	if head == nil { // no blank line: the header runs to the end
		head = append(bytes.TrimRight(data, "\r\n"), "\r\n\r\n"...)
	}
	return head, rest, true
}

// fixStatusLine turns "HTTP/2 200" (curl's form for HTTP/2 and HTTP/3)
// into "HTTP/2.0 200", which http.ReadResponse parses.
func fixStatusLine(head []byte) []byte {
	for _, v := range []string{"HTTP/2 ", "HTTP/3 "} {
		if bytes.HasPrefix(head, []byte(v)) {
			return append([]byte(v[:6]+".0 "), head[len(v):]...)
		}
	}
	return head
}

// report is what `cellar explain` prints, and its JSON form.
type report struct {
	Method  string      `json:"method"`
	URL     string      `json:"url"`
	Request http.Header `json:"request_header,omitempty"`
	Status  int         `json:"status"`
	Header  http.Header `json:"response_header"`
	At      time.Time   `json:"at"`
	Shared  explained   `json:"shared"`
	Private explained   `json:"private"`

	resp spec.Response
}

// explained is one spec.Explanation in the report, with durations in
// seconds and the lifetime's arithmetic spelled out.
type explained struct {
	Storable             bool        `json:"storable"`
	Store                reasonJSON  `json:"store"`
	Policy               string      `json:"policy"`
	LifetimeSeconds      float64     `json:"lifetime_seconds"`
	Lifetime             reasonJSON  `json:"lifetime"`
	LifetimeArithmetic   string      `json:"lifetime_arithmetic"`
	Heuristic            bool        `json:"heuristic"`
	AgeSeconds           float64     `json:"age_seconds"`
	Age                  ageJSON     `json:"age_terms"`
	TTLSeconds           float64     `json:"ttl_seconds"`
	MustValidate         *reasonJSON `json:"must_validate,omitempty"`
	StaleProhibited      *reasonJSON `json:"stale_prohibited,omitempty"`
	StaleWhileRevalidate float64     `json:"stale_while_revalidate_seconds"`
	StaleIfError         float64     `json:"stale_if_error_seconds"`
	Disconnected         reasonJSON  `json:"disconnected"`
	StaleBudget          float64     `json:"stale_budget_seconds"`
	RequestRefusesStale  *reasonJSON `json:"request_refuses_stale,omitempty"`
	Ranges               reasonJSON  `json:"ranges"`
	Validators           []string    `json:"validators"`
	Vary                 []string    `json:"vary"`
	VariantKey           string      `json:"variant_key"`
	Expires              *time.Time  `json:"expires,omitempty"`
	// Notes are the decisions spec.ExplainNotes adds (§4.1, §4.3.2,
	// §4.3.4, §4.3.5, §4.4, RFC 9110 §5.6.7).
	Notes []reasonJSON `json:"notes"`

	e spec.Explanation
}

type reasonJSON struct {
	Code    string `json:"code"`
	Text    string `json:"text"`
	Section string `json:"section"`
}

type ageJSON struct {
	DateValue             time.Time `json:"date_value"`
	AgeValue              float64   `json:"age_value"`
	ApparentAge           float64   `json:"apparent_age"`
	ResponseDelay         float64   `json:"response_delay"`
	CorrectedAgeValue     float64   `json:"corrected_age_value"`
	CorrectedInitialAge   float64   `json:"corrected_initial_age"`
	ResidentTime          float64   `json:"resident_time"`
	CurrentAge            float64   `json:"current_age"`
	RequestTime, RespTime time.Time `json:"-"`
}

func toReason(r spec.Reason) reasonJSON {
	return reasonJSON{Code: string(r.Code), Text: r.Text, Section: r.Section}
}

func explain(c *explainConfig, resp spec.Response) *report {
	req := spec.Request{Method: c.Method, URL: c.URL, Header: c.Header, HasContent: c.Content}
	rep := &report{Method: c.Method, URL: c.URL.String(), Status: resp.Status, Header: resp.Header, At: c.At, resp: resp}
	if len(c.Header) > 0 {
		rep.Request = c.Header
	}
	at := c.At
	for _, shared := range []bool{true, false} {
		opts := spec.Options{Shared: shared, TargetedField: c.Targeted, Clock: func() time.Time { return at }}
		x := convert(spec.Explain(req, resp, opts), &resp)
		x.Notes = []reasonJSON{}
		for _, n := range spec.ExplainNotes(req, resp, opts) {
			x.Notes = append(x.Notes, toReason(n))
		}
		if shared {
			rep.Shared = x
		} else {
			rep.Private = x
		}
	}
	return rep
}

func convert(e spec.Explanation, resp *spec.Response) explained {
	x := explained{
		e:                    e,
		Storable:             e.Storable,
		Store:                toReason(e.Store),
		Policy:               e.Policy,
		LifetimeSeconds:      e.Lifetime.Seconds(),
		Lifetime:             toReason(e.LifetimeReason),
		LifetimeArithmetic:   lifetimeArithmetic(e, resp),
		Heuristic:            e.Heuristic,
		AgeSeconds:           e.Age.Seconds(),
		TTLSeconds:           e.TTL.Seconds(),
		StaleWhileRevalidate: e.StaleWhileRevalidate.Seconds(),
		StaleIfError:         e.StaleIfError.Seconds(),
		Disconnected:         toReason(e.Disconnected),
		StaleBudget:          e.StaleBudget.Seconds(),
		Ranges:               toReason(e.Ranges),
		Validators:           nonNil(e.Validators),
		Vary:                 nonNil(e.Vary),
		VariantKey:           e.VariantKey,
		Age: ageJSON{
			DateValue:           e.AgeTerms.DateValue,
			AgeValue:            e.AgeTerms.AgeField.Seconds(),
			ApparentAge:         e.AgeTerms.ApparentAge.Seconds(),
			ResponseDelay:       e.AgeTerms.ResponseDelay.Seconds(),
			CorrectedAgeValue:   e.AgeTerms.CorrectedAgeValue.Seconds(),
			CorrectedInitialAge: e.AgeTerms.CorrectedInitial.Seconds(),
			ResidentTime:        e.AgeTerms.ResidentTime.Seconds(),
			CurrentAge:          e.Age.Seconds(),
			RequestTime:         resp.RequestTime,
			RespTime:            resp.ResponseTime,
		},
	}
	if e.MustValidate != nil {
		r := toReason(*e.MustValidate)
		x.MustValidate = &r
	}
	if e.StaleProhibited != nil {
		r := toReason(*e.StaleProhibited)
		x.StaleProhibited = &r
	}
	if e.RequestRefusesStale != nil {
		r := toReason(*e.RequestRefusesStale)
		x.RequestRefusesStale = &r
	}
	if !e.Expires.IsZero() {
		t := e.Expires
		x.Expires = &t
	}
	return x
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// lifetimeArithmetic shows where the freshness lifetime came from, from the
// fields the rule named by the Reason reads (RFC 9111 §4.2.1, §4.2.2).
func lifetimeArithmetic(e spec.Explanation, resp *spec.Response) string {
	h := resp.Header
	field := func(name string) string {
		if v := h.Values(name); len(v) > 0 {
			return name + ": " + strings.Join(v, ", ")
		}
		return name + " absent"
	}
	date := "Date " + orDash(h.Get("Date"))
	if h.Get("Date") == "" {
		date = "response_time (no Date)"
	}
	switch e.LifetimeReason.Code {
	case spec.ReasonSMaxage, spec.ReasonMaxAge, spec.ReasonInvalidSMaxage, spec.ReasonInvalidMaxAge:
		return field(policyField(e.Policy)) + " → " + fmtDur(e.Lifetime)
	case spec.ReasonExpires:
		return "Expires " + h.Get("Expires") + " − " + date + " = " + fmtDur(e.Lifetime)
	case spec.ReasonInvalidExpires:
		return field("Expires") + " (not an HTTP-date) → 0s"
	case spec.ReasonHeuristic:
		return strconv.FormatFloat(100*e.HeuristicFraction, 'g', -1, 64) + "% × (" + date + " − Last-Modified " +
			h.Get("Last-Modified") + "), at most " + fmtCap(e.HeuristicCap) + " = " + fmtDur(e.Lifetime)
	}
	return "no lifetime → 0s"
}

func policyField(p string) string {
	if p == "" {
		return "Cache-Control"
	}
	return p
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// fmtCap prints a heuristic cap as people write it: "24h", not "24h0m0s".
func fmtCap(d time.Duration) string {
	if d%time.Hour == 0 {
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
	return fmtDur(d)
}

// fmtDur prints whole seconds as a Go duration, and "0s" for zero.
func fmtDur(d time.Duration) string {
	if d%time.Second == 0 || d > time.Minute || d < -time.Minute {
		return d.Round(time.Second).String()
	}
	return d.Round(time.Millisecond).String()
}

// cachingFields are the response fields worth echoing before the verdict.
var cachingFields = []string{
	"Cache-Control", "CDN-Cache-Control", "Pragma", "Expires", "Date", "Age",
	"Last-Modified", "ETag", "Vary", "Set-Cookie", "Content-Range", "Surrogate-Key", "Cache-Tag",
}

func (rep *report) writeText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s → %d %s\n", rep.Method, rep.URL, rep.Status, http.StatusText(rep.Status))
	fields := cachingFields
	if p := rep.Shared.Policy; p != "" && p != "Cache-Control" && p != "CDN-Cache-Control" {
		fields = append([]string{p}, fields...) // the configured targeted field
	}
	for _, k := range fields {
		for _, v := range rep.Header.Values(k) {
			if k == "Set-Cookie" {
				v = "(present)"
			}
			fmt.Fprintf(&b, "  %s: %s\n", k, v)
		}
	}
	if len(rep.Request) > 0 {
		keys := make([]string, 0, len(rep.Request))
		for k := range rep.Request {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("request header:\n")
		for _, k := range keys {
			for _, v := range rep.Request[k] {
				if k == "Authorization" {
					v = "(present)"
				}
				fmt.Fprintf(&b, "  %s: %s\n", k, v)
			}
		}
	}
	fmt.Fprintf(&b, "at %s\n", rep.At.UTC().Format(http.TimeFormat))
	writeExplained(&b, "Shared cache (a proxy or CDN, like `cellar serve`)", &rep.Shared, rep)
	writeExplained(&b, "Private cache (a browser, or cellar.NewTransport)", &rep.Private, rep)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeExplained(b *strings.Builder, title string, x *explained, rep *report) {
	e := &x.e
	fmt.Fprintf(b, "\n== %s\n", title)
	line := func(label, format string, args ...any) {
		fmt.Fprintf(b, "  %-12s %s\n", label, fmt.Sprintf(format, args...))
	}
	more := func(format string, args ...any) {
		fmt.Fprintf(b, "  %-12s %s\n", "", fmt.Sprintf(format, args...))
	}
	verdict := "no"
	if e.Storable {
		verdict = "yes"
	}
	line("store:", "%s — %s", verdict, reasonText(e.Store))
	line("policy:", "%s", policyField(e.Policy))
	line("lifetime:", "%s — %s", fmtDur(e.Lifetime), reasonText(e.LifetimeReason))
	more("%s", x.LifetimeArithmetic)
	t := e.AgeTerms
	line("age:", "%s (RFC 9111 §4.2.3)", fmtDur(e.Age))
	more("apparent_age = max(0, response_time − date_value), in whole seconds = %s", fmtDur(t.ApparentAge))
	more("corrected_age_value = age_value %s + response_delay %s = %s", fmtDur(t.AgeField), fmtDur(t.ResponseDelay), fmtDur(t.CorrectedAgeValue))
	more("current_age = max(apparent_age, corrected_age_value) + resident_time %s = %s", fmtDur(t.ResidentTime), fmtDur(e.Age))
	switch {
	case e.TTL > 0:
		line("freshness:", "fresh for %s more (lifetime − age)", fmtDur(e.TTL))
	case e.TTL == 0:
		line("freshness:", "stale: no freshness left (lifetime − age = 0s)")
	default:
		line("freshness:", "stale by %s (lifetime − age = %s)", fmtDur(-e.TTL), fmtDur(e.TTL))
	}
	if e.MustValidate != nil {
		line("validate:", "before every use — %s", reasonText(*e.MustValidate))
	} else {
		line("validate:", "only once stale (RFC 9111 §4.2)")
	}
	switch {
	case e.StaleProhibited != nil:
		line("stale:", "never served stale — %s", reasonText(*e.StaleProhibited))
	case e.StaleWhileRevalidate > 0 || e.StaleIfError > 0:
		line("stale:", "stale-while-revalidate %s (RFC 5861 §3), stale-if-error %s (RFC 5861 §4)", fmtDur(e.StaleWhileRevalidate), fmtDur(e.StaleIfError))
	default:
		line("stale:", "only when the origin cannot be reached (origin down, below) or a request's max-stale accepts it (RFC 9111 §4.2.4, §5.2.1.2)")
	}
	if e.Disconnected.Code == spec.ReasonStaleBudget {
		line("origin down:", "served stale for up to %s past its lifetime — %s", fmtDur(e.StaleBudget), reasonText(e.Disconnected))
	} else {
		line("origin down:", "%s", reasonText(e.Disconnected))
	}
	if e.RequestRefusesStale != nil {
		line("request:", "%s", reasonText(*e.RequestRefusesStale))
	}
	line("ranges:", "%s", reasonText(e.Ranges))
	if len(e.Validators) == 0 {
		line("validators:", "none: once stale it must be fetched again in full (RFC 9111 §4.3.1)")
	} else {
		line("validators:", "%s (RFC 9111 §4.3.1)", strings.Join(e.Validators, "; "))
	}
	if len(e.Vary) == 0 {
		line("vary:", "none: one response serves every request for the URL (RFC 9111 §4.1)")
	} else {
		parts := make([]string, 0, len(e.Vary))
		for _, f := range e.Vary {
			v := "absent"
			if vals := rep.Request.Values(f); len(vals) > 0 {
				v = strings.Join(vals, ", ")
			}
			if f == "*" {
				v = "matches no later request"
			}
			parts = append(parts, fmt.Sprintf("%s (%s)", f, v))
		}
		line("vary:", "secondary key %s (RFC 9111 §4.1)", strings.Join(parts, ", "))
	}
	if !e.Expires.IsZero() {
		line("kept until:", "%s (then dropped: no use even for validation)", e.Expires.UTC().Format(http.TimeFormat))
	}
	for i, n := range x.Notes {
		label := ""
		if i == 0 {
			label = "also:"
		}
		line(label, "%s", reasonText(spec.Reason{Code: spec.ReasonCode(n.Code), Text: n.Text, Section: n.Section}))
	}
}

func reasonText(r spec.Reason) string {
	s := r.Text
	if r.Section != "" {
		s += " (" + r.Section + ")"
	}
	if r.Code != "" {
		s += " [" + string(r.Code) + "]"
	}
	return s
}
