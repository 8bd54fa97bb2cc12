package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeServer answers the native API calls of the client commands from fixed deletions: a
// deletion just requested (or retried) runs for two polls, then shows its final counters.
type fakeServer struct {
	*httptest.Server
	mu      sync.Mutex
	auth    []string // the Authorization header of each request
	polls   map[string]int
	final   map[string]deletionStatus
	retried map[string]int
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	f := &fakeServer{polls: map[string]int{"d-clean": 2, "d-failed": 2}, retried: map[string]int{},
		final: map[string]deletionStatus{
			"d-clean":  {DeletionID: "d-clean", State: "completed", Total: 3, Deleted: 3},
			"d-failed": {DeletionID: "d-failed", State: "completed", Total: 3, Deleted: 1, Failed: 2},
		}}
	answer := func(w http.ResponseWriter, code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/deletions", func(w http.ResponseWriter, r *http.Request) {
		id := "d-clean"
		if r.URL.Query().Get("idempotency_key") == "fail" {
			id = "d-failed"
		}
		f.mu.Lock()
		f.polls[id] = 0
		f.mu.Unlock()
		answer(w, http.StatusAccepted, map[string]string{"deletion_id": id})
	})
	mux.HandleFunc("GET /v1/deletions/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		st, ok := f.final[r.PathValue("id")]
		if !ok {
			answer(w, http.StatusNotFound, map[string]any{"error": map[string]string{"code": "NOT_FOUND", "message": "no such deletion"}})
			return
		}
		// Two polls running, half done, then the final counters.
		if f.polls[st.DeletionID]++; f.polls[st.DeletionID] <= 2 {
			st = deletionStatus{DeletionID: st.DeletionID, State: "running", Total: st.Total, Pending: st.Total - f.polls[st.DeletionID] + 1, Deleted: f.polls[st.DeletionID] - 1}
		}
		answer(w, http.StatusOK, st)
	})
	mux.HandleFunc("GET /v1/deletions/{id}/items", func(w http.ResponseWriter, r *http.Request) {
		answer(w, http.StatusOK, map[string]any{"items": []any{}})
	})
	mux.HandleFunc("POST /v1/deletions/{id}/retry", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		n := f.retried[r.PathValue("id")]
		if n > 0 {
			f.polls[r.PathValue("id")] = 0
		}
		answer(w, http.StatusAccepted, map[string]any{"deletion_id": r.PathValue("id"), "retried": n})
	})
	mux.HandleFunc("GET /v1/audit", func(w http.ResponseWriter, r *http.Request) {
		answer(w, http.StatusOK, map[string]any{"entries": []any{}})
	})
	mux.HandleFunc("GET /v1/audit/verify", func(w http.ResponseWriter, r *http.Request) {
		answer(w, http.StatusOK, map[string]any{"ok": true})
	})
	mux.HandleFunc("GET /v1/receipts/{person}", func(w http.ResponseWriter, r *http.Request) {
		answer(w, http.StatusOK, map[string]string{"public_key": "k"})
	})
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		f.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// authSeen returns the distinct Authorization headers the server was sent.
func (f *fakeServer) authSeen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, a := range f.auth {
		if len(out) == 0 || out[len(out)-1] != a {
			out = append(out, a)
		}
	}
	return out
}

// TestServerAndAPIKeyFlags: every command that talks to a server takes --server and --api-key,
// falling back to ERASURE_SERVER and ERASURE_API_KEY; the flag wins over the variable.
func TestServerAndAPIKeyFlags(t *testing.T) {
	// Each command, and the arguments that follow its flags (delete takes IDs after them).
	commands := []struct{ command, rest []string }{
		{[]string{"delete"}, []string{"--no-wait", "p1"}},
		{[]string{"status"}, []string{"d-clean"}},
		{[]string{"audit"}, nil},
		{[]string{"audit", "verify"}, nil},
		{[]string{"receipt", "get"}, []string{"p1"}},
		{[]string{"receipt", "public-key"}, nil},
	}
	for _, tc := range []struct {
		name     string
		flags    func(url string) []string
		env      func(url string) map[string]string
		wantAuth string
	}{
		{"flags", func(u string) []string { return []string{"--server", u, "--api-key", "from-flag"} }, nil, "Bearer from-flag"},
		{"variables", nil, func(u string) map[string]string {
			return map[string]string{"ERASURE_SERVER": u, "ERASURE_API_KEY": "from-env"}
		}, "Bearer from-env"},
		{"flags win", func(u string) []string { return []string{"--server", u, "--api-key", "from-flag"} }, func(string) map[string]string {
			return map[string]string{"ERASURE_SERVER": unreachable, "ERASURE_API_KEY": "from-env"}
		}, "Bearer from-flag"},
		{"no key", func(u string) []string { return []string{"--server", u} }, func(string) map[string]string {
			return map[string]string{"ERASURE_API_KEY": ""}
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, cmd := range commands {
				f := newFakeServer(t)
				if tc.env != nil {
					for k, v := range tc.env(f.URL) {
						t.Setenv(k, v)
					}
				}
				args := append([]string(nil), cmd.command...)
				if tc.flags != nil {
					args = append(args, tc.flags(f.URL)...)
				}
				args = append(args, cmd.rest...)
				var stdout, stderr bytes.Buffer
				if code := run(args, &stdout, &stderr); code != exitOK {
					t.Errorf("erasure %s: exit %d\n%s", strings.Join(args, " "), code, stderr.String())
					continue
				}
				if got := f.authSeen(); len(got) != 1 || got[0] != tc.wantAuth {
					t.Errorf("erasure %s sent Authorization %q, want %q", strings.Join(args, " "), got, tc.wantAuth)
				}
			}
		})
	}
}

