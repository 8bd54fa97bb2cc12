// Package natsembed runs the in-process nats-server of the embedded mode: JetStream on file
// storage under the data directory, fsync on every write (an accepted deletion must survive a
// power cut), and no TCP port unless one is asked for.
package natsembed

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Options configure the embedded server.
type Options struct {
	StoreDir string // JetStream file store
	Listen   string // optional "host:port" to also accept TCP clients; empty: in-process only
	Memory   bool   // lazy fsync; only for tests that never assert durability across a crash
}

// Server is a running embedded nats-server.
type Server struct {
	srv *server.Server
}

// Start starts the server and waits until it accepts connections.
func Start(o Options) (*Server, error) {
	opts := &server.Options{
		ServerName: "erasure-embedded",
		JetStream:  true,
		StoreDir:   o.StoreDir,
		SyncAlways: !o.Memory,
		DontListen: o.Listen == "",
		NoSigs:     true,
		NoLog:      true,
		// One client process uses this server; generous payloads for chunked bulk requests.
		MaxPayload: 8 << 20,
	}
	if o.Listen != "" {
		host, port, err := net.SplitHostPort(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("nats listen address %q: %w", o.Listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("nats listen port %q: %w", port, err)
		}
		opts.Host, opts.Port = host, p
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start embedded nats-server: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded nats-server not ready after 10s (store %s)", o.StoreDir)
	}
	return &Server{srv: srv}, nil
}

// Connect opens an in-process client connection.
func (s *Server) Connect(name string) (*nats.Conn, error) {
	nc, err := nats.Connect("", nats.InProcessServer(s.srv), nats.Name(name), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("connect to embedded nats-server: %w", err)
	}
	return nc, nil
}

// ClientURL is the TCP address when Listen was given.
func (s *Server) ClientURL() string { return s.srv.ClientURL() }

// Shutdown stops the server and flushes its store.
func (s *Server) Shutdown() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}
