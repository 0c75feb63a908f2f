package proxy

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cellar-http/cellar"
	"github.com/cellar-http/cellar/spec"
)

// decisions keeps the last decisions in a ring, for replay, and hands new
// ones to the /decisions subscribers. Nothing on the request path waits
// for a subscriber: a full subscriber loses the decision, and counts it.
type decisions struct {
	s *Status

	seq  atomic.Uint64
	ring []ringDecision

	subsN    atomic.Int32 // len(subs), read on every request
	mu       sync.Mutex
	subs     map[*subscriber]struct{}
	maxSubs  int
	dropped  atomic.Int64
	done     chan struct{}
	doneOnce sync.Once
}

type ringDecision struct {
	mu sync.Mutex
	d  decision
}

// decision is one finished request. The fields but full are copied from
// the request (cheap, no allocation); full is set only while someone
// subscribes.
type decision struct {
	id          uint64
	at          time.Time
	method      string
	scheme      string
	host        string
	uri         string
	status      int
	cacheStatus []string
	outcome     string
	bytes       int64
	d           time.Duration
	full        *tracedDecision
}

// tracedDecision is what a subscriber gets besides: the cache's decision
// trace, and the request and response headers to explain. The headers are
// those of a finished request, which nothing writes to any more. Its
// event is built once, by the first subscriber that sends it.
type tracedDecision struct {
	trace   cellar.Trace
	reqHdr  http.Header
	respHdr http.Header
	once    sync.Once
	data    []byte
}

// subscriber is one /decisions stream.
type subscriber struct {
	ch      chan *decision
	dropped atomic.Int64
	f       filter
}

// subscriberBuffer is how many decisions a subscriber may fall behind
// before it loses some.
const subscriberBuffer = 256

func newDecisions(s *Status, n, maxSubs int) *decisions {
	return &decisions{s: s, ring: make([]ringDecision, n), subs: make(map[*subscriber]struct{}),
		maxSubs: maxSubs, done: make(chan struct{})}
}

// trace returns out with the cache asked for its decision trace, when
// someone subscribes to /decisions; otherwise out as it is, at the cost
// of one atomic load. It keeps the header maps of out (what the cache
// decided on) and of w (what the client is sent): w's is taken before the
// response starts, when net/http hands it out without a copy.
func (s *Status) trace(out *http.Request, w http.ResponseWriter) (*http.Request, *tracedDecision) {
	if s == nil || s.dec.subsN.Load() == 0 {
		return out, nil
	}
	t := &tracedDecision{reqHdr: out.Header, respHdr: w.Header()}
	return out.WithContext(cellar.WithTrace(out.Context(), &t.trace)), t
}

// record puts a finished request in the ring, and hands it to the
// subscribers.
func (dd *decisions) record(f *finished) {
	d := decision{
		id: dd.seq.Add(1), at: f.end, method: f.r.Method, scheme: "http", host: f.r.Host,
		uri: f.r.RequestURI, status: f.status, cacheStatus: f.cacheStatus,
		outcome: f.outcome, bytes: f.bytes, d: f.d, full: f.traced,
	}
	if f.r.TLS != nil {
		d.scheme = "https"
	}
	if d.uri == "" && f.r.URL != nil {
		d.uri = f.r.URL.RequestURI()
	}
	if len(d.uri) > maxKeptURI {
		// Keep no reference to a huge request line.
		d.uri = strings.Clone(d.uri[:maxKeptURI])
	}
	if len(d.host) > maxKeptURI {
		d.host = strings.Clone(d.host[:maxKeptURI])
	}
	slot := &dd.ring[d.id%uint64(len(dd.ring))]
	slot.mu.Lock()
	slot.d = d
	slot.mu.Unlock()
	if dd.subsN.Load() > 0 {
		dd.publish(&d)
	}
}

// maxKeptURI bounds the target and host kept of one decision.
const maxKeptURI = 2048

