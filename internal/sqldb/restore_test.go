package sqldb_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/sqldb"
)

// TestRestoreReplacesTheLiveFile: a full rebuild beside a running server restores the fresh
// file's pages into the live one. Readers on the live pool then see the fresh rows only, the
// file stays in WAL mode, and once the write-ahead log is truncated no byte of a row the live
// file held (a deleted person's) is left in either file.
func TestRestoreReplacesTheLiveFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	live, err := sqldb.OpenSQLite(dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = live.Close() })
	const gone = "person-who-was-deleted"
	for _, q := range []string{`CREATE TABLE t (x TEXT NOT NULL)`,
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
			INSERT INTO t (x) SELECT '` + gone + `-' || i FROM n`} {
		_, err := live.Projection.ExecContext(ctx, q)
		require.NoError(t, err)
	}
	var n int
	require.NoError(t, live.ReadModel.GetContext(ctx, &n, `SELECT COUNT(*) FROM t`), "a reader has the old file open")
	require.Equal(t, 500, n)

	freshPath := filepath.Join(t.TempDir(), "fresh.db")
	fresh, err := sqldb.OpenFreshSQLite(ctx, freshPath)
	require.NoError(t, err)
	for _, q := range []string{`CREATE TABLE t (x TEXT NOT NULL)`, `INSERT INTO t (x) VALUES ('kept')`} {
		_, err := fresh.ExecContext(ctx, q)
		require.NoError(t, err)
	}
	require.NoError(t, fresh.Close())

	conn, err := live.Projection.Connx(ctx)
	require.NoError(t, err)
	require.NoError(t, sqldb.Restore(ctx, conn, freshPath))
	_, err = conn.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	require.NoError(t, err)
	require.NoError(t, conn.Close())

	var rows []string
	require.NoError(t, live.ReadModel.SelectContext(ctx, &rows, `SELECT x FROM t`))
	require.Equal(t, []string{"kept"}, rows, "the reader's pool sees the restored file")
	var mode string
	require.NoError(t, live.ReadModel.GetContext(ctx, &mode, `PRAGMA journal_mode`))
	require.Equal(t, "wal", mode)
	for _, f := range []string{sqldb.ReadModelFile, sqldb.ReadModelFile + "-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		require.False(t, strings.Contains(string(b), gone), "%s still holds a replaced row", f)
	}
	require.Error(t, sqldb.Restore(ctx, conn, freshPath), "a closed connection restores nothing")
}
