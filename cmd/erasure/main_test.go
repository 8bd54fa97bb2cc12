package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/erasure-dev/erasure/internal/pgtest"
	"github.com/erasure-dev/erasure/internal/testenv"
)

// binary is the erasure command built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "erasure-cmd-test-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "temp dir: %v\n", err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "erasure")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := pgtest.RunMain(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	readyTimeout = 20 * time.Second
	stopTimeout  = 10 * time.Second
	cmdTimeout   = 60 * time.Second
)

// childEnv is the test process's environment without any erasure configuration, plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "NATS_URL" || name == "DATABASE_URL" || strings.HasPrefix(name, "ERASURE_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// syncBuffer is a bytes.Buffer safe to read while exec copies the child's output into it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type result struct {
	code           int
	stdout, stderr string
}

// runCmd runs erasure to completion (bounded by cmdTimeout) and returns its exit code and output.
func runCmd(t *testing.T, env []string, args ...string) result {
	t.Helper()
	var stdout, stderr syncBuffer
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start erasure %v: %v", args, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exitErr *exec.ExitError
		if err != nil && !errors.As(err, &exitErr) {
			t.Fatalf("erasure %v: %v", args, err)
		}
	case <-time.After(cmdTimeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("erasure %v did not finish within %v\nstderr:\n%s", args, cmdTimeout, stderr.String())
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// server is a running `erasure serve` process.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	base   string // http://host:port
	stderr *syncBuffer
	done   chan struct{}
	err    error // cmd.Wait's result, set before done is closed
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startServer runs `erasure serve --data dir` on a free port and waits until /readyz answers 200.
// The process is killed when the test ends if it is still running.
func startServer(t *testing.T, dir string, env []string) *server {
	t.Helper()
	// A port found free can be taken by someone else before the child binds it; retry then.
	for attempt := 1; ; attempt++ {
		s := launch(t, dir, env)
		err := s.waitReady()
		if err == nil {
			return s
		}
		if s.exited() && strings.Contains(s.stderr.String(), "address already in use") && attempt < 3 {
			continue
		}
		s.kill()
		t.Fatalf("erasure serve not ready: %v\nstderr:\n%s", err, s.stderr.String())
	}
}

func launch(t *testing.T, dir string, env []string) *server {
	t.Helper()
	addr := freeAddr(t)
	s := &server{t: t, base: "http://" + addr, stderr: &syncBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(binary, "serve", "--data", dir, "--http", addr, "--log-format", "text")
	s.cmd.Env = env
	s.cmd.Stdout, s.cmd.Stderr = s.stderr, s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start erasure serve: %v", err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(s.kill)
	return s
}

func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *server) kill() {
	if !s.exited() {
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func (s *server) waitReady() error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(readyTimeout)
	var last string
	for time.Now().Before(deadline) {
		if s.exited() {
			return fmt.Errorf("exited early (%v)", s.err)
		}
		resp, err := client.Get(s.base + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		select {
		case <-s.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("/readyz not 200 within %v (last: %s)", readyTimeout, last)
}

// stop sends sig and requires the process to exit with code 0 within stopTimeout.
func (s *server) stop(sig os.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signal %v: %v", sig, err)
	}
	start := time.Now()
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		s.kill()
		s.t.Fatalf("erasure serve did not exit within %v of %v\nstderr:\n%s", stopTimeout, sig, s.stderr.String())
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		s.t.Fatalf("erasure serve exited with %d (%v) after %v\nstderr:\n%s", code, s.err, sig, s.stderr.String())
	}
	s.t.Logf("erasure serve stopped %v after %v", time.Since(start).Round(time.Millisecond), sig)
}

func (s *server) do(method, path, body string) (int, map[string]any) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return s.doRequest(req)
}

// doRequest sends req with a deadline: the server is another process, which a test may kill
// while a request is under way.
func (s *server) doRequest(req *http.Request) (int, map[string]any) {
	s.t.Helper()
	return testenv.Client{T: s.t, Timeout: 30 * time.Second}.Send(req)
}

func (s *server) createGroup(id, name string) {
	s.t.Helper()
	code, body := s.do(http.MethodPost, "/v1/groups", fmt.Sprintf(`{"group_id":%q,"name":%q}`, id, name))
	if code != http.StatusCreated {
		s.t.Fatalf("POST /v1/groups: %d %v", code, body)
	}
	if body["group_id"] != id || body["name"] != name {
		s.t.Fatalf("POST /v1/groups answered %v", body)
	}
}

func (s *server) requireGroup(id, name string) {
	s.t.Helper()
	code, body := s.do(http.MethodGet, "/v1/groups/"+id, "")
	if code != http.StatusOK {
		s.t.Fatalf("GET /v1/groups/%s: %d %v", id, code, body)
	}
	if body["group_id"] != id || body["name"] != name {
		s.t.Fatalf("GET /v1/groups/%s answered %v, want name %q", id, body, name)
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	env := childEnv()
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"--help"}, 0},
		{[]string{"help"}, 0},
		{[]string{"-h"}, 0},
		{nil, 2},
	} {
		t.Run(fmt.Sprintf("%q", tc.args), func(t *testing.T) {
			t.Parallel()
			r := runCmd(t, env, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit code %d, want %d\nstderr:\n%s", r.code, tc.code, r.stderr)
			}
			for _, want := range []string{"Usage:", "serve", "migrate"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("usage lacks %q:\n%s", want, r.stdout)
				}
			}
		})
	}
}

