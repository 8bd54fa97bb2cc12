package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/internal/testenv"
	"github.com/erasure-dev/erasure/internal/testenv/leakcheck"
	"github.com/erasure-dev/erasure/projections"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// A projection whose code version differs from the one its tables were built with is rebuilt
// beside the live tables when the server starts, and swapped in; the server answers meanwhile.
func TestStaleProjectionRebuiltAtStart(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := testenv.Start(t, testenv.Config(t, dialect))
		ctx := context.Background()
		caller := app.Caller{RequestID: "t", Actor: "test"}
		_, err := env.Svc.App.CreateGroup(ctx, caller, "g", "G", "")
		require.NoError(t, err)
		var versions int
		require.NoError(t, env.Svc.DBs.ReadModel.Get(&versions, `SELECT COUNT(*) FROM projection_versions`))
		require.Equal(t, len(projections.All()), versions, "a fresh read model records the versions it is built with")

		// As if the registry's code had changed since (and its tables were built wrong by the
		// old code), and the audit projection were new to this database.
		for _, q := range []string{
			`UPDATE projection_versions SET version = version - 1 WHERE name = 'registry'`,
			`DELETE FROM projection_versions WHERE name = 'audit'`,
			`DELETE FROM audit_log`,
			`UPDATE groups SET name = 'built by old code'`,
		} {
			_, err := env.Svc.DBs.ReadModel.Exec(q)
			require.NoError(t, err)
		}
		env.Restart()
		require.Eventually(t, func() bool {
			g, err := env.Svc.App.GetGroup(ctx, "g")
			return err == nil && g.Name == "G"
		}, 30*time.Second, 20*time.Millisecond)
		require.Eventually(t, func() bool {
			stale, err := env.Svc.Projection.Stale(ctx)
			return err == nil && len(stale) == 0
		}, 30*time.Second, 20*time.Millisecond)
		v, err := env.Svc.App.VerifyAudit(ctx)
		require.NoError(t, err)
		require.True(t, v.OK)
		require.Equal(t, uint64(1), v.Entries)
		_, err = env.Svc.App.GetGroup(ctx, "nosuch")
		require.ErrorIs(t, err, domain.ErrGroupNotFound)
	})
}
