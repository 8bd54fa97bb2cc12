// Package jstest gives a test a real, private JetStream: an embedded nats-server (the one the
// embedded mode runs, internal/natsembed) on a store under t.TempDir(), ready before it is
// returned and shut down when the test ends.
//
// It is separate from package testenv, which starts a whole service, so that tests inside the
// packages a service is built from (service, webhooks, sagas and the like) can use it without an
// import cycle. It imports events for Store; tests of package events itself use it from
// package events_test.
package jstest

import (
	"context"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/internal/natsembed"
)

// Options configure the server of Start.
type Options struct {
	// Durable makes the server fsync every write, as the embedded mode does. Without it writes
	// are synced lazily, which is faster and enough for tests that never assert durability across
	// a crash (benchmarks of the durable append path want it).
	Durable bool
	// StoreDir is the JetStream store to open; default a fresh t.TempDir(). A test that reads
	// the log a stopped service left behind names the service's directory.
	StoreDir string
	// Listen also accepts TCP clients on this "host:port" ("127.0.0.1:-1": a free port); empty:
	// in-process connections only.
	Listen string
}

// Server is an embedded nats-server with JetStream, private to one test.
type Server struct {
	t     testing.TB
	srv   *natsembed.Server
	mu    sync.Mutex
	conns []*nats.Conn
	stop  sync.Once
}

// Start starts a server for t; it is stopped (see Stop) when t ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	dir := o.StoreDir
	if dir == "" {
		dir = t.TempDir()
	}
	srv, err := natsembed.Start(natsembed.Options{StoreDir: dir, Memory: !o.Durable, Listen: o.Listen})
	if err != nil {
		t.Fatalf("jstest: %v", err)
	}
	s := &Server{t: t, srv: srv}
	t.Cleanup(s.Stop)
	return s
}

// Stop closes the connections of JetStream, then shuts the server down and flushes its store,
// so that another process may open the store. It runs when the test ends; a test that hands
// the store on before then calls it itself. Calling it again does nothing.
func (s *Server) Stop() {
	s.stop.Do(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, nc := range s.conns {
			nc.Close()
		}
		s.srv.Shutdown()
	})
}

// JetStream opens an in-process connection named name (as a replica's would be) and returns
// its JetStream client; the connection closes when the server stops.
func (s *Server) JetStream(name string) jetstream.JetStream {
	s.t.Helper()
	nc, err := s.srv.Connect(name)
	if err != nil {
		s.t.Fatalf("jstest: %v", err)
	}
	s.mu.Lock()
	s.conns = append(s.conns, nc)
	s.mu.Unlock()
	return client(s.t, nc)
}

// ClientURL is the server's TCP address, for Connect; it needs Options.Listen.
func (s *Server) ClientURL() string { return s.srv.ClientURL() }

// New starts a server for t, as Start, and returns a JetStream client of it.
func New(t testing.TB, o Options) jetstream.JetStream {
	t.Helper()
	return Start(t, o).JetStream(t.Name())
}

// Connect returns a JetStream client of the nats-server at url, a running service's (its
// ERASURE_NATS_LISTEN address, for a test that looks at its stream and consumers); the
// connection closes when the test ends.
func Connect(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.Name(t.Name()))
	if err != nil {
		t.Fatalf("jstest: connect to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return client(t, nc)
}

func client(t testing.TB, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jstest: jetstream client: %v", err)
	}
	return js
}

// Store returns the event log on js, provisioned with cfg.
func Store(t testing.TB, js jetstream.JetStream, cfg eventlog.StoreConfig) *eventlog.Store {
	t.Helper()
	s := eventlog.NewStore(js, cfg)
	if err := s.Provision(context.Background()); err != nil {
		t.Fatalf("jstest: provision the event log: %v", err)
	}
	return s
}
