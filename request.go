package cellar

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/cellar-http/cellar/spec"
)

// overrides are the per-request policy overrides set through the context.
type overrides struct {
	bypass      bool
	forceTTLSet bool
	forceTTL    time.Duration
	bodyKeySet  bool
	bodyKey     bool
	trace       *Trace
}

type overridesKey struct{}

func overridesFrom(ctx context.Context) overrides {
	o, _ := ctx.Value(overridesKey{}).(*overrides)
	if o == nil {
		return overrides{}
	}
	return *o
}

func withOverride(ctx context.Context, f func(*overrides)) context.Context {
	o := overridesFrom(ctx)
	f(&o)
	return context.WithValue(ctx, overridesKey{}, &o)
}

// WithBypass returns a context whose requests bypass the cache entirely:
// they are forwarded and their responses neither stored nor used to
// invalidate (Cache-Status fwd=bypass).
func WithBypass(ctx context.Context) context.Context {
	return withOverride(ctx, func(o *overrides) { o.bypass = true })
}

// WithForceTTL returns a context whose requests have their responses cached
// for ttl as Config.ForceTTL would, whatever Config.ForceTTL says; a ttl of
// zero or less turns forcing off for them. Outside the RFC: see
// Config.ForceTTL.
func WithForceTTL(ctx context.Context, ttl time.Duration) context.Context {
	return withOverride(ctx, func(o *overrides) { o.forceTTLSet, o.forceTTL = true, ttl })
}

// WithBodyKey returns a context whose requests do (on) or do not hash their
// body into the key, whatever Config.BodyKey says. Outside the RFC: see
// Config.BodyKey.
func WithBodyKey(ctx context.Context, on bool) context.Context {
	return withOverride(ctx, func(o *overrides) { o.bodyKeySet, o.bodyKey = true, on })
}

// WithTrace returns a context whose request's decision trace is written to
// t when its response is returned. t must not be read before then.
func WithTrace(ctx context.Context, t *Trace) context.Context {
	return withOverride(ctx, func(o *overrides) { o.trace = t })
}

// isBypass reports whether req must not touch the cache: WithBypass, or
// what the core says bypasses a cache (spec.Bypasses: protocol switches
// and tunnels).
func isBypass(req *http.Request, ov *overrides) bool {
	return ov.bypass || spec.Bypasses(req.Method, req.Header)
}

// misdirectedScheme reports whether server request req names, in an
// absolute-form request-target (RFC 9112 §3.2.2), a scheme its connection
// does not have: "https" over plain TCP, which RFC 9110 §7.4 calls
// misdirected, or "http" over TLS. net/http puts that scheme in req.URL,
// which keyURL keys on, while the handler behind the cache sees the
// connection (req.TLS): a client on plain HTTP would have the handler's
// answer to plain HTTP (a redirect to HTTPS) stored under the key of the
// HTTPS resource. A URL scheme set by code in front of the cache (a
// trusted proxy's X-Forwarded-Proto) leaves RequestURI origin-form ("/…"),
// and a request built in-process has none. The URL's scheme is in lower
// case whatever the client wrote ("HTTPS://", RFC 9110 §4.2.3).
func misdirectedScheme(req *http.Request) bool {
	s, target := req.URL.Scheme, req.RequestURI
	if s == "" || target == "" || target[0] == '/' {
		return false
	}
	return (s == "https") != (req.TLS != nil)
}

// keyURL returns the absolute URL the cache keys req on: req.URL, made
// absolute, with req.Host in place of its host when they differ (a reverse
// proxy preserving the client's Host, or a server request). A changed URL
// is written to buf, or to a new one when buf is nil.
func keyURL(req *http.Request, buf *url.URL) *url.URL {
	u := req.URL
	host := req.Host
	if host == "" {
		host = u.Host
	}
	scheme := u.Scheme
	if scheme == "" {
		scheme = "http"
		if req.TLS != nil {
			scheme = "https"
		}
	}
	if host == u.Host && scheme == u.Scheme {
		return u
	}
	if buf == nil {
		buf = new(url.URL)
	}
	*buf = *u
	buf.Host, buf.Scheme = host, scheme
	return buf
}

// hasContent reports whether req carries content (a body), for the core's
// fat GET rule (spec.Request.HasContent): a server request without one has
// http.NoBody, a client request a nil Body or http.NoBody. A client Body
// of unknown length (ContentLength 0 or -1) counts, even if it turns out
// empty: the cache cannot know without reading it.
func hasContent(req *http.Request) bool {
	return req.Body != nil && req.Body != http.NoBody
}

// forceTTLFor returns the forced TTL for req, if any.
func (c *Cache) forceTTLFor(req *http.Request, ov *overrides) (time.Duration, bool) {
	if ov.forceTTLSet {
		return ov.forceTTL, ov.forceTTL > 0
	}
	if c.forceTTL == nil {
		return 0, false
	}
	ttl, ok := c.forceTTL(req)
	return ttl, ok && ttl > 0
}

// bodyKeyFor reports whether req's body goes into its key.
func (c *Cache) bodyKeyFor(req *http.Request, ov *overrides) bool {
	if ov.bodyKeySet {
		return ov.bodyKey
	}
	return c.bodyKey != nil && c.bodyKey(req)
}

// errBodyTooLong means a request body meant for the key is over the limit.
var errBodyTooLong = fmt.Errorf("cellar: request body over the BodyKey limit")

// hashBody reads req's body (at most limit bytes), makes it replayable and
// returns its hash. When the body is longer, req.Body is restored to the
// whole stream and errBodyTooLong returned.
func hashBody(req *http.Request, limit int64) (string, error) {
	if req.Body == nil || req.Body == http.NoBody {
		sum := sha256.Sum256(nil)
		return hex.EncodeToString(sum[:]), nil
	}
	buf, err := io.ReadAll(io.LimitReader(req.Body, limit+1))
	if err != nil {
		return "", err
	}
	if int64(len(buf)) > limit {
		req.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf), req.Body), req.Body}
		return "", errBodyTooLong
	}
	req.Body.Close()
	req.Body = io.NopCloser(bytes.NewReader(buf))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	req.ContentLength = int64(len(buf))
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:]), nil
}

// upstreamRequest builds the request to send upstream for fwd, the request
// spec asked to forward, from the client's request req: same target (the
// URL the client used, with its Host), fwd's method and header.
func upstreamRequest(ctx context.Context, req *http.Request, fwd spec.Request) (*http.Request, error) {
	// A shallow copy with its own URL and trailer, as Request.Clone makes
	// but for the header, which fwd's replaces: cloning the client's cost
	// every miss a copy of its header for nothing.
	out := req.WithContext(ctx)
	if req.URL != nil {
		u := *req.URL
		out.URL = &u
	}
	out.Trailer = req.Trailer.Clone()
	out.TransferEncoding = slices.Clone(req.TransferEncoding)
	out.Method = fwd.Method
	out.Header = fwd.Header
	if out.Header == nil {
		out.Header = http.Header{}
	}
	if req.GetBody != nil {
		b, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		out.Body = b
	} else if req.Body != nil && req.Body != http.NoBody {
		// A request with a body the cache could not replay (a safe
		// method sending content): it goes upstream once.
		out.Body = req.Body
	}
	return out, nil
}
