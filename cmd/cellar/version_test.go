package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

// TestVersionFromBuildInfo: `cellar version` reports the module version
// (`go install ...@v1.2.3`) and the VCS revision the go tool recorded.
func TestVersionFromBuildInfo(t *testing.T) {
	saved := buildInfo
	t.Cleanup(func() { buildInfo = saved })
	for _, tt := range []struct {
		name  string
		bi    *debug.BuildInfo
		short string
		lines []string
	}{
		{"go install @version", &debug.BuildInfo{GoVersion: "go1.26.0",
			Main: debug.Module{Path: "github.com/cellar-http/cellar", Version: "v1.2.3"}},
			"v1.2.3", []string{"cellar v1.2.3", "module:   github.com/cellar-http/cellar v1.2.3", "revision: unknown", "go:       go1.26.0"}},
		{"a checkout", &debug.BuildInfo{GoVersion: "go1.26.0",
			Main:     debug.Module{Path: "github.com/cellar-http/cellar", Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-12-05T18:00:00Z"}, {Key: "vcs.modified", Value: "true"}}},
			"devel-0123456789ab+dirty", []string{"revision: 0123456789abcdef0123 (with uncommitted changes)", "commit:   2026-12-05T18:00:00Z"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			buildInfo = func() (*debug.BuildInfo, bool) { return tt.bi, true }
			if got := versionString(); got != tt.short {
				t.Errorf("versionString = %q, want %q", got, tt.short)
			}
			text := versionText()
			for _, l := range tt.lines {
				if !strings.Contains(text, l+"\n") && !strings.Contains(text, l) {
					t.Errorf("version text lacks %q:\n%s", l, text)
				}
			}
		})
	}
}
