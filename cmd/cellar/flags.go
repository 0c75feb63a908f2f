package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// envPrefixes are the prefixes of each subcommand's environment variables:
// `cellar serve` reads CELLAR_UPSTREAM, `cellar demo-origin` reads
// CELLAR_DEMO_LISTEN, so one environment can configure both.
var envPrefixes = map[string]string{
	"cellar serve":       "CELLAR_",
	"cellar explain":     "CELLAR_EXPLAIN_",
	"cellar demo-origin": "CELLAR_DEMO_",
	"cellar version":     "CELLAR_VERSION_",
	// top reads serve's CELLAR_ADMIN and CELLAR_ADMIN_TOKEN.
	"cellar top": "CELLAR_",
}

// envName returns the environment variable that sets a flag of fs:
// --max-size of serve → CELLAR_MAX_SIZE.
func envName(fs *flag.FlagSet, name string) string {
	return envPrefixes[fs.Name()] + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// newFlagSet returns a FlagSet for a subcommand that reports errors instead
// of exiting, and documents the environment variable of each flag.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("cellar "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: cellar %s %s\n\nFlags (each also settable from the environment variable shown):\n", name, synopsis)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			dash := "--"
			if len(f.Name) == 1 {
				dash = "-"
			}
			fmt.Fprintf(stderr, "  %s%s  [$%s]\n\t%s%s\n", dash, f.Name, envName(fs, f.Name), f.Usage, def)
		})
	}
	return fs
}

// parseFlags applies environment variables to fs, then parses args, so that
// the command line wins. Errors name the flag (and the variable when the
// value came from it).
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	_, err := parseFlagsEnv(fs, args, getenv)
	return err
}

// parseFlagsEnv is parseFlags that also returns the flags whose value came
// from the environment (name → variable), so that later checks can name
// the variable an operator must fix.
//
// The usage text is printed for -h only: a command-line error is reported
// once, by the caller, with a hint to run -h (the flag package would print
// it before and after the whole usage).
func parseFlagsEnv(fs *flag.FlagSet, args []string, getenv func(string) string) (map[string]string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	fromEnv := map[string]string{}
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if envErr != nil {
			return
		}
		name := envName(fs, f.Name)
		v := getenv(name)
		if v == "" {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			envErr = usagef("invalid value %q for --%s (from $%s): %v", v, f.Name, name, unwrapFlagErr(err))
		}
		fromEnv[f.Name] = name
	})
	if envErr != nil {
		return nil, envErr
	}
	usage, out := fs.Usage, fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.Usage = usage
	fs.SetOutput(out)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
			return nil, err
		}
		return nil, usagef("%v%s\nRun '%s -h' to list the flags.", err, didYouMean(fs, err), fs.Name())
	}
	for name := range commandLineFlags(args) {
		delete(fromEnv, name)
	}
	return fromEnv, nil
}

// commandLineFlags returns the names of the flags args sets ("--a=1", "-a
// 1", "--b"): a value given there wins over the environment's.
func commandLineFlags(args []string) map[string]bool {
	names := map[string]bool{}
	for _, a := range args {
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		names[name] = true
	}
	return names
}

// didYouMean suggests the defined flag closest to the unknown one an error
// names, if one is close.
func didYouMean(fs *flag.FlagSet, err error) string {
	_, bad, ok := strings.Cut(err.Error(), "flag provided but not defined: ")
	if !ok {
		return ""
	}
	bad = strings.TrimLeft(bad, "-")
	best, bestD := "", 3
	fs.VisitAll(func(f *flag.Flag) {
		if d := editDistance(bad, f.Name); d < bestD {
			best, bestD = f.Name, d
		}
	})
	if best == "" {
		return ""
	}
	return " (did you mean --" + best + "?)"
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// withEnvNames adds to a configuration error the environment variable that
// set the flag it names, when a variable did: the operator then knows where
// to look.
func withEnvNames(err error, fromEnv map[string]string) error {
	var ue *usageError
	if !errors.As(err, &ue) || strings.Contains(ue.msg, "$") {
		return err
	}
	at, flagName := -1, ""
	for name := range fromEnv {
		if i := flagIndex(ue.msg, name); i >= 0 && (at < 0 || i < at) {
			at, flagName = i, name
		}
	}
	if at < 0 {
		return err
	}
	return usagef("%s (--%s was set by $%s)", ue.msg, flagName, fromEnv[flagName])
}

// flagIndex returns where msg names --name (not --name-more), or -1.
func flagIndex(msg, name string) int {
	word := "--" + name
	for off := 0; ; {
		i := strings.Index(msg[off:], word)
		if i < 0 {
			return -1
		}
		end := off + i + len(word)
		if end == len(msg) || !(msg[end] == '-' || msg[end] >= 'a' && msg[end] <= 'z') {
			return off + i
		}
		off = end
	}
}

func unwrapFlagErr(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

// byteSize is a flag value holding a number of bytes, written with a unit:
// B, KB/MB/GB/TB (powers of 1000), KiB/MiB/GiB/TiB (powers of 1024), and
// K/M/G/T, which mean the binary units as in most tools that size caches.
// Units are case-insensitive. A number without a unit is refused (but 0):
// "--max-size 10" is far more likely a slip than a ten-byte cache. The
// value is shown as the operator wrote it ("1TB", not "976562500KiB").
type byteSize struct {
	n   int64
	raw string // as written, or "" for a default
}

func (b *byteSize) String() string {
	if b.raw != "" {
		return b.raw
	}
	return formatBytes(b.n)
}

func (b *byteSize) Set(s string) error {
	n, err := parseBytes(s)
	if err != nil {
		return err
	}
	if t := strings.TrimSpace(s); n != 0 && strings.TrimRight(t, "0123456789.") == "" {
		return fmt.Errorf("%s has no unit: write %sB if you mean bytes, or %sMiB, %sGiB", t, t, t, t)
	}
	b.n, b.raw = n, strings.TrimSpace(s)
	return nil
}

var byteUnits = []struct {
	suffix string
	mult   float64
}{
	// Longest suffixes first so "KiB" is not read as "B".
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40},
	{"b", 1},
}

// parseBytes reads "1GiB", "512 MB", "1.5G" or "1048576".
func parseBytes(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1.0
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || t == "" {
		return 0, fmt.Errorf("not a size: %q (want a number with an optional unit such as 512MiB or 1GiB)", s)
	}
	v := f * mult
	if v < 0 || math.IsNaN(v) {
		return 0, fmt.Errorf("negative size %q", s)
	}
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(v), nil
}

// formatBytes writes n with the largest binary unit that divides it.
func formatBytes(n int64) string {
	for _, u := range []struct {
		name string
		mult int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// stringList is a repeatable string flag (e.g. -H for headers).
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ", ") }

func (l *stringList) Set(s string) error {
	*l = append(*l, s)
	return nil
}
