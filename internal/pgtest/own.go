package pgtest

import (
	"os"
	"path/filepath"
	"testing"
)

// Server is a throwaway PostgreSQL server of one test's own, which the test may stop and start
// again (an outage). Unlike New's shared server it needs the local PostgreSQL binaries; under
// CI=true their absence fails the test instead of skipping it.
type Server struct {
	s *server
	t testing.TB
}

// Own starts a server for t; it is stopped and removed when t ends.
func Own(t testing.TB) *Server {
	t.Helper()
	bin, err := findBinDir()
	if err != nil {
		unavailable(t, "pgtest: a server of the test's own needs initdb and pg_ctl: %v", err)
		return nil
	}
	s, err := startServer(bin, true)
	if err != nil {
		unavailable(t, "pgtest: start a server: %v", err)
		return nil
	}
	t.Cleanup(func() {
		_ = s.stop()
		_ = os.RemoveAll(s.dir)
	})
	return &Server{s: s, t: t}
}

// URL is the server's postgres database, in lib/pq URL form.
func (o *Server) URL() string { return o.s.url().String() }

// Kill stops the server at once, as a crash or a lost host would (pg_ctl -m immediate).
func (o *Server) Kill() {
	o.t.Helper()
	if err := o.s.run("pg_ctl", "-D", o.s.data, "-m", "immediate", "-w", "stop"); err != nil {
		o.t.Fatalf("pgtest: stop: %v", err)
	}
}

// Start starts the stopped server again on the same port and data.
func (o *Server) Start() {
	o.t.Helper()
	if err := o.s.run("pg_ctl", "-D", o.s.data, "-l", filepath.Join(o.s.dir, "server.log"), "-w", "-t", "120", "start"); err != nil {
		o.t.Fatalf("pgtest: start: %v", err)
	}
}
