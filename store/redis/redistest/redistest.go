// Package redistest starts real redis-server processes for tests: a
// standalone server on a free loopback port, or a three-node cluster.
//
// Servers keep nothing on disk (no RDB, no AOF), bind 127.0.0.1 only, live in
// a t.TempDir() and are killed when the test ends. When redis-server (or, for
// a cluster, redis-cli) is not installed the test is skipped, except on CI
// (CI=true) where a missing server is a failure: CI must install it
// (apt-get install -y redis-server).
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a server (or a cluster) may take to answer.
const startTimeout = 10 * time.Second

// Server is one redis-server process.
type Server struct {
	// Addr is "127.0.0.1:Port".
	Addr string
	Port int

	tb      testing.TB
	dir     string
	args    []string
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	logFile *os.File
}

// Require skips tb (or fails it on CI) unless every named binary is on PATH.
func Require(tb testing.TB, bins ...string) {
	tb.Helper()
	for _, bin := range bins {
		if _, err := exec.LookPath(bin); err != nil {
			msg := bin + " not installed: apt-get install -y redis-server"
			if os.Getenv("CI") == "true" {
				tb.Fatal(msg)
			}
			tb.Skip(msg)
		}
	}
}

// Start starts a standalone redis-server on a free loopback port, waits until
// it answers PING and stops it when tb ends. Extra arguments are passed to
// redis-server as given (e.g. "--maxmemory", "10mb").
func Start(tb testing.TB, extra ...string) *Server {
	tb.Helper()
	Require(tb, "redis-server")
	port := freePort(tb, false)
	return start(tb, port, tb.TempDir(), extra)
}

func start(tb testing.TB, port int, dir string, extra []string) *Server {
	tb.Helper()
	s := &Server{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Port: port,
		tb:   tb,
		dir:  dir,
		args: append([]string{
			"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1",
			"--save", "",
			"--appendonly", "no",
			"--dir", dir,
			"--daemonize", "no",
		}, extra...),
	}
	tb.Cleanup(s.Stop)
	if err := s.launch(); err != nil {
		tb.Fatal(err)
	}
	return s
}

// launch runs the process and waits for PING.
func (s *Server) launch() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return fmt.Errorf("redistest: %s already running", s.Addr)
	}
	logf, err := os.OpenFile(filepath.Join(s.dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command("redis-server", s.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("redistest: start redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.cmd, s.exited, s.logFile = cmd, exited, logf

	deadline := time.Now().Add(startTimeout)
	for {
		reply, err := Do(s.Addr, "PING")
		if err == nil && reply == "PONG" {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("redistest: redis-server on %s exited at start:\n%s", s.Addr, s.Log())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: redis-server on %s did not answer PING: %v\n%s", s.Addr, err, s.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop kills the server (SIGKILL, as a crash would) and waits for it to exit.
// It is safe to call more than once; the data is lost.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGCONT) // a paused process dies too
	s.cmd.Process.Kill()
	<-s.exited
	s.logFile.Close()
	s.cmd = nil
}

// Pause stops the server process (SIGSTOP) without closing its sockets, as
// a hung server would; Resume continues it.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume continues a paused server.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.cmd.Process.Signal(sig)
	}
}

// Restart starts a stopped server again on the same port (and empty).
func (s *Server) Restart() {
	s.tb.Helper()
	if err := s.launch(); err != nil {
		s.tb.Fatal(err)
	}
}

// Log returns what the server wrote to its log so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	return string(b)
}

// Do sends one command to the server and returns its reply.
func (s *Server) Do(args ...string) (string, error) { return Do(s.Addr, args...) }

// Cluster is a three-master Redis Cluster without replicas.
type Cluster struct {
	Nodes []*Server
}

// Addrs returns the address of every node.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr
	}
	return addrs
}

