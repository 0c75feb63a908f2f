package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// cellar is one running `cellar serve`.
type cellar struct {
	cmd         *exec.Cmd
	addr, admin string
	mu          sync.Mutex
	tail        []string       // the last log lines
	msgs        map[string]int // how often each message was logged
	done        chan struct{}
	killed      atomic.Bool // set before SIGKILL: a failed read after it is a cut
}

// startCellar runs bin serve with args on loopback ports and waits until
// it listens.
func startCellar(bin string, args ...string) (*cellar, error) {
	all := append([]string{"serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
		"--log-format", "json", "--access-log=false"}, args...)
	cmd := exec.Command(bin, all...)
	cmd.Env = append(os.Environ(), "CELLAR_UPSTREAM=", "CELLAR_STORE=", "CELLAR_LISTEN=", "CELLAR_ADMIN=", "TMPDIR="+os.TempDir())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &cellar{cmd: cmd, msgs: make(map[string]int), done: make(chan struct{})}
	ready := make(chan map[string]any, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			var m map[string]any
			msg := line
			if json.Unmarshal([]byte(line), &m) == nil {
				msg, _ = m["msg"].(string)
			}
			c.mu.Lock()
			c.tail = append(c.tail, line)
			if len(c.tail) > 50 {
				c.tail = c.tail[1:]
			}
			c.msgs[msg]++
			c.mu.Unlock()
			if !sent && msg == "listening" {
				ready <- m
				sent = true
			}
		}
		io.Copy(io.Discard, stderr)
		cmd.Wait()
		close(c.done)
	}()
	select {
	case m := <-ready:
		c.addr, _ = m["addr"].(string)
		c.admin, _ = m["admin"].(string)
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("cellar exited at start:\n%s", c.logs())
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		return nil, fmt.Errorf("cellar did not start:\n%s", c.logs())
	}
}

func (c *cellar) logs() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.tail, "\n")
}

// stop sends SIGTERM and waits (then SIGKILL after 30 s).
func (c *cellar) stop() {
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
}

// kill sends SIGKILL, as a crash would end the process, and waits until
// it is gone and its log read.
func (c *cellar) kill() {
	c.killed.Store(true)
	c.cmd.Process.Kill()
	<-c.done
}

// mentions returns how many log lines had a message containing one of
// words (matched in the message alone, not in its attributes, which hold
// paths).
func (c *cellar) mentions(words ...string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for msg, count := range c.msgs {
		for _, w := range words {
			if strings.Contains(msg, w) {
				n += count
				break
			}
		}
	}
	return n
}

func (c *cellar) url(path string) string { return "http://" + c.addr + path }

// procKiB reads a field of /proc/PID/status in KiB (VmRSS, VmHWM).
func procKiB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return -1
}

// metric returns the sum of the samples of a series on the admin /metrics.
func (c *cellar) metric(series string) (float64, bool) {
	resp, err := http.Get("http://" + c.admin + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	sum, found := 0.0, false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, series+" ") || strings.HasPrefix(line, series+"{") {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
			found = true
		}
	}
	return sum, found
}

// supports reports whether bin's serve knows flag (a baseline may not).
func supports(bin, flag string) bool {
	out, _ := exec.Command(bin, "serve", "--help").CombinedOutput()
	return strings.Contains(string(out), "--"+flag+" ")
}

// redisServer is a redis-server on a free loopback port, keeping nothing on
// disk.
type redisServer struct {
	cmd  *exec.Cmd
	addr string
}

func startRedis(dir string) (*redisServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no")
	cmd.Stdout, _ = os.Create(filepath.Join(dir, "redis.log"))
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &redisServer{cmd: cmd, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	for range 500 {
		if conn, err := net.Dial("tcp", r.addr); err == nil {
			conn.Write([]byte("PING\r\n"))
			buf := make([]byte, 7)
			conn.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := conn.Read(buf)
			conn.Close()
			if strings.HasPrefix(string(buf[:n]), "+PONG") {
				return r, nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.stop()
	return nil, fmt.Errorf("redis-server on %s did not answer", r.addr)
}

func (r *redisServer) signal(s syscall.Signal) { r.cmd.Process.Signal(s) }

func (r *redisServer) stop() {
	r.cmd.Process.Signal(syscall.SIGCONT)
	r.cmd.Process.Kill()
	r.cmd.Wait()
}

// dirSize returns the bytes of the regular files under dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// peakSampler records the largest value f returns, every interval, until
// stopped.
type peakSampler struct {
	stopc chan struct{}
	done  chan int64
}

func samplePeak(interval time.Duration, f func() int64) *peakSampler {
	s := &peakSampler{stopc: make(chan struct{}), done: make(chan int64, 1)}
	go func() {
		peak := f()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.stopc:
				s.done <- max(peak, f())
				return
			case <-t.C:
				peak = max(peak, f())
			}
		}
	}()
	return s
}

func (s *peakSampler) stop() int64 {
	close(s.stopc)
	return <-s.done
}
