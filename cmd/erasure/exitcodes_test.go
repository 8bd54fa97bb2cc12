package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// unreachable is an address nothing listens on: port 1 on loopback refuses at once.
const unreachable = "http://127.0.0.1:1"

type exitCase struct {
	name string
	args []string
	code int
	want string // in stdout or stderr
}

func runExitCases(t *testing.T, env []string, cases []exitCase) {
	t.Helper()
	for _, tc := range cases {
		r := runCmd(t, env, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
			t.Errorf("%s: erasure %s: exit %d (want %d), output lacks %q\nstdout:\n%s\nstderr:\n%s",
				tc.name, strings.Join(tc.args, " "), r.code, tc.code, tc.want, r.stdout, r.stderr)
		}
	}
}

// TestExitCodes runs each command against a real server (the built binary) for every outcome an
// operator's script branches on: 0 yes, 1 no (items failed, leftovers found, a chain that does
// not verify), 2 a usage error or a command that could not run.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	dir, work := t.TempDir(), t.TempDir()
	env := childEnv()
	s := startServer(t, dir, env)
	s.createGroup("g", "G")
	s.createPerson("p1", 1)

	// Two finished deletions for status: one clean, one with a failed item (an unknown person).
	deletionOf := func(code int, id string) string {
		t.Helper()
		r := must(t, runCmd(t, env, "delete", "--server", s.base, id), code, "delete "+id)
		var st deletionStatus
		lastJSON(t, r.stdout, &st)
		return st.DeletionID
	}
	clean := deletionOf(0, "p1")
	failed := deletionOf(1, "nobody")
	s.createPerson("p2", 2)
	trail := filepath.Join(work, "trail.jsonl")
	r := must(t, runCmd(t, env, "audit", "--server", s.base), 0, "audit")
	if err := os.WriteFile(trail, []byte(r.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	tampered := filepath.Join(work, "tampered.jsonl")
	if err := os.WriteFile(tampered, []byte(strings.Replace(r.stdout, `"person_ids":["p1"]`, `"person_ids":["p9"]`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := []string{"--server", s.base}
	runExitCases(t, env, []exitCase{
		{"delete: every item deleted", append([]string{"delete"}, append(srv, "p2")...), 0, `"failed":0`},
		{"delete --no-wait", append([]string{"delete", "--no-wait"}, append(srv, "nobody3")...), 0, ""},
		{"delete: an item failed", append([]string{"delete"}, append(srv, "nobody2")...), 1, "1 of 1 items failed"},
		{"delete --retry-failed: still failing", append([]string{"delete", "--retry-failed", failed}, srv...), 1, "items failed"},
		{"delete --retry-failed: unknown deletion", append([]string{"delete", "--retry-failed", "no-such-deletion"}, srv...), 2, "NOT_FOUND"},
		{"delete: no IDs", append([]string{"delete"}, srv...), 2, "name person IDs"},
		{"delete: bad flag", []string{"delete", "--no-such-flag"}, 2, "no-such-flag"},
		{"delete: missing --file", append([]string{"delete", "--file", filepath.Join(work, "none")}, srv...), 2, "--file"},
		{"delete: server unreachable", []string{"delete", "--server", unreachable, "p1"}, 2, "is `erasure serve` running"},
		{"status: none failed", append([]string{"status", clean}, srv...), 0, `"state": "completed"`},
		{"status: ended with failed items", append([]string{"status", failed}, srv...), 1, `"ID_NOT_FOUND": 1`},
		{"status: unknown deletion", append([]string{"status", "no-such-deletion"}, srv...), 2, "NOT_FOUND"},
		{"status: no id", append([]string{"status"}, srv...), 2, "name one deletion id"},
		{"status: bad flag", []string{"status", "--no-such-flag", clean}, 2, "no-such-flag"},
		{"status: server unreachable", []string{"status", "--server", unreachable, clean}, 2, "is `erasure serve` running"},
		{"audit verify: the chain holds", append([]string{"audit", "verify", "--file", trail}, srv...), 0, `"ok": true`},
		{"audit verify: a tampered export", []string{"audit", "verify", "--offline", "--file", tampered}, 1, "first_break"},
		{"audit verify: bad flag", []string{"audit", "verify", "--no-such-flag"}, 2, "no-such-flag"},
		{"audit verify: unexpected argument", append([]string{"audit", "verify", "extra"}, srv...), 2, "unexpected arguments"},
		{"audit verify: server unreachable", []string{"audit", "verify", "--server", unreachable}, 2, "is `erasure serve` running"},
		{"verify: data directory in use", []string{"verify", "--data", dir}, 2, "in use"},
		{"version", []string{"version"}, 0, "go_version: "},
		{"--version", []string{"--version"}, 0, "revision: "},
		{"version: bad flag", []string{"version", "--no-such-flag"}, 2, "no-such-flag"},
	})
	s.stop(syscall.SIGTERM)

	runExitCases(t, env, []exitCase{
		{"verify: nothing left", []string{"verify", "--data", dir}, 0, "nothing left"},
		{"verify: bad flag", []string{"verify", "--data", dir, "--no-such-flag"}, 2, "no-such-flag"},
	})
	// A photo directory of a deleted person is a leftover.
	if err := os.MkdirAll(filepath.Join(dir, "photos", "p2"), 0o700); err != nil {
		t.Fatal(err)
	}
	runExitCases(t, env, []exitCase{
		{"verify: a leftover", []string{"verify", "--data", dir}, 1, `"photo_store"`},
	})
}

// TestStatusWhileRunning: a running deletion has no answer yet, even with items failed so far
// (a retry may still delete them), so status exits 0; once it ends with failed items, 1.
func TestStatusWhileRunning(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		state, failed string
		code          int
	}{
		{"running", "0", 0},
		{"running", "2", 0},
		{"completed", "0", 0},
		{"completed", "2", 1},
		{"cancelled", "0", 0},
		{"cancelled", "2", 1},
	} {
		t.Run(tc.state+" failed "+tc.failed, func(t *testing.T) {
			t.Parallel()
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				switch r.URL.Path {
				case "/v1/deletions/d1":
					_, _ = w.Write([]byte(`{"deletion_id":"d1","state":"` + tc.state + `","total":5,"pending":1,"deleted":2,"failed":` + tc.failed + `,"cancelled":0}`))
				case "/v1/deletions/d1/items":
					_, _ = w.Write([]byte(`{"items":[],"next":null}`))
				default:
					http.NotFound(w, r)
				}
			}))
			defer api.Close()
			var stdout, stderr bytes.Buffer
			code := run([]string{"status", "--server", api.URL, "d1"}, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout.String(), stderr.String())
			}
			var st map[string]any
			if err := json.Unmarshal(stdout.Bytes(), &st); err != nil || st["state"] != tc.state {
				t.Fatalf("status printed %v (%v)", stdout.String(), err)
			}
		})
	}
}

