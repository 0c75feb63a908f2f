// Command benchmd turns `go test -bench` output (from this module's
// benchmarks, any -count) into Markdown tables: one table per benchmark
// family (the name up to "/lib="), one row per library with the median of
// each metric, and each library's speed relative to the family's baseline
// (ns/op of the baseline ÷ ns/op of the row: above 1 is faster).
//
//	go test -run '^$' -bench . -benchmem | go run ./cmd/benchmd
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// baselines names the library each family is compared with: the peer the
// issue's target is stated against.
var baselines = map[string]string{
	"Decision":    "cachecontrol",
	"Hit":         "httpcache",
	"HitParallel": "httpcache",
	"ServeHit":    "origin-handler",
	"Miss64MiB":   "httpcache",
	"Coalescing":  "httpcache",
}

// columns orders the metrics shown; others follow in name order.
var columns = []string{"ns/op", "MB/s", "B/op", "allocs/op", "upstream/op", "upstream-requests", "peak-heap-MiB", "heap-growth-MiB"}

type row struct {
	lib     string
	metrics map[string][]float64
}

type family struct {
	name string
	rows []*row
}

var line = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

func main() {
	flag.Parse()
	fams, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchmd:", err)
		os.Exit(1)
	}
	for _, f := range fams {
		write(os.Stdout, f)
	}
}

func parse(r io.Reader) ([]*family, error) {
	var fams []*family
	byName := map[string]*family{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		name, lib := m[1], ""
		if i := strings.Index(name, "/lib="); i >= 0 {
			name, lib = name[:i], name[i+len("/lib="):]
		}
		f := byName[name]
		if f == nil {
			f = &family{name: name}
			byName[name] = f
			fams = append(fams, f)
		}
		var rw *row
		for _, x := range f.rows {
			if x.lib == lib {
				rw = x
			}
		}
		if rw == nil {
			rw = &row{lib: lib, metrics: map[string][]float64{}}
			f.rows = append(f.rows, rw)
		}
		fields := strings.Fields(m[2])
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%q: %v", sc.Text(), err)
			}
			rw.metrics[fields[i+1]] = append(rw.metrics[fields[i+1]], v)
		}
	}
	return fams, sc.Err()
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func write(w io.Writer, f *family) {
	seen := map[string]bool{}
	for _, r := range f.rows {
		for k := range r.metrics {
			seen[k] = true
		}
	}
	var cols []string
	for _, c := range columns {
		if seen[c] {
			cols = append(cols, c)
			delete(seen, c)
		}
	}
	var rest []string
	for k := range seen {
		rest = append(rest, k)
	}
	sort.Strings(rest)
	cols = append(cols, rest...)

	family := f.name
	if i := strings.IndexByte(family, '/'); i >= 0 {
		family = family[:i]
	}
	base := baselines[family]
	var baseNs float64
	for _, r := range f.rows {
		if r.lib == base {
			baseNs = median(r.metrics["ns/op"])
		}
	}

	fmt.Fprintf(w, "#### %s\n\n| lib |", f.name)
	for _, c := range cols {
		fmt.Fprintf(w, " %s |", c)
	}
	if baseNs > 0 {
		fmt.Fprintf(w, " speed vs %s |", base)
	}
	fmt.Fprint(w, "\n|---|")
	for range cols {
		fmt.Fprint(w, "---:|")
	}
	if baseNs > 0 {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprintln(w)
	for _, r := range f.rows {
		fmt.Fprintf(w, "| %s |", r.lib)
		for _, c := range cols {
			if xs := r.metrics[c]; len(xs) > 0 {
				fmt.Fprintf(w, " %s |", num(median(xs)))
			} else {
				fmt.Fprint(w, " |")
			}
		}
		if baseNs > 0 {
			fmt.Fprintf(w, " %.2f× |", baseNs/median(r.metrics["ns/op"]))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
}

func num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}
