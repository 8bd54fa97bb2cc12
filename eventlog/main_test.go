package eventlog_test

import (
	"testing"

	"github.com/erasure-dev/erasure/internal/testenv/leakcheck"
)

// No goroutine of the log (consumers, heartbeats, follows) outlives a test.
func TestMain(m *testing.M) { leakcheck.Main(m) }
