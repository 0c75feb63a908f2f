package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestLoad drives the cellar binary with 1,000 concurrent connections on
// loopback for 30 s, hits and misses mixed, and reports requests/s, errors
// and the proxy's peak RSS. It runs only when asked:
//
//	CELLAR_LOAD=1 go test -run TestLoad -v -timeout 5m ./cmd/cellar
//
// CELLAR_LOAD_CONNS, CELLAR_LOAD_DURATION (a Go duration), CELLAR_LOAD_STORE
// (a --store value; default disk in a temporary directory) and
// CELLAR_LOAD_MAX_SIZE (--max-size; default 16MiB, small enough that misses
// force evictions) change the run. Every response's body is checked against
// the URL it answers; any transport error, unexpected status or wrong body
// fails the test, and so does a hot URL no longer served from the cache
// afterwards (a lost entry).
func TestLoad(t *testing.T) {
	if os.Getenv("CELLAR_LOAD") == "" {
		t.Skip("set CELLAR_LOAD=1 to run the load test")
	}
	conns := envInt(t, "CELLAR_LOAD_CONNS", 1000)
	duration := 30 * time.Second
	if v := os.Getenv("CELLAR_LOAD_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		duration = d
	}
	storeFlag := os.Getenv("CELLAR_LOAD_STORE")
	if storeFlag == "" {
		storeFlag = "disk:" + t.TempDir()
	}
	maxSize := os.Getenv("CELLAR_LOAD_MAX_SIZE")
	if maxSize == "" {
		maxSize = "16MiB"
	}
	const hot = 200          // URLs that should stay cached
	const bodySize = 4 << 10 // bytes per response
	const missShare = 0.2    // fraction of requests to new URLs

	var originReqs atomic.Int64
	origin := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		originReqs.Add(1)
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Content-Length", strconv.Itoa(bodySize))
		_, _ = io.WriteString(w, bodyFor(r.URL.Path, bodySize))
	}))
	origin.Config.ReadHeaderTimeout = 10 * time.Second
	origin.Start()
	defer origin.Close()

	c := startCellar(t, "--upstream", origin.URL, "--store", storeFlag, "--max-size", maxSize, "--access-log=false")
	pid := c.cmd.Process.Pid

	tr := &http.Transport{MaxConnsPerHost: conns, MaxIdleConnsPerHost: conns, MaxIdleConns: conns, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	// Warm the hot set so that its entries exist before the storm.
	for i := range hot {
		if err := check(client, c.url("/hot/"+strconv.Itoa(i)), bodySize); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var reqs, hits, errs atomic.Int64
	var missSeq atomic.Int64
	var firstErr sync.Once
	var peak atomic.Int64
	go func() { // sample the proxy's RSS
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			if v := procStatus(pid, "VmRSS"); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for ctx.Err() == nil {
				var path string
				if rng.Float64() < missShare {
					path = "/miss/" + strconv.FormatInt(missSeq.Add(1), 10)
				} else {
					path = "/hot/" + strconv.Itoa(rng.IntN(hot))
				}
				req, _ := http.NewRequestWithContext(ctx, "GET", c.url(path), nil)
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() != nil {
						return // the run ended mid-request
					}
					errs.Add(1)
					firstErr.Do(func() { t.Errorf("GET %s: %v", path, err) })
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if ctx.Err() != nil && err != nil {
					return
				}
				reqs.Add(1)
				switch {
				case err != nil, resp.StatusCode != 200, string(body) != bodyFor(path, bodySize):
					errs.Add(1)
					firstErr.Do(func() { t.Errorf("GET %s: status %d, %d bytes, err %v", path, resp.StatusCode, len(body), err) })
				case strings.Contains(resp.Header.Get("Cache-Status"), "hit"):
					hits.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	// No lost entries: the hot set is still served from the cache (it was
	// used all along, so LRU eviction must have kept it).
	lost := 0
	for i := range hot {
		resp, err := client.Get(c.url("/hot/" + strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
			lost++
		}
	}
	hwm := procStatus(pid, "VmHWM")
	storeBytes := c.metric("cellar_store_bytes")
	evictions := c.metric("cellar_store_evictions_total")
	n := reqs.Load()
	t.Logf("load: %d connections for %v against %s (--max-size %s)", conns, elapsed.Round(time.Millisecond), storeFlag, maxSize)
	t.Logf("load: %d requests, %.0f requests/s, %d errors, %.1f%% hits, %d origin requests",
		n, float64(n)/elapsed.Seconds(), errs.Load(), 100*float64(hits.Load())/float64(max(n, 1)), originReqs.Load())
	t.Logf("load: proxy peak RSS %.1f MiB (sampled %.1f MiB), store %.1f MiB, %v evictions, %d of %d hot entries lost",
		float64(hwm)/1024, float64(peak.Load())/1024, storeBytes/(1<<20), evictions, lost, hot)
	if errs.Load() > 0 {
		t.Errorf("%d errors", errs.Load())
	}
	if lost > 0 {
		t.Errorf("%d hot entries no longer cached", lost)
	}
	if err := c.stop(syscall.SIGTERM); err != nil {
		t.Errorf("exit: %v", err)
	}
}

func check(client *http.Client, url string, size int) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || len(b) != size {
		return fmt.Errorf("GET %s: %d, %d bytes", url, resp.StatusCode, len(b))
	}
	return nil
}

// bodyFor is the body the origin sends for path: the path repeated to size,
// so a body served for the wrong URL is noticed.
func bodyFor(path string, size int) string {
	return strings.Repeat(path+"\n", size/(len(path)+1)+1)[:size]
}

// procStatus returns a "kB" field of /proc/PID/status (VmRSS, VmHWM), or 0.
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}
