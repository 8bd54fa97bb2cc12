// Package leakcheck fails a package's tests when goroutines outlive them. Every worker erasure
// starts (sagas, projections, the webhook intake, the service around them) must stop on Close
// or when its context ends; a goroutine still running after the last test is one that would
// pile up in a replica that reopens its stores, or keep a file, a connection or a consumer busy.
//
// Use it as the package's TestMain:
//
//	func TestMain(m *testing.M) { leakcheck.Main(m) }
//
// It runs the tests as pgtest.RunMain does (the throwaway PostgreSQL server is stopped first)
// and then looks for goroutines with goleak, ignoring only those of third-party code listed in
// Ignored, each with the reason it may legitimately outlive a test.
package leakcheck

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/erasure-dev/erasure/internal/pgtest"
)

// Main runs m's tests and, when they pass, fails the binary if goroutines other than those of
// Ignored and extra are still running (goleak retries for a while, so that goroutines that are
// being stopped have time to end). It does not return.
func Main(m *testing.M, extra ...goleak.Option) {
	goleak.VerifyTestMain(withPostgres{m}, append(Ignored(), extra...)...)
}

// withPostgres runs the tests and then stops pgtest's server and closes its admin connection,
// whose database/sql opener would otherwise count as a leak.
type withPostgres struct{ m *testing.M }

func (w withPostgres) Run() int { return pgtest.RunMain(w.m) }

// Ignored lists third-party goroutines that outlive a test by design, not by a missing Stop.
func Ignored() []goleak.Option {
	return []goleak.Option{}
}
