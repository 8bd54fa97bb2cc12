// Package storeerr tells a store that is down or full from one that refused a request.
package storeerr

import (
	"database/sql/driver"
	"errors"
	"net"
	"strings"
	"syscall"

	"github.com/lib/pq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Down reports whether err comes from a store that is down, unreachable or full (PostgreSQL,
// SQLite, JetStream), as opposed to one that refused the request: the same call succeeds once
// the store is back, so callers retry it for as long as that takes instead of giving up.
func Down(err error) bool {
	if err == nil {
		return false
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch {
		case strings.HasPrefix(string(pqErr.Code), "08"), // connection exception
			strings.HasPrefix(string(pqErr.Code), "57P"), // shutting down, cannot connect now
			strings.HasPrefix(string(pqErr.Code), "53"):  // insufficient resources: disk full, out of memory
			return true
		}
		return false
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		// nats-server's codes: cluster not available (10008), insufficient resources (10023),
		// memory or storage resources exceeded (10028, 10047), the stream's store failed (10077).
		switch apiErr.ErrorCode {
		case 10008, 10023, 10028, 10047, 10077, jetstream.JSErrCodeJetStreamNotEnabled:
			return true
		}
		return apiErr.Code == 503
	}
	var opErr *net.OpError
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ENOSPC), errors.As(err, &opErr),
		errors.Is(err, nats.ErrNoResponders), errors.Is(err, nats.ErrTimeout), errors.Is(err, nats.ErrConnectionClosed),
		errors.Is(err, nats.ErrDisconnected), errors.Is(err, jetstream.ErrNoStreamResponse),
		errors.Is(err, jetstream.ErrJetStreamNotEnabled):
		return true
	}
	// database/sql and lib/pq report a server that went away in words only.
	msg := err.Error()
	return strings.Contains(msg, "connection refused") || strings.Contains(msg, "bad connection") ||
		strings.Contains(msg, "the database system is") || strings.Contains(msg, "no space left on device") ||
		strings.Contains(msg, "database or disk is full")
}
