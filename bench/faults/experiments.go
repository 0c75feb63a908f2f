package main

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var client = &http.Client{Transport: &http.Transport{
	MaxIdleConns: 512, MaxIdleConnsPerHost: 512, DisableCompression: true,
}}

// fetch GETs path through c and verifies the body; it returns the bytes
// that matched, the Cache-Status and the failure.
func fetch(c *cellar, path string, size int64) (int64, string, error) {
	resp, err := client.Get(c.url(path))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		io.Copy(io.Discard, resp.Body)
		return 0, resp.Header.Get("Cache-Status"), fmt.Errorf("status %d", resp.StatusCode)
	}
	u := resp.Request.URL
	n, err := verify(resp.Body, u.Path, size)
	return n, resp.Header.Get("Cache-Status"), err
}

// --- memory ---------------------------------------------------------------

func newMemoryTable() *table {
	return &table{
		title: fmt.Sprintf("Memory store: 4 concurrent misses of %s under a %s budget", *flagSize, *flagMemBudget),
		head:  []string{"binary", "body", "verified", "peak RSS (VmHWM)", "RSS 3 s after", "store bytes after", "took"},
	}
}

func runMemory(t *table, name, bin string, o *origin) error {
	size := must(*flagSize)
	for _, chunked := range []bool{false, true} {
		c, err := startCellar(bin, "--upstream", "http://"+o.addr, "--store", "memory", "--max-size", *flagMemBudget)
		if err != nil {
			return err
		}
		kind, q := "Content-Length", ""
		if chunked {
			kind, q = "chunked", "&chunked=1"
		}
		start := time.Now()
		var ok atomic.Int64
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() {
				path := fmt.Sprintf("/obj/mem-%s-%s-%d?size=%d%s", name, kind, i, size, q)
				if _, _, err := fetch(c, path, size); err == nil {
					ok.Add(1)
				} else {
					fmt.Fprintf(os.Stderr, "memory %s %s: %v\n", name, kind, err)
				}
			})
		}
		wg.Wait()
		took := time.Since(start)
		pid := c.cmd.Process.Pid
		peak := procKiB(pid, "VmHWM") << 10
		time.Sleep(3 * time.Second)
		after := procKiB(pid, "VmRSS") << 10
		stored, _ := c.metric("cellar_store_bytes")
		c.stop()
		t.rows = append(t.rows, []string{name, kind, fmt.Sprintf("%d/4", ok.Load()), mib(peak), mib(after), mib(int64(stored)), took.Round(time.Millisecond).String()})
	}
	return nil
}

// --- redis ----------------------------------------------------------------

func newRedisTable() *table {
	return &table{
		title: fmt.Sprintf("Redis store stopped (SIGSTOP) and continued: %d clients on 100 hot 1 KiB objects, %v per phase", *flagConns, *flagPhase),
		head:  []string{"binary", "phase", "req/s", "p50", "p99", "errors", "verified", "breaker open at end"},
	}
}

