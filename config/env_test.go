package config

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// envName matches the names of the variables erasure reads in a string literal or a document.
var envName = regexp.MustCompile(`\b(ERASURE_[A-Z0-9_]*[A-Z0-9]|NATS_URL|DATABASE_URL)\b`)

// testSupport are packages that only tests import: the variables they read (ERASURE_TEST_LOG)
// configure the test run, not erasure.
var testSupport = []string{"internal/testenv", "internal/pgtest"}

// namesInCode returns the variable names in the string literals of the module's Go source,
// tests, test-support packages and the table itself excluded.
func namesInCode(t *testing.T, root string) map[string][]string {
	t.Helper()
	found := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "vendor" || slices.Contains(testSupport, rel)) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") || rel == "config/env.go" {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			for _, name := range envName.FindAllString(s, -1) {
				if !slices.Contains(found[name], rel) {
					found[name] = append(found[name], rel)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestVariablesMatchCode: every variable the code names is in the table, and every variable of
// the table is named somewhere in the code.
func TestVariablesMatchCode(t *testing.T) {
	inCode := namesInCode(t, "..")
	if len(inCode) < 30 {
		t.Fatalf("found only %d variable names in the code: is the scan looking at the module?", len(inCode))
	}
	table := map[string]bool{}
	for _, v := range Variables {
		if table[v.Name] {
			t.Errorf("%s is listed twice in config.Variables", v.Name)
		}
		table[v.Name] = true
		if len(inCode[v.Name]) == 0 {
			t.Errorf("config.Variables lists %s, which no code reads: drop it", v.Name)
		}
		if v.Meaning == "" || len(v.Commands) == 0 {
			t.Errorf("%s: give its meaning and the commands that read it", v.Name)
		}
	}
	for name, files := range inCode {
		if !table[name] {
			t.Errorf("%s is read (%s) but missing from config.Variables (config/env.go)", name, strings.Join(files, ", "))
		}
	}
}

// configurationDoc is where the flags and variables are documented for operators; the README
// links to it.
const configurationDoc = "../docs/configuration.md"

// TestConfigurationDocListsVariables: the configuration table of docs/configuration.md names every
// variable of config.Variables, and no variable the table does not have (a stale row).
func TestConfigurationDocListsVariables(t *testing.T) {
	raw, err := os.ReadFile(configurationDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	start := strings.Index(doc, "\n## Flags and variables\n")
	if start < 0 {
		t.Fatalf(`%s has no "## Flags and variables" section`, configurationDoc)
	}
	section := doc[start+1:]
	if end := strings.Index(section[1:], "\n## "); end >= 0 {
		section = section[:end+1]
	}
	listed := map[string]bool{}
	for _, name := range envName.FindAllString(section, -1) {
		listed[name] = true
	}
	known := map[string]bool{}
	for _, v := range Variables {
		known[v.Name] = true
		if !listed[v.Name] {
			t.Errorf("%s's Flags and variables section lacks %s (%s)", configurationDoc, v.Name, v.Meaning)
		}
	}
	for name := range listed {
		if !known[name] {
			t.Errorf("%s's Flags and variables section documents %s, which config.Variables lacks", configurationDoc, name)
		}
	}
}

func TestVariablesOf(t *testing.T) {
	for _, tc := range []struct {
		command   string
		want, not []string
	}{
		{"serve", []string{"ERASURE_DATA", "DATABASE_URL", "NATS_URL", "ERASURE_API_KEYS", "ERASURE_TLS_CERT"}, []string{"ERASURE_SERVER", "ERASURE_API_KEY"}},
		{"migrate", []string{"ERASURE_DATA", "DATABASE_URL"}, []string{"ERASURE_API_KEYS", "ERASURE_SERVER"}},
		{"delete", []string{"ERASURE_SERVER", "ERASURE_API_KEY", "ERASURE_HTTP_ADDR"}, []string{"ERASURE_DATA", "ERASURE_API_KEYS"}},
		{"receipt get", []string{"ERASURE_SERVER", "ERASURE_API_KEY"}, []string{"DATABASE_URL"}},
		{"receipt verify", nil, []string{"ERASURE_SERVER", "ERASURE_API_KEY"}}, // offline
		{"audit verify", []string{"ERASURE_SERVER", "ERASURE_API_KEY"}, []string{"ERASURE_DATA"}},
		{"bench --load", []string{"ERASURE_DATA", "ERASURE_API_KEY"}, []string{"ERASURE_SERVER"}},
		{"version", nil, []string{"ERASURE_DATA", "ERASURE_SERVER"}},
	} {
		t.Run(tc.command, func(t *testing.T) {
			var b strings.Builder
			WriteEnvironment(&b, tc.command)
			for _, name := range tc.want {
				if !strings.Contains(b.String(), "  "+name+" ") {
					t.Errorf("%s's environment lacks %s:\n%s", tc.command, name, b.String())
				}
			}
			for _, name := range tc.not {
				if strings.Contains(b.String(), name+" ") {
					t.Errorf("%s's environment names %s, which it does not read:\n%s", tc.command, name, b.String())
				}
			}
		})
	}
	var b strings.Builder
	WriteEnvironment(&b, "serve")
	if !strings.Contains(b.String(), "ERASURE_DATA") || !strings.Contains(b.String(), "(default ./data)") {
		t.Errorf("the environment gives no defaults:\n%s", b.String())
	}
}
