package main

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// --- kill -----------------------------------------------------------------

// The kill experiment crashes `cellar serve` (SIGKILL: no Close, no
// deferred work, the page cache kept) under load, again and again, on one
// disk store directory. A crash may cut the responses in flight, but a
// client must never get a response that completed (its whole
// Content-Length, or its last chunk) with bytes or a length other than the
// origin's, and the store must reopen every time.

// killSizes straddle the disk store's inline limit (16 KiB: the body is
// kept in the index log) and go up to bodies in files of their own.
var killSizes = []int64{100, 2 << 10, 9 << 10, 16 << 10, 16<<10 + 1, 64 << 10, 300 << 10, 1 << 20, 2 << 20}

// killAges are the keys' max-age in seconds: most go stale within the
// run, so that misses (commits) go on between the kills, and the rest stay
// fresh across restarts, so that hits after a restart come from the disk.
var killAges = []int{1, 2, 30}

const killKeyCount = 300 // about 113 MiB of bodies, under the budget

// killKey is one object of the load.
type killKey struct {
	url  string // path and query
	path string // the path alone, which the body's bytes derive from
	size int64
}

// killKeys returns every combination of size, age and framing (with
// Content-Length or chunked), over and over.
func killKeys(name string) []killKey {
	keys := make([]killKey, killKeyCount)
	for i := range keys {
		size := killSizes[i%len(killSizes)]
		age := killAges[i/len(killSizes)%len(killAges)]
		q := ""
		if i/(len(killSizes)*len(killAges))%2 == 1 {
			q = "&chunked=1"
		}
		path := fmt.Sprintf("/obj/kill-%s-%d", name, i)
		keys[i] = killKey{url: fmt.Sprintf("%s?size=%d&maxage=%d%s", path, size, age, q), path: path, size: size}
	}
	return keys
}

// killClient gives up on a response after 30 s: a proxy that holds a
// client that long is a failure, not something to wait for.
var killClient = &http.Client{Transport: client.Transport, Timeout: 30 * time.Second}

// errCorrupt marks a response that completed but is not the origin's body.
var errCorrupt = errors.New("CORRUPT")

// fetchKey GETs key through c, verifies it, and reports whether it was a
// hit. A response whose framing says it is complete but whose bytes or
// length differ is errCorrupt; so are wrong bytes before a cut. Any other
// error is returned as it is: a cut, if c was killed.
func fetchKey(c *cellar, key killKey) (hit bool, err error) {
	req, err := http.NewRequest("GET", c.url(key.url), nil)
	if err != nil {
		return false, err
	}
	// Every restart listens on another port, and the cache key holds the
	// request's Host: one Host for all keeps the keys across restarts.
	req.Host = "kill.test"
	resp, err := killClient.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	cs := resp.Header.Get("Cache-Status")
	if resp.StatusCode != 200 {
		io.Copy(io.Discard, resp.Body)
		return false, fmt.Errorf("status %d (Cache-Status %q)", resp.StatusCode, cs)
	}
	if resp.ContentLength >= 0 && resp.ContentLength != key.size {
		return false, fmt.Errorf("%w: Content-Length %d of a %d-byte body (Cache-Status %q)", errCorrupt, resp.ContentLength, key.size, cs)
	}
	n, err := verify(resp.Body, key.path, key.size)
	if errors.Is(err, errMismatch) || errors.Is(err, errLength) {
		return false, fmt.Errorf("%w: %w (Cache-Status %q, Content-Length %d)", errCorrupt, err, cs, resp.ContentLength)
	}
	if err != nil {
		return false, fmt.Errorf("after %d of %d bytes: %w", n, key.size, err)
	}
	return strings.Contains(cs, "; hit"), nil
}

// epoch is one cellar process, between a start and its kill.
type epoch struct {
	n    int
	c    *cellar
	seen sync.Map // keys requested of it
}