func (dd *decisions) publish(d *decision) {
	var p *decision
	dd.mu.Lock()
	defer dd.mu.Unlock()
	for sub := range dd.subs {
		if !sub.f.match(d, dd.s.cfg.Name) {
			continue
		}
		if p == nil {
			p = new(decision)
			*p = *d
		}
		select {
		case sub.ch <- p:
		default:
			sub.dropped.Add(1)
			dd.dropped.Add(1)
		}
	}
}

func (dd *decisions) subscribe(f filter) *subscriber {
	dd.mu.Lock()
	defer dd.mu.Unlock()
	if len(dd.subs) >= dd.maxSubs {
		return nil
	}
	sub := &subscriber{ch: make(chan *decision, subscriberBuffer), f: f}
	dd.subs[sub] = struct{}{}
	dd.subsN.Store(int32(len(dd.subs)))
	return sub
}

func (dd *decisions) unsubscribe(sub *subscriber) {
	dd.mu.Lock()
	defer dd.mu.Unlock()
	delete(dd.subs, sub)
	dd.subsN.Store(int32(len(dd.subs)))
}

func (dd *decisions) state() DecisionsState {
	return DecisionsState{Subscribers: int(dd.subsN.Load()), Dropped: dd.dropped.Load()}
}

func (dd *decisions) close() { dd.doneOnce.Do(func() { close(dd.done) }) }

// recent returns the decisions in the ring, oldest first.
func (dd *decisions) recent() []decision {
	out := make([]decision, 0, len(dd.ring))
	for i := range dd.ring {
		slot := &dd.ring[i]
		slot.mu.Lock()
		if slot.d.id != 0 {
			out = append(out, slot.d)
		}
		slot.mu.Unlock()
	}
	sortDecisions(out)
	return out
}

func sortDecisions(ds []decision) {
	for i := 1; i < len(ds); i++ { // nearly sorted: a rotation
		for j := i; j > 0 && ds[j].id < ds[j-1].id; j-- {
			ds[j], ds[j-1] = ds[j-1], ds[j]
		}
	}
}

// filter selects the decisions a subscriber wants: ?prefix= on the
// request target, ?status= on the cache's Cache-Status member.
type filter struct {
	prefix string
	status []string
}

func parseFilter(q url.Values) filter {
	f := filter{prefix: q.Get("prefix")}
	for _, v := range q["status"] {
		for s := range strings.SplitSeq(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				f.status = append(f.status, strings.ToLower(s))
			}
		}
	}
	return f
}

// match reports whether d passes f. A status filter matches when one of
// its values is, in the member of the Cache-Status named name (RFC 9211
// §2), a parameter ("hit", "stored", "collapsed"), a parameter with its
// value ("fwd=miss", "fwd-status=304"), a parameter's value ("stale",
// "uri-miss", "not-reusable"), or the proxy's outcome label ("hit-stale",
// "revalidated", "none") or one of its words.
func (f *filter) match(d *decision, name string) bool {
	if f.prefix != "" && !strings.HasPrefix(d.uri, f.prefix) {
		return false
	}
	if len(f.status) == 0 {
		return true
	}
	for _, want := range f.status {
		if statusHas(d.cacheStatus, name, want) || outcomeHas(d.outcome, want) {
			return true
		}
	}
	return false
}

func outcomeHas(outcome, want string) bool {
	if outcome == want {
		return true
	}
	for w := range strings.SplitSeq(outcome, "-") {
		if w == want {
			return true
		}
	}
	return false
}

// statusHas reports whether the last member named name of the
// Cache-Status values has want as a parameter, parameter=value or value.
func statusHas(values []string, name, want string) bool {
	member := ""
	for _, v := range values {
		for m := range splitMembers(v) {
			item, _, _ := strings.Cut(m, ";")
			if strings.EqualFold(strings.Trim(strings.TrimSpace(item), `"`), name) {
				member = m
			}
		}
	}
	if member == "" {
		return false
	}
	_, params, _ := strings.Cut(member, ";")
	for p := range strings.SplitSeq(params, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		k, v = strings.ToLower(k), strings.ToLower(strings.Trim(v, `"`))
		if k == want || v == want || (v != "" && k+"="+v == want) {
			return true
		}
	}
	return false
}

