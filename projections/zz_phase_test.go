package projections_test

import (
	"context"
	"log/slog"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/projections"
)

func TestZZPhases(t *testing.T) {
	s := newStore(t)
	last := seedBusyLog(t, s, 20000)
	dsn := newDSN(t, "postgres")
	live := openDBs(t, "postgres", dsn)
	r := projections.NewRunner(live.ReadModel, s, projections.RunnerConfig{Logger: quiet}, projections.All()...)
	c := rebuildConfig4096("postgres", dsn)
	c.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sum, err := r.Rebuild(context.Background(), c)
	require.NoError(t, err)
	t.Logf("%d %+v", last, sum)
}