// TestHelpNamesExitCodes: every command's --help says what its exit codes mean.
func TestHelpNamesExitCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		no   string // what its "no" is; "" for a command that never answers no
	}{
		{[]string{"serve"}, ""},
		{[]string{"migrate"}, ""},
		{[]string{"delete"}, "failed items"},
		{[]string{"status"}, "0 while it is still running"},
		{[]string{"verify"}, "left of a deleted person"},
		{[]string{"replay"}, ""},
		{[]string{"audit"}, ""},
		{[]string{"audit", "verify"}, "does not verify"},
		{[]string{"receipt"}, "does not verify against the trusted key"},
		{[]string{"bench"}, ""},
		{[]string{"bench", "--load"}, "lost or a duplicated"},
		{[]string{"version"}, ""},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(append(tc.args, "--help"), &stdout, &stderr); code != 0 {
			t.Errorf("%v --help: exit %d", tc.args, code)
		}
		out := strings.Join(strings.Fields(stdout.String()+stderr.String()), " ")
		if !strings.Contains(out, "Exit codes: 0 success") || !strings.Contains(out, "2 a usage error") || !strings.Contains(out, tc.no) {
			t.Errorf("%v --help does not give the exit codes (want %q):\n%s", tc.args, tc.no, out)
		}
		if tc.no == "" && strings.Contains(out, `1 the answer is "no"`) && tc.args[0] != "audit" {
			t.Errorf("%v --help names a \"no\" answer it never gives:\n%s", tc.args, out)
		}
	}
	var stdout, stderr bytes.Buffer
	run([]string{"--help"}, &stdout, &stderr)
	if !strings.Contains(stdout.String(), "Exit codes:") {
		t.Errorf("erasure --help does not give the exit codes:\n%s", stdout.String())
	}
}
