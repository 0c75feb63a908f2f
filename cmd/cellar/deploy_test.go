package main

import (
	"debug/elf"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// unitFile and dockerfile are the deployment files of the repository.
var (
	unitFile   = filepath.Join("..", "..", "deploy", "cellar.service")
	dockerfile = filepath.Join("..", "..", "Dockerfile")
)

// TestSystemdUnitVerifies runs `systemd-analyze verify` on the unit, with
// ExecStart pointed at the binary under test; any complaint (an unknown or
// misspelt directive, a bad value) fails. It skips where systemd-analyze
// is not installed.
func TestSystemdUnitVerifies(t *testing.T) {
	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	unit, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(unit), "ExecStart=/usr/local/bin/cellar ", "ExecStart="+cellarBin+" ", 1)
	if text == string(unit) {
		t.Fatal("the unit's ExecStart is not /usr/local/bin/cellar")
	}
	path := filepath.Join(t.TempDir(), "cellar.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "verify", "--man=no", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestSystemdUnitConfig: the configuration the unit gives (its
// Environment= lines and ExecStart arguments) is one `cellar serve`
// accepts, with the store in the unit's state directory and the admin
// listener on loopback; and the unit keeps its hardening.
func TestSystemdUnitConfig(t *testing.T) {
	unit, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CELLAR_UPSTREAM": "http://127.0.0.1:9000"}
	var args []string
	directives := map[string][]string{}
	for line := range strings.Lines(string(unit)) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		directives[k] = append(directives[k], v)
		switch k {
		case "Environment":
			ek, ev, _ := strings.Cut(v, "=")
			env[ek] = ev
		case "ExecStart":
			f := strings.Fields(v)
			args = f[2:] // after "/usr/local/bin/cellar serve"
			if len(f) < 2 || f[1] != "serve" {
				t.Errorf("ExecStart=%s does not run cellar serve", v)
			}
		}
	}
	c, err := parseServeConfig(args, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatalf("the unit's configuration is refused: %v", err)
	}
	if c.Store.Kind != "disk" || c.Store.Path != "/var/lib/"+firstOf(directives["StateDirectory"]) || c.Admin != "127.0.0.1:9090" {
		t.Errorf("store %+v (want disk in the state directory), admin %q", c.Store, c.Admin)
	}
	for k, want := range map[string]string{
		"DynamicUser": "yes", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
		"PrivateTmp": "yes", "PrivateDevices": "yes", "CapabilityBoundingSet": "", "KillSignal": "SIGTERM",
	} {
		if got := directives[k]; len(got) != 1 || got[0] != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
}

// TestDockerfileConfig checks what can be checked without a container
// runtime (the image itself is not built by the tests): a multi-stage
// build of a static binary, a non-root user, a volume holding the disk
// store the image's environment selects, the proxy port exposed, and a
// configuration `cellar serve` accepts.
func TestDockerfileConfig(t *testing.T) {
	b, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CELLAR_UPSTREAM": "http://origin:9000"}
	var entry []string
	var froms, users, volumes, exposes []string
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "FROM":
			froms = append(froms, f[1])
		case "USER":
			users = append(users, f[1])
		case "VOLUME":
			volumes = append(volumes, f[1:]...)
		case "EXPOSE":
			exposes = append(exposes, f[1:]...)
		case "ENV":
			for _, kv := range f[1:] {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(strings.TrimSpace(strings.TrimPrefix(line, "ENTRYPOINT"))), &entry); err != nil {
				t.Fatalf("ENTRYPOINT is not an exec form: %v", err)
			}
		}
	}
	if len(froms) < 2 || !strings.Contains(text, "CGO_ENABLED=0") {
		t.Errorf("want a multi-stage build of a static binary: FROM %v", froms)
	}
	if len(users) == 0 || users[len(users)-1] == "0" || strings.HasPrefix(users[len(users)-1], "root") {
		t.Errorf("USER %v: the image must not run as root", users)
	}
	if len(entry) < 2 || entry[1] != "serve" {
		t.Fatalf("ENTRYPOINT %q does not run cellar serve", entry)
	}
	c, err := parseServeConfig(entry[2:], func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatalf("the image's configuration is refused: %v", err)
	}
	if c.Store.Kind != "disk" || len(volumes) != 1 || volumes[0] != c.Store.Path {
		t.Errorf("store %+v, VOLUME %v: the disk store must live in the volume", c.Store, volumes)
	}
	if len(exposes) == 0 || !strings.HasSuffix(c.Listen, ":"+exposes[0]) {
		t.Errorf("EXPOSE %v, listen %q", exposes, c.Listen)
	}
}

func firstOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// TestDockerfileBuildsStaticBinary runs the go build command of the
// Dockerfile's build stage, as written there, and checks what the final
// stage relies on: a statically linked binary (distroless/static has no C
// library or loader) that reports the VERSION build argument. No image is
// built: this machine cannot pull the base images. The build recompiles
// everything (-trimpath, no cgo), so it runs under CI=true or with
// CELLAR_STATIC_BUILD=1.
func TestDockerfileBuildsStaticBinary(t *testing.T) {
	if os.Getenv("CI") != "true" && os.Getenv("CELLAR_STATIC_BUILD") != "1" {
		t.Skip("a full static rebuild; run with CELLAR_STATIC_BUILD=1 (CI does)")
	}
	b, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	var build string
	for line := range strings.Lines(text) {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "RUN" && strings.Contains(line, "go build") {
			build, _, _ = strings.Cut(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "RUN")), "&&")
		}
	}
	if build == "" || !strings.Contains(build, "-o /out/cellar") {
		t.Fatalf("no `go build ... -o /out/cellar` RUN line in the Dockerfile")
	}
	out := filepath.Join(t.TempDir(), "cellar")
	build = strings.Replace(build, "-o /out/cellar", "-o "+out, 1)
	cmd := exec.Command("sh", "-c", build)
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "VERSION=v0.0.0-docker-test")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", build, err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the binary asks for a dynamic loader: it will not run on distroless/static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
	v, err := exec.Command(out, "version").Output()
	if err != nil || !strings.Contains(string(v), "v0.0.0-docker-test") {
		t.Errorf("cellar version = %q, %v: want the VERSION build argument", v, err)
	}
}
