// Package testenv starts a real erasure service for tests: an embedded nats-server with
// JetStream on disk, and either embedded SQLite or a fresh PostgreSQL database (pgtest).
package testenv

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/api/httpx"
	"github.com/erasure-dev/erasure/config"
	"github.com/erasure-dev/erasure/internal/pgtest"
	"github.com/erasure-dev/erasure/service"
)

// Dialects every read-model test runs on.
var Dialects = []string{"sqlite", "postgres"}

// Env is a running service and its HTTP test server.
type Env struct {
	Config  config.Config
	Options []service.Option
	Svc     *service.Service
	HTTP    *httptest.Server
	t       testing.TB
}

// Config returns a configuration for dialect with its own data directory (and database).
func Config(t testing.TB, dialect string) config.Config {
	cfg := config.FromEnv()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.NATSURL = ""
	cfg.DatabaseURL = ""
	cfg.MasterKey = ""
	if dialect == "postgres" {
		cfg.DatabaseURL = pgtest.New(t)
	}
	return cfg
}

// Start opens a service on cfg and serves it over httptest; both stop when the test ends.
func Start(t testing.TB, cfg config.Config, opts ...service.Option) *Env {
	t.Helper()
	e := &Env{Config: cfg, Options: opts, t: t}
	e.open()
	t.Cleanup(e.Stop)
	return e
}

func (e *Env) open() {
	e.t.Helper()
	svc, err := service.Open(context.Background(), e.Config, Logger(), e.Options...)
	require.NoError(e.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(e.t, svc.WaitCaughtUp(ctx))
	e.Svc, e.HTTP = svc, httptest.NewUnstartedServer(svc.Handler())
	e.HTTP.Config.ConnContext = httpx.ConnContext // as serve's server does
	e.HTTP.Start()
}

// Stop closes the HTTP server and the service; calling it twice is harmless.
func (e *Env) Stop() {
	if e.Svc == nil {
		return
	}
	e.HTTP.Close()
	e.Svc.Close()
	e.Svc = nil
}

// Restart stops the service and opens it again on the same data directory and database.
func (e *Env) Restart() {
	e.t.Helper()
	e.Stop()
	e.open()
}

// Logger returns a logger that is quiet unless ERASURE_TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("ERASURE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// ForEachDialect runs fn as a parallel subtest on every dialect.
func ForEachDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	for _, d := range Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

// DropPostgresSchema drops a schema of the database at dsn, as an operator wiping a read model would.
func DropPostgresSchema(t testing.TB, dsn, schema string) {
	t.Helper()
	db, err := sql.Open("postgres", dsn)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec("DROP SCHEMA " + schema + " CASCADE")
	require.NoError(t, err)
}

// FreePort returns a TCP port that was free a moment ago on 127.0.0.1.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
