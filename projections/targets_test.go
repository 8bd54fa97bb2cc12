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
			person("p1", events.PermissionGroupsUnbound{PersonID: "p1", DeletionID: "d1"}),
			person("p1", events.FacesPurged{PersonID: "p1", DeletionID: "d1"}),
			person("p1", events.PhotosPurged{PersonID: "p1", DeletionID: "d1", Targets: []string{"site-a", "cloud"}}))
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