// splitMembers yields the members of a Cache-Status list value, split at
// commas outside quoted strings.
func splitMembers(v string) func(func(string) bool) {
	return func(yield func(string) bool) {
		quoted, start := false, 0
		for i := 0; i < len(v); i++ {
			switch v[i] {
			case '\\':
				if quoted {
					i++
				}
			case '"':
				quoted = !quoted
			case ',':
				if !quoted {
					if !yield(strings.TrimSpace(v[start:i])) {
						return
					}
					start = i + 1
				}
			}
		}
		yield(strings.TrimSpace(v[start:]))
	}
}

// decisionEvent is the JSON of one /decisions event.
type decisionEvent struct {
	ID          uint64  `json:"id"`
	Time        string  `json:"time"`
	Method      string  `json:"method"`
	URL         string  `json:"url"`
	Status      int     `json:"status"`
	CacheStatus string  `json:"cache_status"`
	Outcome     string  `json:"outcome"`
	Bytes       int64   `json:"bytes"`
	DurationMS  float64 `json:"duration_ms"`
	// Traced is false for a decision made while nobody subscribed: the
	// trace was not asked for, to cost nothing.
	Traced   bool        `json:"traced"`
	Key      string      `json:"key,omitempty"`
	Trace    []traceStep `json:"trace,omitempty"`
	Events   []string    `json:"events,omitempty"`
	Sections []string    `json:"sections,omitempty"`
	Explain  string      `json:"explain,omitempty"`
}

type traceStep struct {
	State   string `json:"state"`
	Code    string `json:"code,omitempty"`
	Text    string `json:"text,omitempty"`
	Section string `json:"section,omitempty"`
}

// data returns the JSON of d's event, built once for a traced decision.
func (dd *decisions) data(d *decision) []byte {
	if t := d.full; t != nil {
		t.once.Do(func() { t.data = dd.build(d) })
		return t.data
	}
	return dd.build(d)
}

func (dd *decisions) build(d *decision) []byte {
	ev := decisionEvent{
		ID: d.id, Time: d.at.UTC().Format(time.RFC3339Nano), Method: d.method,
		URL: d.scheme + "://" + d.host + d.uri, Status: d.status, CacheStatus: strings.Join(d.cacheStatus, ", "),
		Outcome: d.outcome, Bytes: d.bytes, DurationMS: float64(d.d.Microseconds()) / 1000,
	}
	if t := d.full; t != nil {
		ev.Traced = true
		ev.Key = t.trace.Key
		seen := map[string]bool{}
		cite := func(r spec.Reason) {
			if r.Section != "" && !seen[r.Section] {
				seen[r.Section] = true
				ev.Sections = append(ev.Sections, r.Section)
			}
		}
		for _, st := range t.trace.Steps {
			ev.Trace = append(ev.Trace, traceStep{State: st.State, Code: string(st.Reason.Code), Text: st.Reason.Text, Section: st.Reason.Section})
			cite(st.Reason)
		}
		ev.Events = t.trace.Events
		if len(t.trace.Steps) > 0 {
			var e spec.Explanation
			ev.Explain, e = dd.explain(d)
			for _, r := range []spec.Reason{e.Store, e.LifetimeReason, e.Disconnected, e.Ranges} {
				cite(r)
			}
		}
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return []byte(`{"id":` + strconv.FormatUint(d.id, 10) + `}`)
	}
	return b
}

// explain explains d's response with the core's spec.Explain, as `cellar
// explain` would at the time it was sent.
func (dd *decisions) explain(d *decision) (string, spec.Explanation) {
	t := d.full
	u, err := url.Parse(d.scheme + "://" + d.host + d.uri)
	if err != nil {
		return "", spec.Explanation{}
	}
	at := d.at
	opts := dd.s.cfg.Options
	opts.Clock = func() time.Time { return at }
	req := spec.Request{Method: d.method, URL: u, Header: redactCredentials(t.reqHdr)}
	resp := spec.Response{Status: d.status, Header: redactCredentials(t.respHdr), RequestTime: at.Add(-d.d), ResponseTime: at}
	e := spec.Explain(req, resp, opts)
	if dd.s.cfg.Explain != nil {
		return dd.s.cfg.Explain(req, resp, opts), e
	}
	return shortExplain(&e), e
}