// TestDeleteProgressOffTerminal: with standard error not a terminal (a file, a pipe), delete
// prints plain progress lines, never a bar's \r frames; it says plainly when there is nothing to
// retry, and points at erasure status when items failed.
func TestDeleteProgressOffTerminal(t *testing.T) {
	// Not parallel: it shortens the interval between progress lines.
	defer func(d time.Duration) { progressLineEvery = d }(progressLineEvery)
	progressLineEvery = time.Nanosecond
	for _, tc := range []struct {
		name       string
		args       []string
		retried    int
		code       int
		want, not  []string // in standard error
		wantStdout string
	}{
		{"every item deleted", []string{"delete", "p1", "p2", "p3"}, 0, exitOK,
			[]string{"d-clean: 0 of 3 done", "d-clean: 1 of 3 done", "persons/s", "deleted 3, failed 0, cancelled 0 of 3"},
			[]string{"\r", "erasure status"}, `"failed":0`},
		{"items failed", []string{"delete", "--idempotency-key", "fail", "p1", "p2", "p3"}, 0, exitNo,
			[]string{"deleted 1, failed 2", "'erasure status d-failed' lists them", "--retry-failed d-failed"},
			[]string{"\r"}, `"failed":2`},
		{"flags after the IDs", []string{"delete", "p1", "p2", "--idempotency-key", "fail", "p3"}, 0, exitNo,
			[]string{"deleted 1, failed 2", "--retry-failed d-failed"},
			[]string{"\r", "--idempotency-key"}, `"failed":2`},
		{"retry: nothing to retry", []string{"delete", "--retry-failed", "d-clean"}, 0, exitOK,
			[]string{"nothing to retry: deletion d-clean has no failed items"},
			[]string{"\r", "persons/s", "retrying"}, `"deletion_id":"d-clean"`},
		{"retry: failed items, none retryable", []string{"delete", "--retry-failed", "d-failed"}, 0, exitNo,
			[]string{"nothing to retry: none of the 2 failed items of d-failed", "'erasure status d-failed' lists them"},
			[]string{"\r", "persons/s", "retrying"}, `"failed":2`},
		{"retry: items retried", []string{"delete", "--retry-failed", "d-failed"}, 2, exitNo,
			[]string{"retrying 2 failed items of d-failed", "erasure status d-failed"},
			[]string{"\r", "nothing to retry"}, `"failed":2`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeServer(t)
			f.retried["d-failed"] = tc.retried
			// A file, as when standard error is redirected to a log.
			logFile, err := os.Create(filepath.Join(t.TempDir(), "stderr.log"))
			if err != nil {
				t.Fatal(err)
			}
			defer logFile.Close()
			var stdout bytes.Buffer
			args := append([]string{tc.args[0], "--server", f.URL}, tc.args[1:]...)
			code := run(args, &stdout, logFile)
			raw, err := os.ReadFile(logFile.Name())
			if err != nil {
				t.Fatal(err)
			}
			stderr := string(raw)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstderr:\n%s", code, tc.code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("standard error lacks %q:\n%s", w, stderr)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(stderr, n) {
					t.Errorf("standard error has %q:\n%q", n, stderr)
				}
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) {
				t.Errorf("standard output lacks %q:\n%s", tc.wantStdout, stdout.String())
			}
		})
	}
}

func TestIsTerminal(t *testing.T) {
	t.Parallel()
	file, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	for name, w := range map[string]any{"buffer": &bytes.Buffer{}, "file": file, "/dev/null (a character device)": devNull} {
		if isTerminal(w.(interface{ Write([]byte) (int, error) })) {
			t.Errorf("%s is taken for a terminal", name)
		}
	}
}
