// Package leakcheck fails a package's tests when goroutines outlive them. Every worker erasure
// starts (sagas, projections, the webhook intake, the service around them) must stop on Close
// or when its context ends; a goroutine still running after the last test is one that would
// pile up in a replica that reopens its stores, or keep a file, a connection or a consumer busy.
//
// Use it as the package's TestMain:
//
//	func TestMain(m *testing.M) { leakcheck.Main(m) }
//
// It runs the tests as pgtest.RunMain does (pgtest's admin connection is closed and its throwaway
// PostgreSQL server stopped first) and then looks for goroutines with goleak. A leak of ours is
// fixed where the goroutine is started; only a third-party goroutine that legitimately outlives
// a test may be ignored, with goleak.IgnoreTopFunction passed to Main and a comment saying why.
// None is at present: the embedded nats-server, database/sql and the SQLite driver all stop
// their goroutines when closed.
package leakcheck

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/erasure-dev/erasure/internal/pgtest"
)

// Main runs m's tests and, when they pass, fails the binary if goroutines other than those
// ignore lets through are still running (goleak retries for a while, so that goroutines being
// stopped have time to end). It does not return.
func Main(m *testing.M, ignore ...goleak.Option) {
	goleak.VerifyTestMain(withPostgres{m}, ignore...)
}

// withPostgres runs the tests and then stops pgtest's server and closes its admin connection,
// whose database/sql opener would otherwise count as a leak.
type withPostgres struct{ m *testing.M }

func (w withPostgres) Run() int { return pgtest.RunMain(w.m) }