// shortExplain renders the main conclusions of e, each with its reason.
func shortExplain(e *spec.Explanation) string {
	var b strings.Builder
	line := func(label, value string, r spec.Reason) {
		b.WriteString(label)
		if value != "" {
			b.WriteString(" " + value)
		}
		if r.Text != "" {
			if value != "" {
				b.WriteString(" —")
			}
			b.WriteString(" " + r.Text)
		}
		if r.Section != "" {
			b.WriteString(" (" + r.Section + ")")
		}
		b.WriteByte('\n')
	}
	verdict := "no"
	if e.Storable {
		verdict = "yes"
	}
	line("store:", verdict, e.Store)
	line("lifetime:", e.Lifetime.String(), e.LifetimeReason)
	line("ttl:", e.TTL.Round(time.Second).String(), spec.Reason{})
	line("origin down:", "", e.Disconnected)
	return b.String()
}

// serveDecisions streams decisions as Server-Sent Events: the recent ones
// first, then each as it is made. A "dropped" event says how many this
// stream lost for being too slow.
func (s *Status) serveDecisions(w http.ResponseWriter, r *http.Request) {
	dd := s.dec
	f := parseFilter(r.URL.Query())
	sub := dd.subscribe(f)
	if sub == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "too many /decisions streams open"})
		return
	}
	defer dd.unsubscribe(sub)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	var buf bytes.Buffer
	buf.WriteString("retry: 2000\n\n")
	var last uint64
	for _, d := range dd.recent() { // subscribed first: nothing missed in between
		if f.match(&d, s.cfg.Name) {
			writeEvent(&buf, "decision", d.id, dd.data(&d))
			last = d.id
		}
	}
	send := func() bool {
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		_, err := w.Write(buf.Bytes())
		buf.Reset()
		return err == nil && rc.Flush() == nil
	}
	if !send() {
		return
	}
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-dd.done:
			return
		case d := <-sub.ch:
			writeDropped(&buf, sub)
			if d.id > last {
				writeEvent(&buf, "decision", d.id, dd.data(d))
			}
		case <-ping.C:
			if !writeDropped(&buf, sub) {
				buf.WriteString(": ping\n\n")
			}
		}
		if !send() {
			return
		}
	}
}

func writeEvent(buf *bytes.Buffer, event string, id uint64, data []byte) {
	buf.WriteString("event: " + event + "\n")
	if id != 0 {
		buf.WriteString("id: " + strconv.FormatUint(id, 10) + "\n")
	}
	buf.WriteString("data: ")
	buf.Write(data) // JSON: no newline in it
	buf.WriteString("\n\n")
}

// writeDropped reports the decisions sub lost since it last said so.
func writeDropped(buf *bytes.Buffer, sub *subscriber) bool {
	n := sub.dropped.Swap(0)
	if n == 0 {
		return false
	}
	writeEvent(buf, "dropped", 0, []byte(`{"dropped":`+strconv.FormatInt(n, 10)+`}`))
	return true
}

// credentialFields are the fields whose values a decision event never
// shows: the explanation names the values of the fields a response varies
// on, and with Vary: Cookie or Authorization it would hand one client's
// credentials to everyone watching the status page.
var credentialFields = [...]string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie"}

// redactCredentials returns h with the values of credentialFields
// replaced, or h itself when it has none. The fields stay present: rules
// read their presence (RFC 9111 §3.5 Authorization, §7.3 Set-Cookie,
// Cellar's Cookie rule).
func redactCredentials(h http.Header) http.Header {
	out, cloned := h, false
	for _, k := range credentialFields {
		if len(h[k]) == 0 {
			continue
		}
		if !cloned {
			out, cloned = h.Clone(), true
		}
		out[k] = []string{"[redacted]"}
	}
	return out
}