func TestServeHelp(t *testing.T) {
	t.Parallel()
	r := runCmd(t, childEnv(), "serve", "--help")
	if r.code != 0 {
		t.Errorf("exit code %d, want 0", r.code)
	}
	out := r.stdout + r.stderr
	for _, want := range []string{"Usage: erasure serve", "-data", "-http", "-nats-listen", "-log-format"} {
		if !strings.Contains(out, want) {
			t.Errorf("serve --help lacks %q:\n%s", want, out)
		}
	}
}

func TestMigrateHelp(t *testing.T) {
	t.Parallel()
	r := runCmd(t, childEnv(), "migrate", "--help")
	if r.code != 0 {
		t.Errorf("exit code %d, want 0", r.code)
	}
	out := r.stdout + r.stderr
	if !strings.Contains(out, "-data") || strings.Contains(out, "-http") {
		t.Errorf("migrate --help should list --data but not --http:\n%s", out)
	}
}

func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	r := runCmd(t, childEnv(), "frobnicate")
	if r.code != 2 {
		t.Errorf("exit code %d, want 2", r.code)
	}
	if !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
		t.Errorf("stderr does not name the unknown command:\n%s", r.stderr)
	}
}

func TestBadFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--log-format", "xml"}, "--log-format"},
		{[]string{"migrate", "--log-format", "xml"}, "--log-format"},
		{[]string{"serve", "--log-level", "loud"}, "--log-level"},
		{[]string{"serve", "--http", "nocolon"}, "--http"},
		{[]string{"serve", "--nats-listen", "nocolon"}, "--nats-listen"},
		{[]string{"serve", "--no-such-flag"}, "no-such-flag"},
		{[]string{"serve", "extra"}, "unexpected arguments"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			// A data directory of its own, so a wrongly accepted configuration cannot touch ./data.
			args := append([]string{tc.args[0], "--data", t.TempDir()}, tc.args[1:]...)
			r := runCmd(t, childEnv(), args...)
			if r.code != 2 {
				t.Fatalf("exit code %d, want 2\nstderr:\n%s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr does not mention %q:\n%s", tc.want, r.stderr)
			}
		})
	}
}

func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			env := childEnv()

			s := startServer(t, dir, env)
			info, err := os.Stat(filepath.Join(dir, "master.key"))
			if err != nil {
				t.Fatalf("master key: %v", err)
			}
			if mode := info.Mode().Perm(); mode != 0o600 {
				t.Errorf("master.key mode %v, want 0600", mode)
			}
			s.createGroup("g1", "G")
			s.stop(sig)

			s = startServer(t, dir, env)
			s.requireGroup("g1", "G")
			s.stop(sig)
		})
	}
}

func TestDataDirLock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := childEnv()
	s := startServer(t, dir, env)

	// Exit code 2: the command could not run. A panic exits 2 as well, so its trace is ruled out.
	r := runCmd(t, env, "migrate", "--data", dir)
	if r.code != 2 || strings.Contains(r.stderr, "panic:") {
		t.Fatalf("migrate while the server runs: exit %d, want 2 without a panic\nstderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "data directory is in use") {
		t.Errorf("migrate error does not say the data directory is in use:\n%s", r.stderr)
	}
	// A second server is refused the same way.
	r = runCmd(t, env, "serve", "--data", dir, "--http", freeAddr(t))
	if r.code != 2 || !strings.Contains(r.stderr, "data directory is in use") {
		t.Errorf("second serve: exit %d, stderr:\n%s", r.code, r.stderr)
	}

	s.stop(syscall.SIGTERM)
	r = runCmd(t, env, "migrate", "--data", dir)
	if r.code != 0 {
		t.Fatalf("migrate after the server stopped: exit %d\nstderr:\n%s", r.code, r.stderr)
	}
}

func TestMigrateFreshDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data") // does not exist yet
	r := runCmd(t, childEnv(), "migrate", "--data", dir)
	if r.code != 0 {
		t.Fatalf("migrate: exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	for _, name := range []string{"readmodel.db", "keys.db", "stores.db"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Migrations are idempotent.
	if r := runCmd(t, childEnv(), "migrate", "--data", dir); r.code != 0 {
		t.Fatalf("second migrate: exit %d\nstderr:\n%s", r.code, r.stderr)
	}
}

func TestServePostgres(t *testing.T) {
	t.Parallel()
	dsn := pgtest.New(t)
	dir := t.TempDir()
	env := childEnv("DATABASE_URL=" + dsn)

	if r := runCmd(t, env, "migrate", "--data", dir); r.code != 0 {
		t.Fatalf("migrate on PostgreSQL: exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	s := startServer(t, dir, env)
	for _, name := range []string{"readmodel.db", "keys.db", "stores.db"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s created although DATABASE_URL is set", name)
		}
	}
	s.createGroup("g1", "G")
	s.requireGroup("g1", "G")
	s.stop(syscall.SIGTERM)
	if log := s.stderr.String(); !strings.Contains(log, "database=postgres") {
		t.Errorf("server log does not say it used PostgreSQL:\n%s", log)
	}

	s = startServer(t, dir, env)
	s.requireGroup("g1", "G")
	s.stop(syscall.SIGTERM)
}
