package sqldb_test

import (
	"context"
	"os"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/pgtest"
	"github.com/erasure-dev/erasure/internal/sqldb"
)

func TestMain(m *testing.M) { os.Exit(pgtest.RunMain(m)) }

// TestExecutedCountsStatements: the benchmark's sql_statements_per_person is what the databases
// were asked to run. The counters are global, so the subtests run one after another.
func TestExecutedCountsStatements(t *testing.T) {
	for _, dialect := range []string{sqldb.SQLite, sqldb.Postgres} {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			var dbs *sqldb.DBs
			var err error
			if dialect == sqldb.Postgres {
				dbs, err = sqldb.OpenPostgres(ctx, pgtest.New(t))
			} else {
				dbs, err = sqldb.OpenSQLite(t.TempDir())
			}
			require.NoError(t, err)
			t.Cleanup(func() { _ = dbs.Close() })
			db := dbs.Stores
			// since runs fn and returns the work it was counted for.
			since := func(fn func()) sqldb.Counts {
				before := sqldb.Executed()
				fn()
				return sqldb.Executed().Sub(before)
			}

			c := since(func() {
				_, err := db.ExecContext(ctx, `CREATE TABLE counted (id INTEGER PRIMARY KEY, v TEXT)`)
				require.NoError(t, err)
			})
			require.Equal(t, sqldb.Counts{Statements: 1}, c, "an Exec on the pool")

			c = since(func() {
				require.NoError(t, sqldb.InTx(ctx, db, func(tx *sqlx.Tx) error {
					// A multi-row INSERT is one statement.
					_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO counted VALUES (?, ?), (?, ?), (?, ?)`), 1, "a", 2, "b", 3, "c")
					return err
				}))
			})
			require.Equal(t, sqldb.Counts{Statements: 1, Transactions: 1}, c, "a transaction of one statement")

			c = since(func() {
				var ids []int
				require.NoError(t, db.SelectContext(ctx, &ids, `SELECT id FROM counted ORDER BY id`))
				require.Equal(t, []int{1, 2, 3}, ids)
			})
			require.Equal(t, sqldb.Counts{Statements: 1}, c, "a Query")

			c = since(func() {
				require.NoError(t, sqldb.InTx(ctx, db, func(tx *sqlx.Tx) error {
					st, err := tx.PrepareContext(ctx, tx.Rebind(`UPDATE counted SET v = ? WHERE id = ?`))
					if err != nil {
						return err
					}
					defer st.Close()
					for i := 1; i <= 3; i++ {
						if _, err := st.ExecContext(ctx, "x", i); err != nil {
							return err
						}
					}
					return nil
				}))
			})
			require.Equal(t, sqldb.Counts{Statements: 3, Transactions: 1}, c, "each execution of a prepared statement, not its preparation")

			_, err = db.ExecContext(ctx, `INSERT INTO counted VALUES (?, ?)`, 1, "dup")
			require.Error(t, err, "a failed statement still reached the database")

			if dialect != sqldb.Postgres {
				return
			}
			c = since(func() {
				require.NoError(t, sqldb.InTx(ctx, db, func(tx *sqlx.Tx) error {
					st, err := tx.PrepareContext(ctx, `COPY "counted" ("id", "v") FROM STDIN`)
					if err != nil {
						return err
					}
					defer st.Close()
					for i := 10; i < 110; i++ {
						if _, err := st.ExecContext(ctx, i, "copied"); err != nil {
							return err
						}
					}
					_, err = st.ExecContext(ctx)
					return err
				}))
			})
			require.Equal(t, sqldb.Counts{Statements: 1, Transactions: 1}, c, "a COPY of 100 rows is one statement")
			var n int
			require.NoError(t, db.GetContext(ctx, &n, `SELECT count(*) FROM counted WHERE v = 'copied'`))
			require.Equal(t, 100, n)
		})
	}
}
