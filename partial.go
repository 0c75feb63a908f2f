package cellar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
)

// partial combines stored partial responses into one (RFC 9111 §3.4) and
// goes on answering the request with the combined response.
func (ex *exchange) partial(s spec.PartialUpdate) (*http.Response, error) {
	combined, err := ex.combine(s)
	if err != nil {
		// The parts cannot be read or the result cannot be written: answer
		// as if they were not stored.
		ex.c.log.WarnContext(ex.ctx, "cellar: combining partial responses failed", "key", ex.key, "err", err)
		ex.trace.event("combining partial responses failed: " + err.Error())
		for _, p := range s.Parts {
			ex.dropPair(p.ID)
		}
		if errors.Is(err, store.ErrUnavailable) {
			return ex.storeFailed("combine", err)
		}
		return ex.decide()
	}
	next := s.Next(combined)
	ex.trace.add(next)
	switch n := next.(type) {
	case spec.FromCache:
		return ex.fromCache(n)
	case spec.CacheMiss:
		return ex.miss(n)
	case spec.NeedRevalidation:
		return ex.forward(pending{reval: &n})
	}
	return nil, fmt.Errorf("cellar: unexpected state %T", next)
}

// combine writes the union of the parts' bodies as a new entry and returns
// its pair. The parts are then made to expire, since the store contract
// removes whole keys only (Delete), not single variants.
func (ex *exchange) combine(s spec.PartialUpdate) (spec.Pair, error) {
	c := ex.c
	ctx := context.WithoutCancel(ex.ctx)
	if len(s.Parts) == 0 || len(s.Parts) != len(s.Ranges) {
		return spec.Pair{}, errors.New("cellar: partial update without parts")
	}
	byID := make(map[string]store.Entry, len(ex.entries))
	for _, e := range ex.entries {
		byID[e.ID] = e
	}
	bodies := make([]store.Body, len(s.Parts))
	defer func() {
		for _, b := range bodies {
			if b != nil {
				b.Close()
			}
		}
	}()
	start, end := s.Ranges[0].Start, s.Ranges[0].Start
	var expires = byID[s.Parts[0].ID].Expires
	for i, p := range s.Parts {
		b, err := c.store.Open(ctx, ex.key, p.ID)
		if err != nil {
			return spec.Pair{}, err
		}
		if b.Size() < s.Ranges[i].Length {
			return spec.Pair{}, fmt.Errorf("cellar: stored part %d holds %d bytes, not %d: %w", i, b.Size(), s.Ranges[i].Length, store.ErrCorrupt)
		}
		bodies[i] = b
		start = min(start, s.Ranges[i].Start)
		end = max(end, s.Ranges[i].Start+s.Ranges[i].Length)
		if e := byID[p.ID].Expires; e.IsZero() || (!expires.IsZero() && e.After(expires)) {
			expires = e
		}
	}
	e := store.Entry{
		Key:     ex.key,
		Variant: s.Variant,
		Pair:    spec.Pair{Request: s.Parts[0].Request, Response: s.Combined},
		Tags:    tagsOf(s.Combined.Header),
		Expires: expires,
	}
	w, err := c.store.Create(ctx, e)
	if err != nil {
		return spec.Pair{}, err
	}
	for pos := start; pos < end; {
		// The part covering pos that reaches furthest.
		best := -1
		for i, r := range s.Ranges {
			if r.Start <= pos && pos < r.Start+r.Length && (best < 0 || r.Start+r.Length > s.Ranges[best].Start+s.Ranges[best].Length) {
				best = i
			}
		}
		if best < 0 {
			w.Abort()
			return spec.Pair{}, fmt.Errorf("cellar: the parts leave a gap at byte %d", pos)
		}
		r := s.Ranges[best]
		n := r.Start + r.Length - pos
		if _, err := io.Copy(w, io.NewSectionReader(bodies[best], pos-r.Start, n)); err != nil {
			w.Abort()
			return spec.Pair{}, err
		}
		pos += n
	}
	committed, err := w.Commit()
	if err != nil {
		return spec.Pair{}, err
	}
	c.metrics.Stored(committed.Size)
	now := c.now()
	var gone []store.Entry
	for _, p := range s.Parts {
		if old, ok := byID[p.ID]; ok && old.Variant != s.Variant {
			old.Expires = now
			gone = append(gone, old)
		}
	}
	if len(gone) > 0 {
		if err := c.store.Update(ctx, ex.key, gone); err != nil {
			c.log.DebugContext(ex.ctx, "cellar: expiring combined parts failed", "key", ex.key, "err", err)
		}
	}
	pair := committed.Pair
	pair.ID = committed.ID
	return pair, nil
}

// miss forwards a miss, or first completes a stored partial response when
// the core asks for only its missing end (RFC 9111 §3.4).
func (ex *exchange) miss(m spec.CacheMiss) (*http.Response, error) {
	if m.Completes != nil {
		if ex.completed || m.Completes.Length > ex.c.completionLimit() {
			// Tried once already, or too long to hold the client for:
			// the client's own request goes upstream.
			m = m.WithoutCompletion()
		} else {
			ex.completed = true
			if err := ex.complete(m); err != nil {
				ex.trace.event("completing the stored partial response failed: " + err.Error())
				m = m.WithoutCompletion()
			} else {
				ex.trace.event("stored the missing part: looking up again")
				if err := ex.lookup(); err != nil {
					return ex.storeFailed("lookup", err)
				}
				return ex.decide()
			}
		}
	}
	return ex.forward(pending{miss: &m})
}

// completionLimit bounds the missing part a request waits for before its
// first byte: the detached fill limit, since the part is read whole.
func (c *Cache) completionLimit() int64 {
	return max(0, c.detachLimit)
}

// errNotTheMissingPart means the origin did not answer a completion with
// the part asked for (a changed representation comes back whole).
var errNotTheMissingPart = errors.New("cellar: the response is not the missing part")

// complete sends the request for the missing part of a stored partial
// response and stores the part, whole, when the origin sends exactly it.
func (ex *exchange) complete(m spec.CacheMiss) error {
	c := ex.c
	hreq, err := ex.upstreamRequest(ex.ctx, m.Forward)
	if err != nil {
		return err
	}
	t0 := c.now()
	resp, err := ex.send(hreq)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sresp := ex.specResponse(resp, t0, c.now())
	n, ok := m.Next(sresp).(spec.StoreAndUse)
	if !ok || !m.Completed(sresp) {
		discardBody(resp)
		return errNotTheMissingPart
	}
	ex.trace.add(n)
	w, err := c.store.Create(ex.ctx, store.Entry{Key: n.Key, Variant: n.Variant, Pair: n.Pair, Expires: n.Expires, Tags: tagsOf(n.Pair.Response.Header)})
	if err != nil {
		return err
	}
	written, err := io.Copy(w, io.LimitReader(resp.Body, n.ExpectedLength+1))
	if err == nil && written != n.ExpectedLength {
		err = fmt.Errorf("%w (%d of %d bytes)", errLengthMismatch, written, n.ExpectedLength)
	}
	if err != nil {
		w.Abort()
		c.metrics.Aborted("completion")
		return err
	}
	e, err := w.Commit()
	if err != nil {
		return err
	}
	c.metrics.Stored(e.Size)
	c.flights.shard(ex.key).Add(1) // something was stored: waiting lookups look again
	return nil
}
