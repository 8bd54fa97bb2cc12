package projections_test

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/projections"
)

// The log the per-person saga wrote (version 1 step events, one person each, on the person's
// subject) replays, through the upcasters, into exactly the read model the code before batches
// built from it: testdata/log_per_person.model.json, every table, the audit trail's hashes
// included, written by that code (commit 43a4134). A stored trail therefore still verifies.
func TestPerPersonFixtureReplaysAsBefore(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/log_per_person.model.json")
	require.NoError(t, err)
	var before map[string][]string
	require.NoError(t, json.Unmarshal(b, &before))
	require.NotEmpty(t, before["audit_log"])
	forEachDialect(t, func(t *testing.T, dialect string) {
		log, last := publishFixture(t, "../events/testdata/log_per_person.json")
		dsn := newDSN(t, dialect)
		db := openDBs(t, dialect, dsn).ReadModel
		allRunner(t, db, log, 4).waitFor(t, last)
		require.Equal(t, before, asBefore(t, modelDump(t, db)))
		v, err := projections.VerifyAudit(context.Background(), db, log, "")
		require.NoError(t, err)
		require.True(t, v.OK, "%+v", v.FirstBreak)

		// A replay rebuilds the same.
		_, err = allRunner(t, db, log, 4).Rebuild(context.Background(), rebuildConfig(dialect, dsn))
		require.NoError(t, err)
		require.Equal(t, before, asBefore(t, modelDump(t, db)))
	})
}

// asBefore is a dump of the read model as the schema of commit 43a4134 held it. Added since
// (migration 00028): audit_persons.batch, empty for a person's entries outside batches, and
// audit_batches, empty without batches.
func asBefore(t *testing.T, dump map[string][]string) map[string][]string {
	t.Helper()
	require.Empty(t, dump["audit_batches"])
	delete(dump, "audit_batches")
	rows := make([]string, len(dump["audit_persons"]))
	for i, r := range dump["audit_persons"] {
		rows[i] = strings.TrimSuffix(r, "|")
	}
	dump["audit_persons"] = rows
	return dump
}

// The same story with the deletion's steps in batch form (events/testdata/log_batch.json: the
// persons' requests name batch d1_0_0, whose subject records the start, each step once for the
// persons still in it, and the end; p1 is split out failing at purge_faces, p2 deleted) builds
// the read model the per-person log builds. Only what records the log itself differs: the audit
// trail (other events), the checkpoint (one more event) and p1's version (the sequence of its
// last own event, its failure, is 12 here and 10 there).
func TestBatchFixtureReadsAsPerPerson(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		perPersonLog, perPersonLast := publishFixture(t, "../events/testdata/log_per_person.json")
		perPerson := openDBs(t, dialect, newDSN(t, dialect)).ReadModel
		allRunner(t, perPerson, perPersonLog, 4).waitFor(t, perPersonLast)
		batchLog, last := publishFixture(t, "../events/testdata/log_batch.json")
		require.Equal(t, uint64(16), last)
		dsn := newDSN(t, dialect)
		batched := openDBs(t, dialect, dsn).ReadModel
		allRunner(t, batched, batchLog, 4).waitFor(t, last)

		require.Equal(t, []string{"p1:10", "p3:5"}, pairs(t, perPerson, `SELECT person_id, version FROM persons`))
		require.Equal(t, []string{"p1:12", "p3:5"}, pairs(t, batched, `SELECT person_id, version FROM persons`))
		live := modelDump(t, batched)
		require.Equal(t, []string{"readmodel|16"}, live["checkpoints"])
		comparable := func(d map[string][]string) map[string][]string {
			d = maps.Clone(d)
			delete(d, "audit_log")
			delete(d, "audit_persons")
			delete(d, "audit_batches")
			delete(d, "checkpoints")
			return d
		}
		for _, db := range []*sqlx.DB{perPerson, batched} {
			_, err := db.Exec(`UPDATE persons SET version = 0 WHERE person_id = 'p1'`)
			require.NoError(t, err)
		}
		require.Equal(t, comparable(modelDump(t, perPerson)), comparable(modelDump(t, batched)))

		// The batch's entries in the audit trail: found by each person they name.
		actions := func(f projections.AuditFilter) []string { return actionsOf(t, batched, f) }
		require.Equal(t, []string{
			"PersonCreated: person registered with 1 faces",
			"DeletionRequested: deletion request chunk 0 recorded: 3 ids, 0 refused; request complete with 3 ids",
			"PersonDeletionRequested: person deletion started",
			"DeletionBatchStarted: batch d1_0_0 started: 2 persons",
			"PermissionGroupsUnbound: step unbind_permission_groups done for 2 persons: 0 unbound",
			"FacesPurged: step purge_faces done: 1 faces purged",
			"PhotosPurged: step purge_photos done: 1 photos purged",
			"PersonDeleted: person deleted; data key destroyed",
		}, actions(projections.AuditFilter{PersonID: "p2"}))
		require.Equal(t, []string{
			"PersonCreated: person registered with 2 faces",
			"DeletionRequested: deletion request chunk 0 recorded: 3 ids, 0 refused; request complete with 3 ids",
			"PersonDeletionRequested: person deletion started",
			"DeletionBatchStarted: batch d1_0_0 started: 2 persons",
			"PermissionGroupsUnbound: step unbind_permission_groups done for 2 persons: 0 unbound",
			"PersonDeletionFailed: failed: STEP_FAILED at step purge_faces",
		}, actions(projections.AuditFilter{PersonID: "p1"}))
		require.Empty(t, actions(projections.AuditFilter{PersonID: "d1_0_0"}), "a batch is no person")
		require.Equal(t, []string{"DeletionBatchCompleted: batch d1_0_0 completed: 1 deleted, 1 failed, 0 cancelled"},
			actions(projections.AuditFilter{RequestID: "d1", After: 15}))
		// The batch's own entries are listed under the batch, each person's under the person,
		// and the persons' requests name the batch they joined.
		require.Equal(t, []string{"p1:12", "p2:15"},
			pairs(t, batched, `SELECT person_id, CAST(seq AS TEXT) FROM audit_persons WHERE seq BETWEEN 10 AND 16`))
		require.Equal(t, []string{"d1_0_0:10", "d1_0_0:11", "d1_0_0:13", "d1_0_0:14"},
			pairs(t, batched, `SELECT batch, CAST(seq AS TEXT) FROM audit_batches`))
		require.Equal(t, []string{"p1:d1_0_0", "p2:d1_0_0"},
			pairs(t, batched, `SELECT person_id, batch FROM audit_persons WHERE batch <> ''`))
		v, err := projections.VerifyAudit(ctx, batched, batchLog, "")
		require.NoError(t, err)
		require.True(t, v.OK, "%+v", v.FirstBreak)
		require.Equal(t, uint64(16), v.Entries)

		// A replay of the batch log rebuilds what the live runner built.
		_, err = allRunner(t, batched, batchLog, 4).Rebuild(ctx, rebuildConfig(dialect, dsn))
		require.NoError(t, err)
		require.Equal(t, live, modelDump(t, batched))
	})
}
