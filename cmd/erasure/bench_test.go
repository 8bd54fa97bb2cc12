package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBenchCommand runs each of `erasure bench`'s modes on a tiny size through the command
// line (package bench tests the measurements themselves): the flags reach the harness, the last
// line of stdout is the result's JSON, and a bad flag value exits 2 before anything runs.
func TestBenchCommand(t *testing.T) {
	for _, v := range []string{"ERASURE_API_KEYS", "ERASURE_API_KEY", "NATS_URL", "DATABASE_URL",
		"ERASURE_TENCENT_SECRET_ID", "ERASURE_TENCENT_SECRET_KEY", "ERASURE_TENCENT_RATE", "ERASURE_TENCENT_BURST"} {
		t.Setenv(v, "") // embedded NATS and SQLite in a fresh directory, whatever the environment says
	}
	profile := filepath.Join(t.TempDir(), "cpu.prof")
	replayProfile := filepath.Join(t.TempDir(), "replay.prof")
	for _, tc := range []struct {
		name string
		args []string
		want map[string]any // fields of the last line, as JSON decodes them
		code int
		err  string // in stderr when code is not 0
	}{
		{"deletion", []string{"--persons", "20", "--faces", "1", "--photos", "1", "--permission-groups", "1", "--cpuprofile", profile, "--replay-cpuprofile", replayProfile},
			map[string]any{"persons": 20.0, "faces": 1.0, "photos": 1.0, "permission_groups": 1.0, "mode": "embedded-nats+sqlite", "replay_persons": 20.0}, 0, ""},
		{"single", []string{"--single", "2"},
			map[string]any{"single_persons": 2.0, "gone_at_answer": 2.0, "answers_when": "deletion_terminal", "mode": "embedded-nats+sqlite"}, 0, ""},
		{"intake", []string{"--intake", "50"}, map[string]any{"ids": 50.0}, 0, ""},
		{"load", []string{"--load", "--clients", "2", "--duration", "1s"},
			map[string]any{"clients": 2.0, "ok": true, "mode": "in-process embedded-nats+sqlite", "lost": 0.0, "errors_5xx": 0.0}, 0, ""},
		{"faces out of range", []string{"--faces", "6"}, nil, exitFailed, "erasure bench: --faces must be 0..5"},
		{"load without clients", []string{"--load", "--clients", "0"}, nil, exitFailed, "--clients, --duration and --ids-per-deletion must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"bench", "--data", t.TempDir(), "--log-level", "warn"}, tc.args...)
			code := run(args, &stdout, &stderr)
			require.Equal(t, tc.code, code, "stderr:\n%s\nstdout:\n%s", stderr.String(), stdout.String())
			if tc.code != 0 {
				require.Contains(t, stderr.String(), tc.err)
				require.Empty(t, stdout.String())
				return
			}
			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			last := lines[len(lines)-1]
			var fields map[string]any
			require.NoError(t, json.Unmarshal([]byte(last), &fields), last)
			for k, v := range tc.want {
				require.Equal(t, v, fields[k], "%s in %s", k, last)
			}
		})
	}
	for flag, path := range map[string]string{"--cpuprofile": profile, "--replay-cpuprofile": replayProfile} {
		fi, err := os.Stat(path)
		require.NoError(t, err, "%s wrote no file", flag)
		require.Positive(t, fi.Size(), flag)
	}
}

// TestBenchHelp: bench's two help texts name their modes' flags (help_test.go checks the
// environment and the dashes).
func TestBenchHelp(t *testing.T) {
	t.Parallel()
	for args, flags := range map[string][]string{
		"bench --help":        {"--persons int", "--faces int", "--photos int", "--permission-groups int", "--keep", "--cpuprofile string", "--replay-cpuprofile string", "--intake int", "--single int"},
		"bench --load --help": {"--load", "--clients int", "--duration duration", "--server string", "--ids-per-deletion int"},
	} {
		var stdout, stderr bytes.Buffer
		require.Zero(t, run(strings.Fields(args), &stdout, &stderr), args)
		for _, f := range flags {
			require.Contains(t, stdout.String()+stderr.String(), "  "+f, args)
		}
	}
}
