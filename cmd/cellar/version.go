package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3"; when
// empty, the module version or VCS revision recorded by the go tool is used.
var version string

// buildInfo is debug.ReadBuildInfo, replaced in tests.
var buildInfo = debug.ReadBuildInfo

// versionString is the short version for logs: the -X version, else the
// module version (set by `go install ...@v1.2.3`), else devel-REVISION.
func versionString() string {
	if version != "" {
		return version
	}
	bi, ok := buildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	rev, _, modified := vcsInfo(bi)
	if (v == "" || v == "(devel)") && rev != "" {
		s := "devel-" + shortRev(rev)
		if modified {
			s += "+dirty"
		}
		return s
	}
	if v == "" {
		return "(devel)"
	}
	return v
}

// vcsInfo returns the revision, commit time and modified flag the go tool
// records when it builds in a checkout (-buildvcs).
func vcsInfo(bi *debug.BuildInfo) (rev, at string, modified bool) {
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	return rev, at, modified
}

func shortRev(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

// versionText is what `cellar version` prints: the version, then each
// thing the build info knows (module path and version, VCS revision and
// commit time, Go version), one per line.
func versionText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cellar %s\n", versionString())
	bi, ok := buildInfo()
	if !ok {
		return b.String()
	}
	mod := bi.Main.Version
	if mod == "" {
		mod = "(devel)"
	}
	fmt.Fprintf(&b, "module:   %s %s\n", bi.Main.Path, mod)
	rev, at, modified := vcsInfo(bi)
	switch {
	case rev == "":
		b.WriteString("revision: unknown (built outside a checkout, or with -buildvcs=false)\n")
	case modified:
		fmt.Fprintf(&b, "revision: %s (with uncommitted changes)\n", rev)
	default:
		fmt.Fprintf(&b, "revision: %s\n", rev)
	}
	if at != "" {
		fmt.Fprintf(&b, "commit:   %s\n", at)
	}
	fmt.Fprintf(&b, "go:       %s\n", bi.GoVersion)
	return b.String()
}

func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "", stderr)
	if err := parseFlags(fs, args, nil); err != nil {
		return err
	}
	_, err := io.WriteString(stdout, versionText())
	return err
}
