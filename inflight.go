package cellar

// InFlight is the upstream work a Cache has under way, for status pages
// (`cellar serve`'s admin listener, `cellar top`).
type InFlight struct {
	// Flights are the upstream exchanges (misses and validations, and the
	// fills that follow them) that other requests for the same key may
	// join.
	Flights int `json:"flights"`
	// Collapsed are the requests waiting on another request's upstream
	// exchange instead of making their own (RFC 9211 §2.6, "collapsed").
	Collapsed int `json:"collapsed"`
	// Background are the background workers busy (stale-while-revalidate
	// refreshes, RFC 5861 §3, and fills that went on after their clients
	// left), out of BackgroundMax (Config.BackgroundWorkers).
	Background    int `json:"background"`
	BackgroundMax int `json:"background_max"`
}

// InFlight returns the upstream work under way now. It walks the flights
// (one lock each): call it for a status page, not per request.
func (c *Cache) InFlight() InFlight {
	in := InFlight{Background: len(c.slots), BackgroundMax: cap(c.slots)}
	t := &c.flights
	t.mu.Lock()
	defer t.mu.Unlock()
	in.Flights = len(t.m)
	for _, f := range t.m {
		f.mu.Lock()
		n := f.waiters
		if !f.background && !f.leaderGone {
			n-- // the leader made the exchange: it is not collapsed
		}
		f.mu.Unlock()
		in.Collapsed += max(n, 0)
	}
	return in
}
