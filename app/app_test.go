package app

import (
	"context"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // a read model with no tables: the runner's checkpoint never advances

	"github.com/erasure-dev/erasure/projections"
)

// WriteTimeout set on App after New bounds the wait for the read model of every capability that
// writes: they share one writes value, so none of them keeps waiting the default 30 s.
func TestWriteTimeoutBoundsEveryCapability(t *testing.T) {
	t.Parallel()
	db, err := sqlx.Open("sqlite", ":memory:")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	a := New(nil, db, nil, nil, projections.NewRunner(db, nil, projections.RunnerConfig{}), nil)
	a.WriteTimeout = 20 * time.Millisecond

	tests := []struct {
		name string
		wait func(ctx context.Context, seq uint64) error
	}{
		{"registry", a.Registry.waitVisible},
		{"deletions", a.Deletions.waitVisible},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := tt.wait(context.Background(), 1) // a sequence the read model never reaches
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.Less(t, time.Since(start), 10*time.Second, "waited past App's WriteTimeout")
		})
	}
}
