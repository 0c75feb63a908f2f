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
	if getenv == nil {
		getenv = os.Getenv
	}
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if envErr != nil {
			return
		}
		v := getenv(envName(fs, f.Name))
		if v == "" {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			envErr = usagef("invalid value %q for --%s (from $%s): %v", v, f.Name, envName(fs, f.Name), unwrapFlagErr(err))
		}
	})
	if envErr != nil {
		return envErr
	}
	// flag prints its own message and usage for command-line errors; turn
	// the error into a usageError so the exit status says "configuration".
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	return nil
}

func unwrapFlagErr(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

// byteSize is a flag value holding a number of bytes, written with an
// optional unit: B, KB/MB/GB/TB (powers of 1000), KiB/MiB/GiB/TiB (powers of
// 1024), and K/M/G/T, which mean the binary units as in most tools that
// size caches. Units are case-insensitive.
type byteSize int64

func (b *byteSize) String() string { return formatBytes(int64(*b)) }

func (b *byteSize) Set(s string) error {
	n, err := parseBytes(s)
	if err != nil {
		return err
	}
	*b = byteSize(n)
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