// killRun is one binary's run of the experiment.
type killRun struct {
	bin  string
	args []string
	keys []killKey
	cur  atomic.Pointer[epoch] // nil while cellar is down

	// Counted by the clients.
	verified, hits, firstHits, cut, corrupt, other atomic.Int64
	reported                                       atomic.Int64

	// Counted by the goroutine that kills and restarts.
	epochs, kills, failed, exited     int
	noticed, torn, recovered, damaged int
	dropped                           int
	sweepOK, sweepHits                int
}

func newKillTable() *table {
	return &table{
		title: fmt.Sprintf("Disk store with its memory tier, killed (SIGKILL) under load and restarted on the same directory: %d clients on %d keys of 100 B–2 MiB, every 200–800 ms",
			max(*flagConns/2, 1), killKeyCount),
		head: []string{"binary", "kills", "verified", "of which hits", "hits on a key's first request after a restart",
			"cut by kills", "CORRUPT", "other errors", "restarts failed", "restarts: crash noticed / torn tail cut / recovered store",
			"damaged-log warnings", "entries dropped as bad", "final sweep verified (hits)"},
		notes: []string{
			"Cut: a connection error or a body short of its Content-Length or last chunk, from a process that was being killed (expected). " +
				"CORRUPT: a response that completed, or was cut, with bytes other than the origin's, or that completed at another length (must be 0). " +
				"A hit on a key's first request after a restart came from the disk, since the memory tier starts empty.",
		},
	}
}

func runKill(t *table, name, bin string, o *origin) error {
	if *flagKills < 1 {
		return fmt.Errorf("-kills %d: want at least one", *flagKills)
	}
	dir, err := os.MkdirTemp("", "faults-kill-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// No --hot-size: the default memory tier is in front of the disk.
	k := &killRun{bin: bin, keys: killKeys(name),
		args: []string{"--upstream", "http://" + o.addr, "--store", "disk:" + dir, "--max-size", *flagKillBudget}}
	if err := k.start(); err != nil {
		return fmt.Errorf("first start, on an empty directory: %w", err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range max(*flagConns/2, 1) {
		wg.Go(func() { k.client(stop) })
	}
	k.killLoop(time.Now().Add(*flagKillCap))
	close(stop)
	wg.Wait()
	// Once more, without load, and every key once.
	if err := k.start(); err != nil {
		k.failed++
		fmt.Fprintf(os.Stderr, "kill %s: the restart after the last kill failed: %v\n", name, err)
	} else {
		k.sweep(name)
		e := k.cur.Swap(nil)
		e.c.stop()
		k.tally(e)
	}
	t.rows = append(t.rows, k.row(name))
	switch {
	case k.corrupt.Load() > 0:
		return fmt.Errorf("%d CORRUPT responses", k.corrupt.Load())
	case k.failed > 0:
		return fmt.Errorf("%d restarts failed", k.failed)
	case k.exited > 0:
		return fmt.Errorf("cellar exited on its own %d times", k.exited)
	case k.other.Load() > 0:
		// A cut or an error from a process nobody was killing.
		return fmt.Errorf("%d responses failed with no kill to explain them", k.other.Load())
	case k.sweepOK < len(k.keys):
		return fmt.Errorf("final sweep: %d of %d keys verified", k.sweepOK, len(k.keys))
	}
	return nil
}

// start runs cellar on the directory and waits until it answers.
func (k *killRun) start() error {
	c, err := startCellar(k.bin, k.args...)
	if err != nil {
		return err
	}
	resp, err := killClient.Get("http://" + c.admin + "/readyz")
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			err = fmt.Errorf("/readyz: status %d", resp.StatusCode)
		}
	}
	if err != nil {
		c.kill()
		return fmt.Errorf("%w\n%s", err, c.logs())
	}
	k.epochs++
	k.cur.Store(&epoch{n: k.epochs, c: c})
	return nil
}

// killLoop kills cellar at a random moment 200–800 ms after it answers,
// -kills times, restarting it after every kill but the last.
func (k *killRun) killLoop(deadline time.Time) {
	for k.kills < *flagKills && time.Now().Before(deadline) {
		if k.kills > 0 {
			if err := k.start(); err != nil {
				k.failed++
				fmt.Fprintf(os.Stderr, "kill: restart %d failed: %v\n", k.kills, err)
				return
			}
		}
		time.Sleep(200*time.Millisecond + rand.N(600*time.Millisecond))
		e := k.cur.Swap(nil)
		select {
		case <-e.c.done:
			k.exited++
			fmt.Fprintf(os.Stderr, "kill: cellar exited before it was killed:\n%s\n", e.c.logs())
		default:
		}
		e.c.kill()
		k.kills++
		k.tally(e)
	}
}

// tally counts what a process that has ended logged about its store.
func (k *killRun) tally(e *epoch) {
	c := e.c
	// The first process, on an empty directory, finds no clean-shutdown
	// marker either.
	if e.n > 1 && c.mentions("ended without Close") > 0 {
		k.noticed++
	}
	if c.mentions("torn") > 0 {
		k.torn++
	}
	if c.mentions("recovered store") > 0 {
		k.recovered++
	}
	if n := c.mentions("damaged", "dropping the entries"); n > 0 {
		k.damaged++
		fmt.Fprintf(os.Stderr, "kill: process %d logged a damaged log:\n%s\n", e.n, c.logs())
	}
	k.dropped += c.mentions("dropping corrupt entry", "wrong size", "unreadable")
}

// client fetches random keys until stop, from whichever process is up.
func (k *killRun) client(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		e := k.cur.Load()
		if e == nil {
			time.Sleep(5 * time.Millisecond) // down between a kill and its restart
			continue
		}
		key := k.keys[rand.IntN(len(k.keys))]
		_, again := e.seen.LoadOrStore(key.url, true)
		k.record(e, key, !again)
	}
}

