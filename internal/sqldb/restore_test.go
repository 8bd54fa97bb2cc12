package sqldb_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
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
	live := openLive(t, dir)
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

	conn, err = live.Projection.Connx(ctx)
	require.NoError(t, err)
	require.Error(t, sqldb.Restore(ctx, conn, filepath.Join(t.TempDir(), "missing.db")), "no fresh file, no restore")
	require.NoError(t, conn.Close())
	require.NoError(t, live.ReadModel.SelectContext(ctx, &rows, `SELECT x FROM t`))
	require.Equal(t, []string{"kept"}, rows, "a missing file is not restored as an empty database")

	require.NoError(t, live.Close())
	b, err := os.ReadFile(filepath.Join(dir, sqldb.ReadModelFile))
	require.NoError(t, err)
	require.Equal(t, []byte{2, 2}, b[18:20], "the file header says WAL mode, as before the restore")
}

// TestTruncateWALReportsBusy: SQLite answers a truncating checkpoint that a reader holds off
// with a row, not an error; TruncateWAL makes it one.
func TestTruncateWALReportsBusy(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	live := openLive(t, dir)
	_, err := live.Projection.ExecContext(ctx, `CREATE TABLE t (x INTEGER)`)
	require.NoError(t, err)
	// A deferred transaction by hand: the pools' own begin takes the write lock (_txlock).
	reader, err := live.ReadModel.Connx(ctx)
	require.NoError(t, err)
	defer reader.Close()
	_, err = reader.ExecContext(ctx, `BEGIN`)
	require.NoError(t, err)
	var n int
	require.NoError(t, reader.GetContext(ctx, &n, `SELECT COUNT(*) FROM t`), "a read transaction holds its snapshot")
	_, err = live.Projection.ExecContext(ctx, `INSERT INTO t (x) VALUES (1)`)
	require.NoError(t, err)

	impatient, err := sqlx.Open("sqlite", "file:"+filepath.Join(dir, sqldb.ReadModelFile)+"?_pragma=busy_timeout(50)")
	require.NoError(t, err)
	t.Cleanup(func() { _ = impatient.Close() })
	require.ErrorIs(t, sqldb.TruncateWAL(ctx, impatient), sqldb.ErrCheckpointBusy)
	_, err = reader.ExecContext(ctx, `ROLLBACK`)
	require.NoError(t, err)
	require.NoError(t, sqldb.TruncateWAL(ctx, impatient))
	fi, err := os.Stat(filepath.Join(dir, sqldb.ReadModelFile+"-wal"))
	require.NoError(t, err)
	require.Zero(t, fi.Size())
}

// openLive opens the live SQLite databases under dir until the test ends.
func openLive(t *testing.T, dir string) *sqldb.DBs {
	t.Helper()
	live, err := sqldb.OpenSQLite(dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = live.Close() })
	return live
}
