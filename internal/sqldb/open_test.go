package sqldb_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/pgtest"
	"github.com/erasure-dev/erasure/internal/sqldb"
)

// TestSQLiteOpenersSetTheirPragmas: the live files and a fresh read model share secure_delete
// (a deleted person's rows are overwritten, not left in free pages), foreign keys and a private
// file mode; they differ in journal and durability, as each opener says.
func TestSQLiteOpenersSetTheirPragmas(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	live := openLive(t, dir)
	freshPath := filepath.Join(t.TempDir(), "fresh.db")
	fresh, err := sqldb.OpenFreshSQLite(ctx, freshPath)
	require.NoError(t, err)
	t.Cleanup(func() { _ = fresh.Close() })

	for _, tc := range []struct {
		name        string
		db          *sqlx.DB
		path        string
		journal     string
		synchronous int // 0 OFF, 1 NORMAL, 2 FULL
		cacheKiB    int
		tempStore   int // 0 default (a file past 64 KiB), 2 memory
	}{
		{"read model", live.ReadModel, filepath.Join(dir, sqldb.ReadModelFile), "wal", 1, -16384, 0}, // rebuilt from the log
		{"read model's projection", live.Projection, filepath.Join(dir, sqldb.ReadModelFile), "wal", 1, -16384, 2},
		{"keys", live.Keys, filepath.Join(dir, "keys.db"), "wal", 2, -16384, 0},
		{"stores", live.Stores, filepath.Join(dir, "stores.db"), "wal", 2, -16384, 0},
		{"fresh read model", fresh, freshPath, "memory", 0, -65536, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pragma := func(name string, v any) {
				t.Helper()
				require.NoError(t, tc.db.GetContext(ctx, v, "PRAGMA "+name))
			}
			var journal string
			var secureDelete, foreignKeys, synchronous, cache, busy, tempStore int
			pragma("journal_mode", &journal)
			pragma("secure_delete", &secureDelete)
			pragma("foreign_keys", &foreignKeys)
			pragma("synchronous", &synchronous)
			pragma("cache_size", &cache)
			pragma("busy_timeout", &busy)
			pragma("temp_store", &tempStore)
			require.Equal(t, tc.journal, journal)
			require.Equal(t, 1, secureDelete)
			require.Equal(t, 1, foreignKeys)
			require.Equal(t, tc.synchronous, synchronous)
			require.Equal(t, tc.cacheKiB, cache)
			require.Equal(t, 10000, busy)
			require.Equal(t, tc.tempStore, tempStore)
			info, err := os.Stat(tc.path)
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
		})
	}
}

// TestProjectionWritesThroughOneConnectionOfItsOwn: on SQLite the projection's pool is one
// connection kept open, apart from the readers' pool (its page cache stays valid); on PostgreSQL
// it is the read model's pool.
func TestProjectionWritesThroughOneConnectionOfItsOwn(t *testing.T) {
	ctx := context.Background()
	live, err := sqldb.OpenSQLite(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { _ = live.Close() })
	require.NotSame(t, live.ReadModel, live.Projection)
	require.Equal(t, 1, live.Projection.Stats().MaxOpenConnections)
	var one int
	require.NoError(t, live.Projection.GetContext(ctx, &one, `SELECT 1`))
	require.Equal(t, 1, live.Projection.Stats().Idle, "the connection stays open between uses")

	pg, err := sqldb.OpenPostgres(ctx, pgtest.New(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = pg.Close() })
	require.Same(t, pg.ReadModel, pg.Projection)
	require.NoError(t, pg.Close())
	require.NoError(t, pg.Close(), "closing twice, the shared pool included, is harmless")
}

// TestPostgresOpenersUseTheirSchema: each pool's unqualified names resolve in its own schema.
func TestPostgresOpenersUseTheirSchema(t *testing.T) {
	ctx := context.Background()
	url := pgtest.New(t)
	dbs, err := sqldb.OpenPostgres(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = dbs.Close() })
	fresh, err := sqldb.OpenFreshPostgres(ctx, url, "erasure_rm_fresh")
	require.NoError(t, err)
	t.Cleanup(func() { _ = fresh.Close() })

	// A replay's fresh schema does not wait for each commit's flush (a crashed replay's schema is
	// dropped); the live pools keep the server's setting.
	plain, err := sqlx.Open("postgres", url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = plain.Close() })
	var server string
	require.NoError(t, plain.GetContext(ctx, &server, "SHOW synchronous_commit"))
	for _, tc := range []struct {
		db          *sqlx.DB
		schema      string
		synchronous string
	}{
		{dbs.ReadModel, sqldb.SchemaReadModel, server},
		{dbs.Keys, sqldb.SchemaKeys, server},
		{dbs.Stores, sqldb.SchemaStores, server},
		{fresh, "erasure_rm_fresh", "off"},
	} {
		var got string
		require.NoError(t, tc.db.GetContext(ctx, &got, "SELECT current_schema()"))
		require.Equal(t, tc.schema, got)
		require.NoError(t, tc.db.GetContext(ctx, &got, "SHOW synchronous_commit"))
		require.Equal(t, tc.synchronous, got, tc.schema)
	}
}
