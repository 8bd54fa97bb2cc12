package projections

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A follow that restarts takes the stored checkpoint as its position, back or forth: a crash of
// the database server may have lost the last commits, and a read-your-writes wait (WaitFor
// compares with the position) must not count them as applied.
func TestRestartTakesTheStoredCheckpoint(t *testing.T) {
	t.Parallel()
	r := NewRunner(nil, nil, RunnerConfig{})
	r.advance(10)
	r.restart(4)
	require.Equal(t, uint64(4), r.Position())
	r.advance(3)
	require.Equal(t, uint64(4), r.Position(), "an apply never moves it back")
	r.restart(12)
	require.Equal(t, uint64(12), r.Position())
}