// record fetches key from e and counts the outcome.
func (k *killRun) record(e *epoch, key killKey, first bool) {
	hit, err := fetchKey(e.c, key)
	switch {
	case err == nil:
		k.verified.Add(1)
		if hit {
			k.hits.Add(1)
			if first {
				k.firstHits.Add(1)
			}
		}
	case errors.Is(err, errCorrupt):
		k.corrupt.Add(1)
		k.report(e, key, err)
	case e.c.killed.Load():
		k.cut.Add(1)
	default:
		k.other.Add(1)
		k.report(e, key, err)
	}
}

// report prints the first failures in full, enough to reproduce them.
func (k *killRun) report(e *epoch, key killKey, err error) {
	if k.reported.Add(1) <= 10 {
		fmt.Fprintf(os.Stderr, "kill: process %d (killed: %v), GET %s: %v\n", e.n, e.c.killed.Load(), key.url, err)
	}
}

// sweep fetches every key once from the process started after the last
// kill.
func (k *killRun) sweep(name string) {
	e := k.cur.Load()
	for _, key := range k.keys {
		hit, err := fetchKey(e.c, key)
		if err != nil {
			fmt.Fprintf(os.Stderr, "kill %s: final sweep, GET %s: %v\n", name, key.url, err)
			continue
		}
		k.sweepOK++
		if hit {
			k.sweepHits++
		}
	}
}

func (k *killRun) row(name string) []string {
	return []string{name, fmt.Sprint(k.kills), fmt.Sprint(k.verified.Load()), fmt.Sprint(k.hits.Load()), fmt.Sprint(k.firstHits.Load()),
		fmt.Sprint(k.cut.Load()), fmt.Sprint(k.corrupt.Load()), fmt.Sprint(k.other.Load()), fmt.Sprint(k.failed),
		fmt.Sprintf("%d / %d / %d of %d", k.noticed, k.torn, k.recovered, k.epochs-1),
		fmt.Sprint(k.damaged), fmt.Sprint(k.dropped),
		fmt.Sprintf("%d/%d (%d)", k.sweepOK, len(k.keys), k.sweepHits)}
}
