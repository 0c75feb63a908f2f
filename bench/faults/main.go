// Command faults reproduces the fault experiments of issue 13 against a
// `cellar serve` binary (and, with -baseline, against another one in the
// same run) and prints the figures, every response body checked byte for
// byte against what the origin served:
//
//	memory  4 concurrent misses of -size bodies under a -mem-budget memory
//	        store, with and without Content-Length: peak RSS (VmHWM), RSS
//	        after, bodies verified
//	redis   -conns clients on small hits, in three phases of -phase: Redis
//	        running, stopped (SIGSTOP), continued (SIGCONT): req/s, p50,
//	        p99, errors, bodies verified
//	stall   4 collapsed requests for a body whose origin sends half then
//	        stalls: time until each client gets an error, bodies that
//	        looked complete (must be 0)
//	disk    one -size body under a -size disk budget (peak bytes in tmp/,
//	        stored or not), then -conns clients missing -disk-obj bodies
//	        under -disk-budget for -phase (peak directory and tmp/ size)
//	kill    -conns/2 clients on 300 keys (100 B to 2 MiB, stale after 1 s
//	        to 30 s) of a disk store with its default memory tier, while
//	        cellar is killed with SIGKILL -kills times and restarted on
//	        the same directory: responses verified, hits, cut by a kill,
//	        CORRUPT (completed with wrong bytes or length: must be 0),
//	        restarts that failed, damaged-log warnings, then every key
//	        once after the last restart
//
// Run it with bench/faults/run.sh.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"
)

var (
	flagCellar     = flag.String("cellar", "", "the cellar `BINARY` to measure")
	flagBaseline   = flag.String("baseline", "", "another cellar `BINARY` to run the same experiments against (e.g. built from main)")
	flagExp        = flag.String("exp", "memory,redis,stall,disk,kill", "experiments to run, comma-separated")
	flagSize       = flag.String("size", "1GiB", "body size of the memory and big-disk experiments")
	flagMemBudget  = flag.String("mem-budget", "256MiB", "memory store budget")
	flagDiskBudget = flag.String("disk-budget", "512MiB", "disk store budget under load")
	flagDiskObj    = flag.String("disk-obj", "32MiB", "body size of the disk load")
	flagConns      = flag.Int("conns", 32, "concurrent clients of the redis load (the disk load uses a quarter)")
	flagPhase      = flag.Duration("phase", 5*time.Second, "length of each redis phase and of the disk load")
	flagStallTO    = flag.Duration("stall-timeout", 2*time.Second, "--upstream-body-timeout given to binaries that know it")
	flagStallCap   = flag.Duration("stall-cap", 20*time.Second, "how long a stalled client waits before the harness gives up on it")
	flagKills      = flag.Int("kills", 20, "SIGKILLs of the kill experiment")
	flagKillBudget = flag.String("kill-budget", "256MiB", "disk store budget of the kill experiment")
	flagKillCap    = flag.Duration("kill-cap", 2*time.Minute, "the kill experiment stops killing after this long, whatever -kills says")
	flagMarkdown   = flag.String("md", "", "also write the tables as Markdown to `FILE`")
)

// table is one experiment's results.
type table struct {
	title string
	head  []string
	rows  [][]string
	notes []string
}

func main() {
	log.SetFlags(log.Ltime)
	flag.Parse()
	if *flagCellar == "" {
		log.Fatal("-cellar is required")
	}
	bins := []struct{ name, path string }{{"branch", *flagCellar}}
	if *flagBaseline != "" {
		bins = append([]struct{ name, path string }{{"baseline", *flagBaseline}}, bins...)
	}
	o, err := startOrigin()
	if err != nil {
		log.Fatal(err)
	}
	defer o.close()
	var tables []*table
	for _, exp := range strings.Split(*flagExp, ",") {
		run, ok := experiments[exp]
		if !ok {
			log.Fatalf("unknown experiment %q", exp)
		}
		t := run.new()
		for _, b := range bins {
			log.Printf("%s: %s", exp, b.name)
			if err := run.fn(t, b.name, b.path, o); err != nil {
				print(os.Stdout, t, false) // the figures that show the failure
				log.Fatalf("%s on %s: %v", exp, b.name, err)
			}
		}
		print(os.Stdout, t, false)
		tables = append(tables, t)
	}
	if *flagMarkdown != "" {
		f, err := os.Create(*flagMarkdown)
		if err != nil {
			log.Fatal(err)
		}
		for _, t := range tables {
			print(f, t, true)
		}
		f.Close()
	}
}

type experiment struct {
	new func() *table
	fn  func(t *table, name, bin string, o *origin) error
}

var experiments = map[string]experiment{
	"memory": {newMemoryTable, runMemory},
	"redis":  {newRedisTable, runRedis},
	"stall":  {newStallTable, runStall},
	"disk":   {newDiskTable, runDisk},
	"kill":   {newKillTable, runKill},
}

func print(w io.Writer, t *table, md bool) {
	if md {
		fmt.Fprintf(w, "#### %s\n\n| %s |\n|%s\n", t.title, strings.Join(t.head, " | "), strings.Repeat(" --- |", len(t.head)))
		for _, r := range t.rows {
			fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
		}
		fmt.Fprintln(w)
		for _, n := range t.notes {
			fmt.Fprintf(w, "%s\n", n)
		}
		if len(t.notes) > 0 {
			fmt.Fprintln(w)
		}
		return
	}
	fmt.Fprintf(w, "\n== %s\n%s\n", t.title, strings.Join(t.head, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	for _, n := range t.notes {
		fmt.Fprintln(w, n)
	}
}

func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }

func must(s string) int64 {
	n, err := parseSize(s)
	if err != nil {
		log.Fatal(err)
	}
	return n
}

// parseSize reads 256MiB, 1GiB, 64KiB or a number of bytes.
func parseSize(s string) (int64, error) {
	for _, u := range []struct {
		suf  string
		mult int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if v, ok := strings.CutSuffix(s, u.suf); ok {
			var n int64
			_, err := fmt.Sscan(v, &n)
			return n * u.mult, err
		}
	}
	var n int64
	_, err := fmt.Sscan(s, &n)
	return n, err
}
