package projections

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/sqldb"
)

// timeOf is the time of the event recorded at seq.
func timeOf(seq uint64) time.Time {
	return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(seq) * time.Millisecond)
}

func recorded(seq uint64, aggregate, id string, data any) events.Recorded {
	e, err := events.New(aggregate, id, data, events.Meta{Time: timeOf(seq)})
	if err != nil {
		panic(err)
	}
	return events.Recorded{Envelope: e, Seq: seq}
}

// A run never changes a person twice: a batch's step event counts for each person it lists.
func TestRunsKeepPersonsDistinct(t *testing.T) {
	t.Parallel()
	batchFaces := func(seq uint64, b string, ids ...string) events.Recorded {
		e := events.FacesPurged{DeletionID: "d", Batch: b}
		for _, id := range ids {
			e.Persons = append(e.Persons, events.PersonFaces{PersonID: id})
		}
		return recorded(seq, events.AggregateBatch, b, e)
	}
	own := func(seq uint64, id string) events.Recorded {
		return recorded(seq, events.AggregatePerson, id, events.FacesPurged{DeletionID: "d", Persons: []events.PersonFaces{{PersonID: id}}})
	}
	lengths := func(rs [][]events.Recorded) []int {
		var out []int
		for _, r := range rs {
			out = append(out, len(r))
		}
		return out
	}
	tests := []struct {
		name  string
		batch []events.Recorded
		want  []int
	}{
		{"two batches, distinct persons", []events.Recorded{batchFaces(1, "b1", "a", "b"), batchFaces(2, "b2", "c", "d")}, []int{2}},
		{"two batches sharing a person", []events.Recorded{batchFaces(1, "b1", "a", "b"), batchFaces(2, "b2", "c", "a")}, []int{1, 1}},
		{"the same batch twice", []events.Recorded{batchFaces(1, "b1", "a"), batchFaces(2, "b1", "b")}, []int{1, 1}},
		{"a person's own event, then a batch listing it", []events.Recorded{own(1, "a"), own(2, "b"), batchFaces(3, "b1", "c", "a")}, []int{2, 1}},
		{"a batch, then a person's own event", []events.Recorded{batchFaces(1, "b1", "c", "a"), own(2, "b"), own(3, "a")}, []int{2, 1}},
		{"own events of distinct persons", []events.Recorded{own(1, "a"), own(2, "b"), own(3, "c")}, []int{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, lengths(runs(tt.batch)))
		})
	}
}

// A batch's step event is a few statements however many persons it lists (PostgreSQL: a round
// trip each; SQLite as well), and changes every listed person's rows but no version.
func TestBatchStepIsAFewStatements(t *testing.T) {
	// Not parallel: it counts every statement the process sends.
	ctx := context.Background()
	open := map[string]func(t *testing.T) *sqlx.DB{
		sqldb.SQLite: func(t *testing.T) *sqlx.DB {
			db, err := sqldb.OpenFreshSQLite(ctx, filepath.Join(t.TempDir(), "rm.db"))
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			return db
		},
	}
	if url := os.Getenv("DATABASE_URL"); url != "" {
		open[sqldb.Postgres] = func(t *testing.T) *sqlx.DB {
			schema := "erasure_test_batch_" + events.NewID()[:8]
			db, err := sqldb.OpenFreshPostgres(ctx, url, schema)
			require.NoError(t, err)
			t.Cleanup(func() {
				db.Close()
				_ = sqldb.ExecPostgres(ctx, url, "DROP SCHEMA "+sqldb.QuoteIdent(schema)+" CASCADE")
			})
			return db
		}
	}
	for dialect, open := range open {
		t.Run(dialect, func(t *testing.T) {
			db := open(t)
			const n = 1000
			var seq uint64
			apply := func(p Projector, rs ...events.Recorded) uint64 {
				before := sqldb.Executed()
				require.NoError(t, sqldb.InTx(ctx, db, func(tx *sqlx.Tx) error { return p.Apply(ctx, tx, rs) }))
				return sqldb.Executed().Sub(before).Statements
			}
			ids := make([]string, n)
			var setup []events.Recorded
			for i := range ids {
				ids[i] = fmt.Sprintf("p%04d", i)
				seq++
				setup = append(setup, recorded(seq, events.AggregatePerson, ids[i], events.PersonCreated{PersonID: ids[i], Name: "n",
					PermissionGroupIDs: []string{"door"}, Faces: []events.Face{{FaceID: ids[i] + "-f", PhotoKey: ids[i] + "-k"}}}))
			}
			for _, p := range []Projector{Registry{}, Deletions{}, TargetOutcomes{}} {
				apply(p, setup...)
			}
			unbound := events.PermissionGroupsUnbound{DeletionID: "d", Batch: "b"}
			faces := events.FacesPurged{DeletionID: "d", Batch: "b"}
			photos := events.PhotosPurged{DeletionID: "d", Batch: "b", Targets: []string{"site-a", "cloud"}}
			for _, id := range ids {
				unbound.Persons = append(unbound.Persons, events.PersonPermissionGroups{PersonID: id, PermissionGroupIDs: []string{"door"}})
				faces.Persons = append(faces.Persons, events.PersonFaces{PersonID: id, FaceIDs: []string{id + "-f"}})
				photos.Persons = append(photos.Persons, events.PersonPhotos{PersonID: id, PhotoKeys: []string{id + "-k"}})
			}
			for _, tt := range []struct {
				data                        any
				registry, deletions, target uint64
			}{
				{events.DeletionBatchStarted{DeletionID: "d", Batch: "b", Persons: []events.BatchPerson{{PersonID: ids[0]}}}, 0, 0, 0},
				{unbound, 1, 0, 0}, // one DELETE; a batch's event rewrites no person row
				{faces, 0, 0, 0},
				{photos, 1, 0, 1},
				{events.DeletionBatchCompleted{DeletionID: "d", Batch: "b", Deleted: n}, 0, 0, 0},
			} {
				seq++
				r := recorded(seq, events.AggregateBatch, "b", tt.data)
				require.Equal(t, tt.registry, apply(Registry{}, r), "registry: %s", r.Type)
				require.Equal(t, tt.deletions, apply(Deletions{}, r), "deletions: %s", r.Type)
				require.Equal(t, tt.target, apply(TargetOutcomes{}, r), "target outcomes: %s", r.Type)
			}
			count := func(q string) int {
				var c int
				require.NoError(t, db.Get(&c, q))
				return c
			}
			require.Zero(t, count(`SELECT COUNT(*) FROM permission_bindings`))
			require.Zero(t, count(`SELECT COUNT(*) FROM faces`))
			require.Equal(t, 2*n, count(`SELECT COUNT(*) FROM target_outcomes WHERE state = 'pending' AND saga_id = 'd'`))
			require.Equal(t, n, count(`SELECT COUNT(*) FROM persons WHERE version <= 1000`), "versions: the persons' own events'")
			var updated []time.Time
			require.NoError(t, db.Select(&updated, `SELECT updated_at FROM persons ORDER BY person_id`))
			require.Len(t, updated, n, "each person keeps the time of its own last event")
			for i, at := range updated {
				require.True(t, at.Equal(timeOf(uint64(i+1))), "person %d updated at %v", i, at)
			}
		})
	}
}
