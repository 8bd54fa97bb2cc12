package projections

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/sqldb"
)

// freshDialects opens a fresh read model of each dialect: SQLite always, PostgreSQL when
// DATABASE_URL is set.
func freshDialects(t *testing.T) map[string]func(testing.TB) *sqlx.DB {
	open := map[string]func(testing.TB) *sqlx.DB{sqldb.SQLite: freshSQLite}
	if os.Getenv("DATABASE_URL") != "" {
		open[sqldb.Postgres] = freshPostgres
	}
	return open
}

// rawDump is every row of the read model's tables as the database stores it: on SQLite each
// value with its storage class and its text quoted as SQLite holds it (a time's text byte for
// byte), on PostgreSQL the row's text.
func rawDump(t *testing.T, db *sqlx.DB) map[string][]string {
	t.Helper()
	var tables []string
	if db.DriverName() == "sqlite" {
		require.NoError(t, db.Select(&tables, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'goose_%'`))
	} else {
		require.NoError(t, db.Select(&tables, `SELECT table_name FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name NOT LIKE 'goose_%'`))
	}
	out := map[string][]string{}
	for _, table := range tables {
		q := `SELECT CAST(t AS text) FROM ` + table + ` AS t`
		if db.DriverName() == "sqlite" {
			var cols []string
			require.NoError(t, db.Select(&cols, `SELECT name FROM pragma_table_info(?)`, table))
			for i, c := range cols {
				cols[i] = `typeof(` + c + `) || ':' || quote(` + c + `)`
			}
			q = `SELECT ` + strings.Join(cols, ` || '|' || `) + ` FROM ` + table
		}
		var lines []string
		require.NoError(t, db.Select(&lines, q))
		sort.Strings(lines)
		out[table] = lines
	}
	return out
}

// A run of many events writes what the same events write one at a time, byte for byte (times
// included), and keeps the requests' counters exact: every kind of run a bulk deletion makes
// (registrations included), on each dialect.
func TestSetBasedRunsWriteWhatEventsWrite(t *testing.T) {
	// Not parallel: it counts every statement the process sends.
	ctx := context.Background()
	var seq uint64
	var log []events.Recorded
	add := func(aggregate, id string, data any) {
		seq++
		log = append(log, recorded(seq, aggregate, id, data))
	}
	person := func(id string, data any) { add(events.AggregatePerson, id, data) }
	const n = 16
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("p%02d", i)
		person(ids[i], events.PersonCreated{PersonID: ids[i], Name: "n", GroupIDs: []string{"g1", "g2"}, PermissionGroupIDs: []string{"door"},
			Faces: []events.Face{{FaceID: ids[i] + "-f1", PhotoKey: ids[i] + "-k1"}, {FaceID: ids[i] + "-f2", PhotoKey: ids[i] + "-k2"}}})
	}
	// d asks for p00..p13; d2 for p12..p15: p12 and p13 join d's running deletions.
	add(events.AggregateDeletion, "d", events.DeletionRequested{DeletionID: "d", PersonIDs: ids[:14], Last: true, Total: 14})
	add(events.AggregateDeletion, "d2", events.DeletionRequested{DeletionID: "d2", PersonIDs: ids[12:], Last: true, Total: 4})
	for _, id := range ids[:14] {
		person(id, events.PersonDeletionRequested{PersonID: id, DeletionID: "d", Batch: "b1"})
	}
	for _, id := range ids[12:] {
		e := events.PersonDeletionRequested{PersonID: id, DeletionID: "d2", Batch: "b2"}
		if id == ids[12] || id == ids[13] {
			e.Joins = "d"
		}
		person(id, e)
	}
	// A batch's steps on its own subject, and one person's on its own.
	b1 := events.PermissionGroupsUnbound{DeletionID: "d", Batch: "b1"}
	for _, id := range ids[:8] {
		b1.Persons = append(b1.Persons, events.PersonPermissionGroups{PersonID: id, PermissionGroupIDs: []string{"door"}})
	}
	add(events.AggregateBatch, "b1", b1)
	person(ids[8], unboundStep(ids[8], "d", []string{"door"}))
	person(ids[9], unboundStep(ids[9], "d", []string{"door"}))
	person(ids[8], photosStep(ids[8], "d", nil))
	person(ids[9], photosStep(ids[9], "d", nil))
	for _, id := range ids[:4] {
		person(id, events.PersonDeleted{PersonID: id, DeletionID: "d"})
	}
	for _, id := range ids[4:7] {
		person(id, events.PersonDeletionFailed{PersonID: id, DeletionID: "d", Code: domain.CodeStepFailed, Step: "purge_faces",
			Message: fmt.Sprintf("store <%s> said \"no\" & ünïcode", id)})
	}
	for _, id := range ids[7:10] {
		person(id, events.PersonDeletionCancelled{PersonID: id, DeletionID: "d"})
	}
	// p12 and p13 end d's saga, and with it their d2 items; p14 and p15 end d2's.
	for _, id := range ids[10:14] {
		person(id, events.PersonDeleted{PersonID: id, DeletionID: "d"})
	}
	for _, id := range ids[14:] {
		person(id, events.PersonDeleted{PersonID: id, DeletionID: "d2"})
	}
	// Recorded again (a step's attempt that appended its end twice): nothing moves again.
	for _, id := range ids[:2] {
		person(id, events.PersonDeleted{PersonID: id, DeletionID: "d"})
	}

	for dialect, open := range freshDialects(t) {
		t.Run(dialect, func(t *testing.T) {
			set, each := open(t), open(t)
			apply := func(db *sqlx.DB, fn func(ctx context.Context, tx *sqlx.Tx, batch []events.Recorded) error) uint64 {
				before := sqldb.Executed()
				for start := 0; start < len(log); start += 7 { // batches that cut runs too
					batch := log[start:min(start+7, len(log))]
					require.NoError(t, sqldb.InTx(ctx, db, func(tx *sqlx.Tx) error { return fn(withStmtCache(ctx, tx), tx, batch) }))
				}
				return sqldb.Executed().Sub(before).Statements
			}
			bySet := apply(set, func(ctx context.Context, tx *sqlx.Tx, batch []events.Recorded) error {
				for _, p := range All() {
					if err := p.Apply(ctx, tx, batch); err != nil {
						return err
					}
				}
				return nil
			})
			// The same projectors, a batch of one event at a time: every run is one event long.
			byEvent := apply(each, func(ctx context.Context, tx *sqlx.Tx, batch []events.Recorded) error {
				for _, r := range batch {
					for _, p := range All() {
						if err := p.Apply(ctx, tx, []events.Recorded{r}); err != nil {
							return err
						}
					}
				}
				return nil
			})
			require.Less(t, bySet, byEvent, "the runs were applied set-based")
			got := rawDump(t, set)
			require.Equal(t, rawDump(t, each), got)

			var counters []string
			require.NoError(t, set.Select(&counters, `SELECT deletion_id || ' ' || CAST(pending AS text) || ' ' || CAST(deleted AS text) || ' ' ||
				CAST(failed AS text) || ' ' || CAST(cancelled AS text) FROM deletions ORDER BY deletion_id`))
			require.Equal(t, []string{"d 0 8 3 3", "d2 0 4 0 0"}, counters, "pending, deleted, failed, cancelled")
			var items int
			require.NoError(t, set.Get(&items, `SELECT COUNT(*) FROM deletion_items WHERE error_message LIKE '%ünïcode'`))
			require.Equal(t, 3, items)
			require.Len(t, got["persons"], 6, "p04..p06 failed (still deleting), p07..p09 cancelled")
			require.Len(t, got["deleted_persons"], 12, "p00..p03, p10..p15, and p00 and p01 again")
		})
	}
}

// A time sent in a run's rows is stored as the text the SQLite driver stores for a bound
// time.Time, whatever its location and precision.
func TestSQLiteTimeIsWhatTheDriverWrites(t *testing.T) {
	t.Parallel()
	db := freshSQLite(t)
	shanghai := time.FixedZone("CST", 8*3600)
	for _, at := range []time.Time{
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 1000, time.UTC),
		time.Date(2023, 6, 1, 10, 0, 10, 123456000, time.UTC),
		time.Date(2023, 6, 1, 10, 0, 10, 123456789, shanghai),
		time.Now().UTC().Truncate(time.Microsecond),
		time.Now(),
	} {
		tx, err := db.Beginx()
		require.NoError(t, err)
		src, args := rowsFrom(tx, timeColumn("t", []time.Time{at}), textColumn("id", []string{"x"}))
		var bound, viaRows string
		require.NoError(t, tx.Get(&bound, `SELECT CAST(? AS TEXT)`, at))
		require.NoError(t, tx.Get(&viaRows, `SELECT u.t FROM `+src, args...))
		require.NoError(t, tx.Rollback())
		require.Equal(t, bound, viaRows)
		require.Equal(t, bound, sqliteTime(at))
	}
}
