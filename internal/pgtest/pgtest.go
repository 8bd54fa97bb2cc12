// Package pgtest gives tests a real, private PostgreSQL database.
//
// New returns the DSN of a freshly created, empty database that is dropped
// when the test ends. The server behind it is chosen once per test binary:
//
//  1. If DATABASE_URL is set (lib/pq URL form, e.g.
//     postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable), that
//     server is used; the role in the URL must be allowed to CREATE DATABASE.
//  2. Otherwise, if the PostgreSQL server binaries (initdb, pg_ctl) are found
//     in PATH or under /usr/lib/postgresql/*/bin, a throwaway server is
//     initialised in a temporary directory and started on a free 127.0.0.1
//     port with fsync disabled. When running as root it runs as the
//     "postgres" user (via runuser).
//  3. Otherwise the test is skipped, or fails if CI=true.
//
// If the server cannot be reached, the test is skipped (or fails if
// CI=true), with the error.
//
// Packages that use pgtest should stop the throwaway server from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.RunMain(m)) }
//
// As a backstop, a small watchdog process stops the throwaway server and
// removes its directory once the test binary has exited, so that a test
// binary killed by a timeout or a signal does not leak a server.
package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/lib/pq" // registers the "postgres" database/sql driver
)

// DBPrefix is the prefix of every database name created by New.
const DBPrefix = "erasure_test_"

var (
	once     sync.Once
	mu       sync.Mutex // guards the variables below after once has run
	adminURL *url.URL   // URL of a maintenance database on the server
	adminDB  *sql.DB    // connection pool to adminURL
	local    *server    // throwaway server, nil when DATABASE_URL is used
	setupErr *setupError
)

// setupError records why no server is available.
type setupError struct {
	msg string
}

// New creates a fresh, empty database for t and returns its DSN in lib/pq
// URL form. The database is dropped (WITH (FORCE)) in t.Cleanup. Safe to
// call from parallel tests and from test binaries running in parallel.
func New(t testing.TB) string {
	t.Helper()
	once.Do(setup)

	mu.Lock()
	serr, admin, base := setupErr, adminDB, adminURL
	mu.Unlock()
	if serr != nil {
		unavailable(t, "%s", serr.msg)
		return ""
	}
	if admin == nil {
		t.Fatalf("pgtest: PostgreSQL server already stopped (New called after RunMain finished?)")
	}

	name := DBPrefix + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// template0 is always empty and never has connections, so concurrent
	// CREATE DATABASE calls cannot fail with "source database is being
	// accessed by other users".
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+quoteIdent(name)+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		unavailable(t, "pgtest: create database %s on %s: %v", name, redact(base), err)
		return ""
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+quoteIdent(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})

	u := *base
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

// RunMain runs the tests and then stops the throwaway server, if New started
// one. Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.RunMain(m)) }
func RunMain(m *testing.M) int {
	code := m.Run()
	Shutdown()
	return code
}

// Shutdown closes the connection to the server and stops the throwaway
// server, if one was started. RunMain calls it; call it directly only when
// TestMain cannot use RunMain. New must not be called afterwards.
func Shutdown() {
	mu.Lock()
	db, srv := adminDB, local
	adminDB, local = nil, nil
	mu.Unlock()
	if db != nil {
		_ = db.Close()
	}
	if srv != nil {
		if err := srv.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		}
	}
}

// unavailable skips t, or fails it when running under CI.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if inCI() {
		t.Fatalf(format+" (CI=true, so not skipping)", args...)
	}
	t.Skipf(format, args...)
}

func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// setup resolves the server once per process.
func setup() {
	u, srv, serr := resolve()
	if serr == nil {
		var db *sql.DB
		db, serr = connect(u)
		if serr != nil && srv != nil {
			_ = srv.stop()
			srv = nil
		}
		if serr == nil {
			mu.Lock()
			adminDB = db
			mu.Unlock()
		}
	}
	mu.Lock()
	defer mu.Unlock()
	adminURL, local, setupErr = u, srv, serr
}

