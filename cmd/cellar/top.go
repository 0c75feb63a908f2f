package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cellar-http/cellar/proxy"
)

// topConfig is what `cellar top` was asked.
type topConfig struct {
	URL      *url.URL // the admin listener's base URL
	Token    string
	Once     bool
	Interval time.Duration
}

// parseTopConfig reads the flags of `cellar top`. Its variables share the
// prefix of serve's, so that the environment that configures `cellar
// serve` (CELLAR_ADMIN, CELLAR_ADMIN_TOKEN) also points `cellar top` at it.
func parseTopConfig(args []string, getenv func(string) string, stderr io.Writer) (*topConfig, error) {
	fs := newFlagSet("top", "[flags]", stderr)
	admin := fs.String("admin", "127.0.0.1:9090", "the admin listener: `URL` (http://host:port) or host:port, as given to cellar serve --admin")
	token := fs.String("admin-token", "", "bearer `TOKEN` of the admin listener (prefer $CELLAR_ADMIN_TOKEN, as for cellar serve)")
	once := fs.Bool("once", false, "print one snapshot and exit")
	interval := fs.Duration("interval", time.Second, "time between refreshes")
	if err := parseFlags(fs, args, getenv); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	if *interval < 100*time.Millisecond {
		return nil, usagef("--interval %s is too short: at least 100ms", *interval)
	}
	u, err := adminURL(*admin)
	if err != nil {
		return nil, err
	}
	return &topConfig{URL: u, Token: *token, Once: *once, Interval: *interval}, nil
}

// adminURL accepts a URL or a listen address; an address that listens on
// every interface (":9090") is reached on loopback.
func adminURL(s string) (*url.URL, error) {
	if !strings.Contains(s, "://") {
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			return nil, usagef("--admin %q: want http://host:port or host:port", s)
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		s = "http://" + net.JoinHostPort(host, port)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("--admin %q: want http://host:port or host:port", s)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

func runTop(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return top(ctx, args, nil, stdout, stderr)
}

func top(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := parseTopConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		snap, err := fetchStatus(ctx, client, c)
		if c.Once {
			if err != nil {
				return err
			}
			_, err = io.WriteString(stdout, renderTop(c.URL.String(), snap))
			return err
		}
		var screen string
		if err != nil {
			screen = "cellar top: " + err.Error() + "\n"
		} else {
			screen = renderTop(c.URL.String(), snap)
		}
		// Home the cursor and clear the screen, then draw.
		if _, werr := io.WriteString(stdout, "\x1b[H\x1b[2J"+screen); werr != nil {
			return werr
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(c.Interval):
		}
	}
}

// fetchStatus reads the admin listener's /status.json.
func fetchStatus(ctx context.Context, client *http.Client, c *topConfig) (*proxy.StatusSnapshot, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL.String()+"/status.json", nil)
	if err != nil {
		return nil, err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return nil, fmt.Errorf("%s: 401: give the admin token with --admin-token or $CELLAR_ADMIN_TOKEN", req.URL)
	case http.StatusNotFound:
		return nil, fmt.Errorf("%s: 404: is the status page on (cellar serve --status-page)?", req.URL)
	default:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("%s: %s: %s", req.URL, resp.Status, strings.TrimSpace(string(b)))
	}
	var s proxy.StatusSnapshot
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", req.URL, err)
	}
	return &s, nil
}

