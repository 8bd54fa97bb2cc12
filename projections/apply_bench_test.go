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

// BenchmarkApplyDeletions measures the projection apply path alone: b.N registered persons
// deleted through the read model, their events in the order the saga appends them (runs of
// 1,000 persons per step) and applied as the runner does, defaultBatchSize events a transaction
// with every projector. Its baseline, in the same run, is the per-statement floor of an
// event-by-event projection: one single-row INSERT per event, in transactions of the same size.
// SQLite always; PostgreSQL as well when DATABASE_URL is set.
//
//	go test -run '^$' -bench BenchmarkApplyDeletions -benchtime 20000x ./projections/
func BenchmarkApplyDeletions(b *testing.B) {
	type dialect struct {
		name string
		open func(b testing.TB) *sqlx.DB
	}
	dialects := []dialect{{"sqlite", freshSQLite}}
	if os.Getenv("DATABASE_URL") != "" {
		dialects = append(dialects, dialect{"postgres", freshPostgres})
	}
	for _, d := range dialects {
		open := d.open
		b.Run(d.name, func(b *testing.B) {
			// A fresh database for every run: the benchmark framework may run a body more than once.
			b.Run("apply", func(b *testing.B) { benchApply(b, open(b), false) })
			b.Run("apply-batches", func(b *testing.B) { benchApply(b, open(b), true) })
			b.Run("baseline", func(b *testing.B) { benchFloor(b, open(b)) })
		})
	}
}