func resolve() (*url.URL, *server, *setupError) {
	if raw := os.Getenv("DATABASE_URL"); raw != "" {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
			return nil, nil, &setupError{msg: fmt.Sprintf("pgtest: DATABASE_URL must be a postgres:// URL with a host, got %q", redactString(raw))}
		}
		return u, nil, nil
	}
	bin, err := findBinDir()
	if err != nil {
		return nil, nil, &setupError{msg: "pgtest: no DATABASE_URL and no initdb/pg_ctl found (" + err.Error() + ")"}
	}
	srv, err := startServer(bin, false)
	if err != nil {
		return nil, nil, &setupError{msg: fmt.Sprintf("pgtest: start throwaway PostgreSQL from %s: %v", bin, err)}
	}
	return srv.url(), srv, nil
}

func connect(u *url.URL) (*sql.DB, *setupError) {
	fail := func(err error) (*sql.DB, *setupError) {
		return nil, &setupError{msg: fmt.Sprintf("pgtest: connect to PostgreSQL at %s: %v", redact(u), err)}
	}
	db, err := sql.Open("postgres", u.String())
	if err != nil {
		return fail(err)
	}
	db.SetMaxOpenConns(4)
	db.SetConnMaxIdleTime(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return fail(err)
	}
	return db, nil
}

// findBinDir returns a directory holding initdb, pg_ctl and postgres:
// first the directory of initdb in PATH, then the newest
// /usr/lib/postgresql/<version>/bin.
func findBinDir() (string, error) {
	complete := func(dir string) bool {
		for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	var candidates []string
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			candidates = append(candidates, filepath.Dir(real))
		}
		candidates = append(candidates, filepath.Dir(p))
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	candidates = append(candidates, dirs...)
	for _, dir := range candidates {
		if complete(dir) {
			return dir, nil
		}
	}
	return "", errors.New("looked in PATH and /usr/lib/postgresql/*/bin")
}

func pgVersion(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

// server is a throwaway PostgreSQL cluster.
type server struct {
	bin      string
	dir      string // temporary directory, removed by stop
	data     string // data directory inside dir
	port     int
	asUser   string // non-empty: run server commands as this user via runuser
	runuser  string // path of runuser, set with asUser
	watchdog *exec.Cmd
	// durable keeps every commit through a crash of the server (synchronous_commit on): for
	// tests that kill it. The shared server trades that for speed.
	durable bool
}

func (s *server) url() *url.URL {
	return &url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/postgres",
		RawQuery: "sslmode=disable",
	}
}

// command builds a command running a PostgreSQL binary, as s.asUser if set.
func (s *server) command(name string, args ...string) *exec.Cmd {
	prog := filepath.Join(s.bin, name)
	var cmd *exec.Cmd
	if s.asUser != "" {
		cmd = exec.Command(s.runuser, append([]string{"-u", s.asUser, "--", prog}, args...)...)
	} else {
		cmd = exec.Command(prog, args...)
	}
	cmd.Dir = s.dir // initdb and pg_ctl complain if they cannot read the cwd
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C", "PGTZ=UTC")
	return cmd
}

// run runs a PostgreSQL binary with its output going to a file (not a pipe:
// a daemon inheriting a pipe would keep `go test` waiting for EOF).
func (s *server) run(name string, args ...string) error {
	out, err := os.CreateTemp(s.dir, name+"-*.out")
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := s.command(name, args...)
	cmd.Stdin = nil
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Run(); err != nil {
		_, _ = out.Seek(0, 0)
		var b bytes.Buffer
		_, _ = b.ReadFrom(out)
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, strings.TrimSpace(b.String()))
	}
	return nil
}

