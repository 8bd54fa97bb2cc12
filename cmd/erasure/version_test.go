package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// versionFields parses `erasure version`: one "field: value" line each.
func versionFields(t *testing.T, out string) map[string]string {
	t.Helper()
	fields := map[string]string{}
	for line := range strings.Lines(strings.TrimSpace(out)) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ": ")
		if !ok {
			t.Fatalf("not a field line: %q in\n%s", line, out)
		}
		fields[k] = v
	}
	return fields
}

// TestVersion: `erasure version`, `--version` and `version --json` name the same build, every
// field set (unknown where the binary records nothing: the test binary is built the way the
// environment's GOFLAGS say, which may leave out VCS information).
func TestVersion(t *testing.T) {
	t.Parallel()
	env := childEnv()
	lines := must(t, runCmd(t, env, "version"), 0, "version")
	fields := versionFields(t, lines.stdout)
	for _, k := range []string{"version", "revision", "time", "modified", "go_version"} {
		if fields[k] == "" {
			t.Errorf("version lacks %s:\n%s", k, lines.stdout)
		}
	}
	if fields["go_version"] != runtime.Version() {
		t.Errorf("go_version %q, want %q", fields["go_version"], runtime.Version())
	}
	if m := fields["modified"]; m != "true" && m != "false" && m != "unknown" {
		t.Errorf("modified %q", m)
	}
	if flag := must(t, runCmd(t, env, "--version"), 0, "--version"); flag.stdout != lines.stdout {
		t.Errorf("--version printed\n%s\nversion printed\n%s", flag.stdout, lines.stdout)
	}
	var asJSON map[string]string
	r := must(t, runCmd(t, env, "version", "--json"), 0, "version --json")
	if err := json.Unmarshal([]byte(r.stdout), &asJSON); err != nil {
		t.Fatalf("version --json: %v\n%s", err, r.stdout)
	}
	for k, v := range fields {
		if asJSON[k] != v {
			t.Errorf("version --json %s=%q, version %s=%q", k, asJSON[k], k, v)
		}
	}
}

// TestVersionOfAVCSBuild: a binary built with VCS stamping names the commit it was built from.
func TestVersionOfAVCSBuild(t *testing.T) {
	t.Parallel()
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not in a git work tree: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "erasure")
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -buildvcs=true: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("erasure version: %v", err)
	}
	fields := versionFields(t, string(out))
	// Someone may commit while the binary builds: HEAD before or after it will do.
	headAfter, _ := exec.Command("git", "rev-parse", "HEAD").Output()
	if rev := fields["revision"]; rev != strings.TrimSpace(string(head)) && rev != strings.TrimSpace(string(headAfter)) {
		t.Errorf("revision %q, want HEAD %s", rev, head)
	}
	if fields["time"] == "unknown" || fields["version"] == "unknown" || (fields["modified"] != "true" && fields["modified"] != "false") {
		t.Errorf("a VCS build leaves fields unknown:\n%s", out)
	}
}