func freshSQLite(b testing.TB) *sqlx.DB {
	db, err := sqldb.OpenFreshSQLite(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	require.NoError(b, err)
	b.Cleanup(func() { db.Close() })
	return db
}

func freshPostgres(b testing.TB) *sqlx.DB {
	ctx, url := context.Background(), os.Getenv("DATABASE_URL")
	schema := "erasure_bench_apply_" + events.NewID()[:8]
	db, err := sqldb.OpenFreshPostgres(ctx, url, schema)
	require.NoError(b, err)
	b.Cleanup(func() {
		db.Close()
		_ = sqldb.ExecPostgres(ctx, url, "DROP SCHEMA "+sqldb.QuoteIdent(schema)+" CASCADE")
	})
	return db
}

// benchFloor inserts as many single-row INSERTs as benchApply applies events (five per person).
func benchFloor(b *testing.B, db *sqlx.DB) {
	ctx := context.Background()
	_, err := db.ExecContext(ctx, `CREATE TABLE bench_floor (id BIGINT PRIMARY KEY, v TEXT NOT NULL)`)
	require.NoError(b, err)
	n := 5 * b.N
	b.ResetTimer()
	for start := 0; start < n; start += defaultBatchSize {
		require.NoError(b, sqldb.InTx(ctx, db, func(tx *sqlx.Tx) error {
			for i := start; i < min(start+defaultBatchSize, n); i++ {
				if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO bench_floor (id, v) VALUES (?, ?)`), i, "x"); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	b.StopTimer()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// benchApply applies the deletion of b.N persons as the per-person saga records it (five events
// a person) or, batched, as the batch saga does (docs/adr/0003: two events a person, five a batch
// of 1,000).
func benchApply(b *testing.B, db *sqlx.DB, batched bool) {
	ctx := context.Background()
	var seq uint64
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	record := func(aggregate, id string, data any) events.Recorded {
		seq++
		at = at.Add(time.Microsecond)
		e, err := events.New(aggregate, id, data, events.Meta{CorrelationID: "bench", Actor: "bench", Time: at})
		require.NoError(b, err)
		return events.Recorded{Envelope: e, Seq: seq}
	}
	apply := func(all []events.Recorded) {
		for start := 0; start < len(all); start += defaultBatchSize {
			batch := all[start:min(start+defaultBatchSize, len(all))]
			require.NoError(b, sqldb.InTx(ctx, db, func(tx *sqlx.Tx) error {
				applyCtx := withStmtCache(ctx, tx)
				for _, p := range All() {
					if err := p.Apply(applyCtx, tx, batch); err != nil {
						return err
					}
				}
				return nil
			}))
		}
	}
	ids := make([]string, b.N)
	faces := make([][]events.Face, b.N)
	var created []events.Recorded
	for i := range ids {
		ids[i] = fmt.Sprintf("p%07d", i)
		for k := range 3 {
			faces[i] = append(faces[i], events.Face{FaceID: fmt.Sprintf("%s-f%d", ids[i], k), PhotoKey: fmt.Sprintf("%s-k%d", ids[i], k)})
		}
		created = append(created, record(events.AggregatePerson, ids[i], events.PersonCreated{PersonID: ids[i],
			GroupIDs: []string{"g1"}, PermissionGroupIDs: []string{"pg1", "pg2"}, Faces: faces[i]}))
	}
	apply(created)

	const deletion = "bench-deletion"
	var log []events.Recorded
	for start := 0; start < len(ids); start += 1000 {
		chunk := ids[start:min(start+1000, len(ids))]
		log = append(log, record(events.AggregateDeletion, deletion, events.DeletionRequested{DeletionID: deletion,
			Chunk: start / 1000, Offset: start, PersonIDs: chunk, Last: start+1000 >= len(ids), Total: len(ids)}))
	}
	for start := 0; start < len(ids); start += 1000 {
		chunk := ids[start:min(start+1000, len(ids))]
		if batched {
			log = append(log, batchedDeletion(record, deletion, chunk, start, faces[start:start+len(chunk)])...)
			continue
		}
		for _, step := range []func(i int) any{
			func(i int) any {
				return events.PersonDeletionRequested{PersonID: ids[i], DeletionID: deletion, PermissionGroupIDs: []string{"pg1", "pg2"}, Faces: faces[i]}
			},
			func(i int) any {
				return unboundStep(ids[i], deletion, []string{"pg1", "pg2"})
			},
			func(i int) any { return facesStep(ids[i], deletion, nil) },
			func(i int) any { return photosStep(ids[i], deletion, nil) },
			func(i int) any { return events.PersonDeleted{PersonID: ids[i], DeletionID: deletion} },
		} {
			for i := range chunk {
				log = append(log, record(events.AggregatePerson, ids[start+i], step(start+i)))
			}
		}
	}

	before := sqldb.Executed()
	b.ResetTimer()
	apply(log)
	b.StopTimer()
	work := sqldb.Executed().Sub(before)
	var deleted int
	require.NoError(b, db.GetContext(ctx, &deleted, `SELECT deleted FROM deletions WHERE deletion_id = 'bench-deletion'`))
	require.Equal(b, b.N, deleted)
	b.ReportMetric(float64(len(log))/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "persons/s")
	// The SQL statements the deletion took (the batch transactions' own BEGIN and COMMIT not
	// counted): what a set-based run saves shows here whatever the machine's speed.
	b.ReportMetric(float64(work.Statements)/float64(b.N), "stmts/person")
}

// unboundStep, facesStep and photosStep are step events of one person on its own subject.
func unboundStep(p, d string, ids []string) events.PermissionGroupsUnbound {
	return events.PermissionGroupsUnbound{DeletionID: d, Persons: []events.PersonPermissionGroups{{PersonID: p, PermissionGroupIDs: ids}}}
}

func facesStep(p, d string, ids []string) events.FacesPurged {
	return events.FacesPurged{DeletionID: d, Persons: []events.PersonFaces{{PersonID: p, FaceIDs: ids}}}
}

func photosStep(p, d string, keys []string) events.PhotosPurged {
	return events.PhotosPurged{DeletionID: d, Persons: []events.PersonPhotos{{PersonID: p, PhotoKeys: keys}}}
}

// batchedDeletion is the log of one batch's deletion: each person's request, the batch's start,
// its three steps, each person's end and the batch's.
func batchedDeletion(record func(aggregate, id string, data any) events.Recorded, deletion string, ids []string, offset int,
	faces [][]events.Face) []events.Recorded {
	batch := fmt.Sprintf("%s_%d_%d", deletion, offset/1000, offset)
	var log []events.Recorded
	started := events.DeletionBatchStarted{DeletionID: deletion, Batch: batch}
	unbound := events.PermissionGroupsUnbound{DeletionID: deletion, Batch: batch}
	purged := events.FacesPurged{DeletionID: deletion, Batch: batch}
	photos := events.PhotosPurged{DeletionID: deletion, Batch: batch}
	for i, id := range ids {
		pgs := []string{"pg1", "pg2"}
		log = append(log, record(events.AggregatePerson, id, events.PersonDeletionRequested{PersonID: id, DeletionID: deletion,
			PermissionGroupIDs: pgs, Faces: faces[i], Batch: batch}))
		started.Persons = append(started.Persons, events.BatchPerson{PersonID: id, PermissionGroupIDs: pgs, Faces: faces[i]})
		unbound.Persons = append(unbound.Persons, events.PersonPermissionGroups{PersonID: id, PermissionGroupIDs: pgs})
		purged.Persons = append(purged.Persons, events.PersonFaces{PersonID: id, FaceIDs: []string{faces[i][0].FaceID}})
		photos.Persons = append(photos.Persons, events.PersonPhotos{PersonID: id, PhotoKeys: []string{faces[i][0].PhotoKey}})
	}
	for _, data := range []any{started, unbound, purged, photos} {
		log = append(log, record(events.AggregateBatch, batch, data))
	}
	for _, id := range ids {
		log = append(log, record(events.AggregatePerson, id, events.PersonDeleted{PersonID: id, DeletionID: deletion}))
	}
	return append(log, record(events.AggregateBatch, batch, events.DeletionBatchCompleted{DeletionID: deletion, Batch: batch, Deleted: len(ids)}))
}