func runRedis(t *table, name, bin string, o *origin) error {
	dir, err := os.MkdirTemp("", "faults-redis-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	r, err := startRedis(dir)
	if err != nil {
		return err
	}
	defer r.stop()
	c, err := startCellar(bin, "--upstream", "http://"+o.addr, "--store", "redis://"+r.addr+"/0")
	if err != nil {
		return err
	}
	defer c.stop()
	path := func(k int) string { return fmt.Sprintf("/obj/hot-%s-%d?size=1024", name, k) }
	for k := range 100 {
		if _, _, err := fetch(c, path(k), 1024); err != nil {
			return fmt.Errorf("warming: %w", err)
		}
	}
	phase := func(label string) {
		var mu sync.Mutex
		var lat []time.Duration
		var errs, ok atomic.Int64
		stop := time.Now().Add(*flagPhase)
		var wg sync.WaitGroup
		for range *flagConns {
			wg.Go(func() {
				var mine []time.Duration
				for time.Now().Before(stop) {
					t0 := time.Now()
					_, _, err := fetch(c, path(rand.IntN(100)), 1024)
					mine = append(mine, time.Since(t0))
					if err != nil {
						errs.Add(1)
					} else {
						ok.Add(1)
					}
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
		}
		wg.Wait()
		slices.Sort(lat)
		q := func(p float64) string {
			if len(lat) == 0 {
				return "-"
			}
			return lat[min(len(lat)-1, int(p*float64(len(lat))))].Round(100 * time.Microsecond).String()
		}
		open := "n/a"
		if v, found := c.metric("cellar_store_breaker_open"); found {
			open = strconv.FormatFloat(v, 'f', 0, 64)
		}
		rps := float64(len(lat)) / flagPhase.Seconds()
		t.rows = append(t.rows, []string{name, label, fmt.Sprintf("%.0f", rps), q(0.5), q(0.99), strconv.FormatInt(errs.Load(), 10), strconv.FormatInt(ok.Load(), 10), open})
	}
	phase("running")
	r.signal(syscall.SIGSTOP)
	phase("stopped")
	r.signal(syscall.SIGCONT)
	phase("continued")
	return nil
}

// --- stall ----------------------------------------------------------------

func newStallTable() *table {
	return &table{
		title: "Upstream body stalls after half of 1 MiB: 4 collapsed requests",
		head:  []string{"binary", "--upstream-body-timeout", "clients cut", "time to error (min–max)", "looked complete", "prefix verified", "origin requests"},
	}
}

func runStall(t *table, name, bin string, o *origin) error {
	args := []string{"--upstream", "http://" + o.addr, "--store", "memory"}
	timeout := "none (flag unknown)"
	if supports(bin, "upstream-body-timeout") {
		args = append(args, "--upstream-body-timeout", flagStallTO.String())
		timeout = flagStallTO.String()
	}
	c, err := startCellar(bin, args...)
	if err != nil {
		return err
	}
	defer c.stop()
	const size = 1 << 20
	p := fmt.Sprintf("/stall/%s?size=%d", name, size)
	before := o.stalls.Load()
	type res struct {
		took     time.Duration
		err      error
		complete bool
		prefix   bool
	}
	results := make([]res, 4)
	var wg sync.WaitGroup
	get := func(i int) {
		defer wg.Done()
		t0 := time.Now()
		req, _ := http.NewRequest("GET", c.url(p), nil)
		cl := &http.Client{Transport: client.Transport, Timeout: *flagStallCap}
		resp, err := cl.Do(req)
		if err != nil {
			results[i] = res{took: time.Since(t0), err: err}
			return
		}
		n, err := verify(resp.Body, resp.Request.URL.Path, size)
		resp.Body.Close()
		results[i] = res{took: time.Since(t0), err: err, complete: err == nil,
			prefix: n >= size/2 && !errors.Is(err, errMismatch)}
	}
	wg.Add(1)
	go get(0)
	for o.stalls.Load() == before {
		time.Sleep(5 * time.Millisecond)
	}
	for i := 1; i < 4; i++ {
		wg.Add(1)
		go get(i)
	}
	wg.Wait()
	cut, complete, prefix := 0, 0, 0
	lo, hi := time.Duration(1<<62), time.Duration(0)
	capped := false
	for _, r := range results {
		if r.complete {
			complete++
		}
		if r.prefix {
			prefix++
		}
		if r.err != nil {
			var te interface{ Timeout() bool }
			if errors.As(r.err, &te) && te.Timeout() {
				capped = true // the harness gave up: the proxy held the client
			} else {
				cut++
			}
		}
		lo, hi = min(lo, r.took), max(hi, r.took)
	}
	span := fmt.Sprintf("%v–%v", lo.Round(10*time.Millisecond), hi.Round(10*time.Millisecond))
	if capped {
		span = fmt.Sprintf("held ≥ %v (harness gave up)", *flagStallCap)
	}
	t.rows = append(t.rows, []string{name, timeout, fmt.Sprintf("%d/4", cut), span, strconv.Itoa(complete), fmt.Sprintf("%d/4", prefix), strconv.FormatInt(o.stalls.Load()-before, 10)})
	return nil
}

// --- disk -----------------------------------------------------------------

func newDiskTable() *table {
	return &table{
		title: "Disk store: one large body under an equal budget, then misses under load",
		head:  []string{"binary", "case", "budget", "verified", "peak tmp/", "peak directory", "stored"},
	}
}

func runDisk(t *table, name, bin string, o *origin) error {
	size := must(*flagSize)
	dir, err := os.MkdirTemp("", "faults-disk-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// One body as large as the whole budget: with its metadata it cannot
	// fit, and its Content-Length says so before the first byte.
	d1 := filepath.Join(dir, "big")
	c, err := startCellar(bin, "--upstream", "http://"+o.addr, "--store", "disk:"+d1, "--max-size", *flagSize)
	if err != nil {
		return err
	}
	tmp := samplePeak(20*time.Millisecond, func() int64 { return dirSize(filepath.Join(d1, "tmp")) })
	path := fmt.Sprintf("/obj/disk-big-%s?size=%d", name, size)
	verified := 0
	if _, _, err := fetch(c, path, size); err == nil {
		verified++
	} else {
		fmt.Fprintf(os.Stderr, "disk big %s: %v\n", name, err)
	}
	peakTmp := tmp.stop()
	_, cs, err := fetch(c, path, size)
	if err == nil {
		verified++
	}
	stored := "no"
	if len(cs) > 0 && strings.Contains(cs, "; hit") {
		stored = "yes"
	}
	c.stop()
	t.rows = append(t.rows, []string{name, "one " + *flagSize + " body, 2 GETs", *flagSize, fmt.Sprintf("%d/2", verified), mib(peakTmp), "-", stored})

	// Misses under load.
	d2 := filepath.Join(dir, "load")
	c, err = startCellar(bin, "--upstream", "http://"+o.addr, "--store", "disk:"+d2, "--max-size", *flagDiskBudget)
	if err != nil {
		return err
	}
	defer c.stop()
	obj := must(*flagDiskObj)
	tmp = samplePeak(50*time.Millisecond, func() int64 { return dirSize(filepath.Join(d2, "tmp")) })
	all := samplePeak(50*time.Millisecond, func() int64 { return dirSize(d2) })
	var next, ok, bad atomic.Int64
	stop := time.Now().Add(*flagPhase)
	var wg sync.WaitGroup
	for range max(*flagConns/4, 1) {
		wg.Go(func() {
			for time.Now().Before(stop) {
				p := fmt.Sprintf("/obj/disk-load-%s-%d?size=%d", name, next.Add(1), obj)
				if _, _, err := fetch(c, p, obj); err != nil {
					bad.Add(1)
				} else {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	pt, pa := tmp.stop(), all.stop()
	t.rows = append(t.rows, []string{name, fmt.Sprintf("%d clients missing %s bodies for %v", max(*flagConns/4, 1), *flagDiskObj, *flagPhase), *flagDiskBudget,
		fmt.Sprintf("%d/%d", ok.Load(), ok.Load()+bad.Load()), mib(pt), mib(pa), "-"})
	return nil
}