// renderTop draws a snapshot as text: the last 10 seconds, the totals,
// the store, the work in flight, the hit ratio of the last 60 seconds and
// the top URLs.
func renderTop(admin string, s *proxy.StatusSnapshot) string {
	var b strings.Builder
	fmt.Fprintf(&b, "cellar top — %s   %s   up %s   %s\n\n", admin, s.Version,
		(time.Duration(s.UptimeSeconds) * time.Second).String(), s.Time.Format("15:04:05 MST"))
	var last proxy.SecondCounts
	secs := s.Seconds
	if n := len(secs); n > 1 {
		for _, x := range secs[max(0, n-11) : n-1] { // the last 10 whole seconds
			addCounts(&last, &x)
		}
	}
	fmt.Fprintf(&b, "last 10 s   %s req/s   hit ratio %s   out %s/s   5xx %d   upstream %d req, %d errors\n",
		rate(last.Requests, 10), ratio(&last), sizeText(last.BytesOut/10), last.Errors, last.Upstream, last.UpstreamErrors)
	t := &s.Totals
	fmt.Fprintf(&b, "since start %d requests   hit ratio %s   (%d hits, %d stale, %d revalidated, %d misses, %d pass)   5xx %d   out %s   upstream %d req, %d errors\n",
		t.Requests, ratio(t), t.Hits, t.Stale, t.Revalidated, t.Misses, t.Pass, t.Errors, sizeText(t.BytesOut), t.Upstream, t.UpstreamErrors)
	st := &s.Store
	use := sizeText(st.Bytes)
	if st.Budget > 0 {
		use += fmt.Sprintf(" of %s (%.1f%%)", sizeText(st.Budget), 100*float64(st.Bytes)/float64(st.Budget))
	}
	fmt.Fprintf(&b, "store       %d entries   %s   %d evictions\n", st.Entries, use, st.Evictions)
	if f := s.InFlight; f != nil {
		fmt.Fprintf(&b, "in flight   %d upstream fills   %d collapsed waiting   background %d/%d\n", f.Flights, f.Collapsed, f.Background, f.BackgroundMax)
	}
	fmt.Fprintf(&b, "decisions   %d streams open   %d dropped for slow streams\n", s.Decisions.Subscribers, s.Decisions.Dropped)
	fmt.Fprintf(&b, "hit ratio, last 60 s (one mark a second, blank without requests)\n  %s\n", sparkline(secs, 60))
	b.WriteString("\n")
	writeTop(&b, "top URLs by requests", s.TopRequests, func(n int64) string { return fmt.Sprint(n) })
	writeTop(&b, "top URLs by bytes", s.TopBytes, sizeText)
	return b.String()
}

func addCounts(dst, x *proxy.SecondCounts) {
	dst.Requests += x.Requests
	dst.Hits += x.Hits
	dst.Stale += x.Stale
	dst.Revalidated += x.Revalidated
	dst.Misses += x.Misses
	dst.Pass += x.Pass
	dst.Errors += x.Errors
	dst.BytesOut += x.BytesOut
	dst.Upstream += x.Upstream
	dst.UpstreamErrors += x.UpstreamErrors
}

func rate(n int64, secs int) string { return fmt.Sprintf("%.1f", float64(n)/float64(secs)) }

// ratio is the share of requests answered from the store.
func ratio(c *proxy.SecondCounts) string {
	if c.Requests == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(c.Hits+c.Stale+c.Revalidated)/float64(c.Requests))
}

// sparkline draws the hit ratio of the last n whole seconds, one block
// character each (from ▁ for none to █ for all).
func sparkline(secs []proxy.SecondCounts, n int) string {
	if len(secs) > 1 {
		secs = secs[max(0, len(secs)-1-n) : len(secs)-1]
	}
	marks := []rune("▁▂▃▄▅▆▇█")
	var b strings.Builder
	for _, s := range secs {
		if s.Requests == 0 {
			b.WriteRune(' ')
			continue
		}
		r := float64(s.Hits+s.Stale+s.Revalidated) / float64(s.Requests)
		b.WriteRune(marks[min(len(marks)-1, int(r*float64(len(marks))))])
	}
	return b.String()
}

func writeTop(b *strings.Builder, title string, rows []proxy.TopEntry, format func(int64) string) {
	fmt.Fprintf(b, "%s\n", title)
	if len(rows) == 0 {
		b.WriteString("  (no requests yet)\n")
	}
	for _, r := range rows {
		fmt.Fprintf(b, "  %10s  %s\n", format(r.Weight), r.Key)
	}
}

// sizeText prints a byte count in binary units.
func sizeText(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f, i := float64(n), 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}
