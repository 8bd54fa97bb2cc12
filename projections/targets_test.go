package projections_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/events"
)

// A person's external targets: cloud confirms after two calls, site-a fails, is retried by an
// operator and confirms. The read model shows each target's state, attempts and last error,
// and a rebuild from the log writes the same rows.
func TestTargetOutcomes(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		s := newStore(t)
		dsn := newDSN(t, dialect)
		live := openDBs(t, dialect, dsn)
		w := newWriter(s)
		r := allRunner(t, live.ReadModel, s, 40)
		rows := func() []string {
			return pairs(t, live.ReadModel, `SELECT target, state || ':' || attempts || ':' || last_error FROM target_outcomes
				WHERE person_id = 'p1' AND saga_id = 'd1'`)
		}
		last := w.append(t,
			person("p1", events.PersonCreated{PersonID: "p1", Name: "sealed"}),
			person("p1", events.PersonDeletionRequested{PersonID: "p1", DeletionID: "d1"}),
			person("p1", unboundStep("p1", "d1", nil)),
			person("p1", facesStep("p1", "d1", nil)),
			person("p1", photosStep("p1", "d1", nil, "site-a", "cloud")))
		r.waitFor(t, last)
		require.Equal(t, []string{"cloud:pending:0:", "site-a:pending:0:"}, rows())

		last = w.append(t,
			person("p1", events.PersonRemovedFromTargets{PersonID: "p1", DeletionID: "d1", Targets: []string{"cloud"}, Remaining: []string{"site-a"}, Attempts: 2}),
			person("p1", events.PersonDeletionFailed{PersonID: "p1", DeletionID: "d1", Code: "STEP_FAILED", Step: "delete_from_targets",
				Message: "target site-a: down", Targets: []string{"site-a"}, Attempts: 8}))
		r.waitFor(t, last)
		require.Equal(t, []string{"cloud:deleted:2:", "site-a:failed:8:target site-a: down"}, rows())

		last = w.append(t,
			person("p1", events.PersonDeletionRequested{PersonID: "p1", DeletionID: "d1", ResumeAt: "delete_from_targets"}))
		r.waitFor(t, last)
		require.Equal(t, []string{"cloud:deleted:2:", "site-a:pending:8:target site-a: down"}, rows(), "retried: pending, the last error kept")

		last = w.append(t,
			person("p1", events.PersonRemovedFromTargets{PersonID: "p1", DeletionID: "d1", Targets: []string{"site-a"}, Attempts: 1}),
			person("p1", events.PersonDeleted{PersonID: "p1", DeletionID: "d1"}))
		r.waitFor(t, last)
		require.Equal(t, []string{"cloud:deleted:2:", "site-a:deleted:9:"}, rows())

		before := modelDump(t, live.ReadModel)
		_, err := r.Rebuild(context.Background(), rebuildConfig(dialect, dsn))
		require.NoError(t, err)
		require.Equal(t, before, modelDump(t, live.ReadModel))
	})
}

// A batch's persons wait for the targets together: one event lists them, each gets a row per
// target, as its own event would have given it.
func TestTargetOutcomesOfABatch(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		s := newStore(t)
		db := openDBs(t, dialect, newDSN(t, dialect)).ReadModel
		w := newWriter(s)
		r := allRunner(t, db, s, 40)
		photos := events.PhotosPurged{DeletionID: "d1", Batch: "d1_0_0", Targets: []string{"site-a", "cloud"}}
		var steps []step
		for _, p := range []string{"p1", "p2", "p3"} {
			steps = append(steps, person(p, events.PersonCreated{PersonID: p, Name: "sealed"}),
				person(p, events.PersonDeletionRequested{PersonID: p, DeletionID: "d1", Batch: "d1_0_0"}))
			photos.Persons = append(photos.Persons, events.PersonPhotos{PersonID: p, PhotoKeys: []string{}})
		}
		last := w.append(t, append(steps,
			step{events.AggregateBatch, "d1_0_0", photos},
			// p4's own subject records its steps (say, a retry): a batch of one.
			person("p4", events.PersonCreated{PersonID: "p4", Name: "sealed"}),
			person("p4", photosStep("p4", "d1", nil, "site-a")),
			person("p2", events.PersonRemovedFromTargets{PersonID: "p2", DeletionID: "d1", Targets: []string{"cloud"}, Remaining: []string{"site-a"}, Attempts: 2}))...)
		r.waitFor(t, last)
		require.Equal(t, []string{
			"p1 cloud:pending:0", "p1 site-a:pending:0",
			"p2 cloud:deleted:2", "p2 site-a:pending:0",
			"p3 cloud:pending:0", "p3 site-a:pending:0",
			"p4 site-a:pending:0",
		}, pairs(t, db, `SELECT person_id || ' ' || target, state || ':' || attempts FROM target_outcomes WHERE saga_id = 'd1'`))
		// Written as a single row's insert writes its time: the batch's rows equal the event's
		// time bound as a parameter, and p4's the value its person row, touched by the same
		// event, holds.
		batch, _, err := s.Load(context.Background(), events.AggregateBatch, "d1_0_0")
		require.NoError(t, err)
		var same int
		require.NoError(t, db.Get(&same, db.Rebind(`SELECT COUNT(*) FROM target_outcomes
			WHERE updated_at = ? AND state = 'pending' AND person_id <> 'p4'`), batch[0].Time))
		require.Equal(t, 5, same)
		require.NoError(t, db.Get(&same, `SELECT COUNT(*) FROM target_outcomes o JOIN persons p ON p.person_id = o.person_id
			WHERE o.updated_at = p.updated_at AND o.person_id = 'p4'`))
		require.Equal(t, 1, same)
	})
}
