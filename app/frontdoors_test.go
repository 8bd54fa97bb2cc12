package app_test

import (
	"os/exec"
	"strings"
	"testing"
)

// Front doors (the HTTP surfaces and the console) reach the log and the read side only through
// the application layer: they name no event, log or projection type, so a change there is
// adapted in app alone.
func TestFrontDoorsImportOnlyTheApplicationLayer(t *testing.T) {
	const mod = "github.com/erasure-dev/erasure/"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}:{{join .Imports " "}}`,
		"../api/...", "../console").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 5 {
		t.Fatalf("go list listed %d packages: too few to be the front doors", len(lines))
	}
	for _, line := range lines {
		pkg, imports, _ := strings.Cut(line, ":")
		for _, imp := range strings.Fields(imports) {
			for _, below := range []string{"events", "eventlog", "projections", "sagas"} {
				if imp == mod+below {
					t.Errorf("%s imports %s: front doors go through app", pkg, imp)
				}
			}
		}
	}
}
