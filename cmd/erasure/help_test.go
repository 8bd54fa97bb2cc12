package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/erasure-dev/erasure/config"
)

// oneDashFlag matches a flag printed as Go's flag package prints it (-data), not as typed.
var oneDashFlag = regexp.MustCompile(`(?m)^\s+-[a-z]`)

// TestHelpListsEnvironment: every command's --help prints its flags with two dashes and lists,
// with their defaults, the environment variables that command reads (config.Variables).
func TestHelpListsEnvironment(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		command string
		flags   []string // flags the help must name
		env     []string // variables it must name besides config.VariablesOf(command)
		notEnv  []string
	}{
		{"serve", []string{"--data", "--http", "--tls-cert", "--targets"}, []string{"DATABASE_URL", "NATS_URL", "ERASURE_API_KEYS"}, []string{"ERASURE_SERVER"}},
		{"migrate", []string{"--data", "--log-level"}, []string{"DATABASE_URL"}, []string{"ERASURE_API_KEYS"}},
		{"verify", []string{"--data"}, []string{"ERASURE_MASTER_KEY"}, []string{"ERASURE_SERVER"}},
		{"replay", []string{"--data", "--projection"}, []string{"DATABASE_URL"}, []string{"ERASURE_SERVER"}},
		{"bench", []string{"--persons", "--intake"}, []string{"ERASURE_WEBHOOK_TIMEOUT"}, []string{"ERASURE_SERVER"}},
		{"bench --load", []string{"--clients", "--server"}, []string{"ERASURE_API_KEY"}, []string{"ERASURE_SERVER"}},
		{"delete", []string{"--server", "--api-key", "--retry-failed", "--no-wait"}, []string{"ERASURE_SERVER", "ERASURE_API_KEY"}, []string{"ERASURE_DATA"}},
		{"status", []string{"--server", "--api-key"}, []string{"ERASURE_SERVER", "ERASURE_API_KEY"}, []string{"ERASURE_DATA"}},
		{"audit", []string{"--server", "--api-key", "--as-of"}, []string{"ERASURE_SERVER", "ERASURE_API_KEY"}, []string{"ERASURE_DATA"}},
		{"audit verify", []string{"--server", "--api-key", "--file", "--offline"}, []string{"ERASURE_SERVER"}, []string{"ERASURE_DATA"}},
		{"receipt verify", []string{"--public-key"}, nil, []string{"ERASURE_SERVER", "ERASURE_API_KEY"}},
		{"receipt get", []string{"--server", "--api-key", "--deletion"}, []string{"ERASURE_SERVER", "ERASURE_API_KEY"}, nil},
		{"receipt public-key", []string{"--server", "--api-key"}, []string{"ERASURE_SERVER"}, nil},
		{"version", []string{"--json"}, nil, []string{"ERASURE_"}},
	} {
		t.Run(tc.command, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			if code := run(append(strings.Fields(tc.command), "--help"), &stdout, &stderr); code != exitOK {
				t.Fatalf("erasure %s --help: exit %d\n%s", tc.command, code, stderr.String())
			}
			out := stdout.String() + stderr.String()
			if loc := oneDashFlag.FindStringIndex(out); loc != nil {
				t.Errorf("erasure %s --help prints a flag with one dash (%q):\n%s", tc.command, out[loc[0]:loc[1]], out)
			}
			for _, f := range tc.flags {
				if !strings.Contains(out, "  "+f+" ") && !strings.Contains(out, "  "+f+"\n") {
					t.Errorf("erasure %s --help lacks the flag %s:\n%s", tc.command, f, out)
				}
			}
			want := tc.env
			for _, v := range config.VariablesOf(tc.command) {
				want = append(want, v.Name)
				if v.Default != "" && !strings.Contains(out, "(default "+v.Default+")") {
					t.Errorf("erasure %s --help does not give %s's default %s:\n%s", tc.command, v.Name, v.Default, out)
				}
			}
			for _, name := range want {
				if !strings.Contains(out, "  "+name+" ") {
					t.Errorf("erasure %s --help does not list %s under Environment:\n%s", tc.command, name, out)
				}
			}
			env := out[strings.Index(out, "\nFlags:"):]
			if i := strings.Index(env, "\nEnvironment:"); i >= 0 {
				env = env[i:]
			} else {
				env = ""
			}
			for _, name := range tc.notEnv {
				if strings.Contains(env, "  "+name) {
					t.Errorf("erasure %s --help lists %s, which it does not read:\n%s", tc.command, name, out)
				}
			}
		})
	}
}

// TestTopHelpListsEveryVariable: erasure --help lists every variable of the table.
func TestTopHelpListsEveryVariable(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	run([]string{"--help"}, &stdout, &stderr)
	for _, v := range config.Variables {
		if !strings.Contains(stdout.String(), "  "+v.Name+" ") {
			t.Errorf("erasure --help lacks %s:\n%s", v.Name, stdout.String())
		}
	}
}