func startServer(bin string, durable bool) (_ *server, err error) {
	s := &server{bin: bin, durable: durable}
	base := os.TempDir()
	if os.Geteuid() == 0 {
		if s.runuser, err = findRunuser(); err != nil {
			return nil, err
		}
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root, which initdb refuses, and there is no postgres user: %v", err)
		}
		s.asUser = "postgres"
		// TMPDIR may be private to root; /tmp is reachable by everybody.
		if fi, err := os.Stat("/tmp"); err == nil && fi.IsDir() && fi.Mode().Perm()&0o003 == 0o003 {
			base = "/tmp"
		}
		if s.dir, err = os.MkdirTemp(base, "pgtest-"); err != nil {
			return nil, err
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(s.dir, uid, gid); err != nil {
			_ = os.RemoveAll(s.dir)
			return nil, err
		}
	} else if s.dir, err = os.MkdirTemp(base, "pgtest-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(s.dir)
		}
	}()
	s.data = filepath.Join(s.dir, "data")

	if err := s.run("initdb", "-D", s.data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return nil, err
	}

	// The port is picked by binding :0 and releasing it, so another process
	// may grab it before the server does; retry a few times.
	for attempt := 1; ; attempt++ {
		if s.port, err = freePort(); err != nil {
			return nil, err
		}
		if err = s.writeConf(); err != nil {
			return nil, err
		}
		err = s.run("pg_ctl", "-D", s.data, "-l", filepath.Join(s.dir, "server.log"), "-w", "-t", "120", "start")
		if err == nil {
			break
		}
		if attempt == 3 {
			log, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
			return nil, fmt.Errorf("%v\nserver log:\n%s", err, tail(string(log), 2000))
		}
	}
	s.startWatchdog()
	return s, nil
}

// writeConf writes the settings of the throwaway server. It is included from
// postgresql.conf and rewritten before each start attempt.
func (s *server) writeConf() error {
	conf := fmt.Sprintf(`# written by pgtest
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = ''
max_connections = 200
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
`, s.port)
	if s.durable {
		// A killed server (pg_ctl -m immediate) must keep what it acknowledged, as a real one
		// does; the machine itself does not crash, so fsync may stay off.
		conf = strings.Replace(conf, "synchronous_commit = off", "synchronous_commit = on", 1)
	}
	path := filepath.Join(s.data, "pgtest.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return err
	}
	main := filepath.Join(s.data, "postgresql.conf")
	b, err := os.ReadFile(main)
	if err != nil {
		return err
	}
	if !bytes.Contains(b, []byte("include 'pgtest.conf'")) {
		f, err := os.OpenFile(main, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		if _, err := f.WriteString("\ninclude 'pgtest.conf'\n"); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

// startWatchdog starts a detached shell that stops the server and removes
// its directory once this process has exited, in case Shutdown never runs
// (test timeout, os.Exit without RunMain, signal). It ignores SIGINT/SIGHUP
// so that a Ctrl-C sent to the process group does not prevent the cleanup.
func (s *server) startWatchdog() {
	const script = `trap '' INT HUP QUIT
while kill -0 "$1" 2>/dev/null; do sleep 1; done
if [ -n "$5" ]; then "$6" -u "$5" -- "$2" -D "$3" -m immediate -w stop; else "$2" -D "$3" -m immediate -w stop; fi
rm -rf "$4"`
	cmd := exec.Command("/bin/sh", "-c", script, "pgtest-watchdog",
		strconv.Itoa(os.Getpid()), filepath.Join(s.bin, "pg_ctl"), s.data, s.dir, s.asUser, s.runuser)
	cmd.Dir = "/"
	// Stdin/Stdout/Stderr stay nil (/dev/null): the watchdog outlives us.
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: cannot start watchdog (%v); call pgtest.RunMain from TestMain to stop the server\n", err)
		return
	}
	s.watchdog = cmd
}

func (s *server) stop() error {
	if s.watchdog != nil {
		_ = s.watchdog.Process.Kill()
		_ = s.watchdog.Wait()
	}
	err := s.run("pg_ctl", "-D", s.data, "-m", "immediate", "-w", "-t", "60", "stop")
	if rmErr := os.RemoveAll(s.dir); rmErr != nil && err == nil {
		err = rmErr
	}
	if err != nil {
		return fmt.Errorf("stop throwaway PostgreSQL in %s: %v", s.dir, err)
	}
	return nil
}

func findRunuser() (string, error) {
	if p, err := exec.LookPath("runuser"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("running as root, which initdb refuses, and runuser is not available")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func redact(u *url.URL) string {
	if u == nil {
		return "<nil>"
	}
	return u.Redacted()
}

func redactString(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "<unparseable>"
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