// StartCluster starts three cluster-enabled redis-server processes, joins
// them with `redis-cli --cluster create` (16384 slots split three ways, no
// replicas) and waits until every node reports cluster_state:ok.
func StartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	Require(tb, "redis-server", "redis-cli")
	c := &Cluster{}
	for range 3 {
		port := freePort(tb, true)
		dir := tb.TempDir()
		c.Nodes = append(c.Nodes, start(tb, port, dir, []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			// Long enough that a loaded machine never looks like a failure.
			"--cluster-node-timeout", "15000",
		}))
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command("redis-cli", args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(startTimeout)
	for _, n := range c.Nodes {
		for {
			info, err := n.Do("CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("redistest: cluster node %s not ok: %v\n%s", n.Addr, err, info)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return c
}

// freePort returns a loopback TCP port nobody listens on. With bus set, the
// cluster bus port (port+10000) must be free too.
func freePort(tb testing.TB, bus bool) int {
	tb.Helper()
	for range 200 {
		port := 20000 + rand.IntN(30000)
		if !portFree(port) || bus && !portFree(port+10000) {
			continue
		}
		return port
	}
	tb.Fatal("redistest: no free port")
	return 0
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// Do sends one command to addr over a fresh connection (RESP2) and returns
// its reply: simple and bulk strings as they are, integers in decimal, arrays
// as their elements joined by newlines. An error reply is returned as an
// error.
func Do(addr string, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return "", err
	}
	return readReply(bufio.NewReader(conn))
}

func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("redistest: empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", err
		}
		parts := make([]string, 0, max(n, 0))
		for range n {
			p, err := readReply(r)
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, "\n"), nil
	}
	return "", fmt.Errorf("redistest: unexpected reply %q", line)
}

// CommandStats returns the number of calls per command (lower case, e.g.
// "evalsha") from INFO commandstats.
func CommandStats(addr string) (map[string]int64, error) {
	info, err := Do(addr, "INFO", "commandstats")
	if err != nil {
		return nil, err
	}
	stats := map[string]int64{}
	for line := range strings.SplitSeq(info, "\n") {
		line = strings.TrimSpace(line)
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":calls=")
		if !ok || !strings.HasPrefix(line, "cmdstat_") {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		n, err := strconv.ParseInt(calls, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redistest: bad commandstats line %q", line)
		}
		stats[name] = n
	}
	return stats, nil
}

// Monitor records the commands clients send to a server (MONITOR), leaving
// out the ones scripts run, so a test can count round trips.
type Monitor struct {
	addr string
	conn net.Conn
	r    *bufio.Reader
}

// StartMonitor starts recording the commands addr receives.
func StartMonitor(addr string) (*Monitor, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	m := &Monitor{addr: addr, conn: conn, r: bufio.NewReader(conn)}
	conn.SetDeadline(time.Now().Add(time.Minute))
	if _, err := io.WriteString(conn, "MONITOR\r\n"); err != nil {
		conn.Close()
		return nil, err
	}
	if line, err := m.r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "+OK") {
		conn.Close()
		return nil, fmt.Errorf("redistest: MONITOR: %q, %v", line, err)
	}
	return m, nil
}

// Stop ends the recording and returns the names (upper case) of the
// commands clients sent since StartMonitor, in order.
func (m *Monitor) Stop() ([]string, error) {
	defer m.conn.Close()
	marker := fmt.Sprintf("redistest-monitor-end-%d", rand.Uint64())
	if _, err := Do(m.addr, "ECHO", marker); err != nil {
		return nil, err
	}
	var cmds []string
	for {
		line, err := m.r.ReadString('\n')
		if err != nil {
			return cmds, err
		}
		if strings.Contains(line, marker) {
			return cmds, nil
		}
		// +1700000000.123456 [0 127.0.0.1:54321] "EVALSHA" "..." ...
		open, close := strings.IndexByte(line, '['), strings.IndexByte(line, ']')
		if open < 0 || close < open {
			continue
		}
		if strings.Contains(line[open:close], "lua") {
			continue
		}
		rest := strings.TrimPrefix(line[close+1:], " \"")
		name, _, _ := strings.Cut(rest, "\"")
		cmds = append(cmds, strings.ToUpper(name))
	}
}
