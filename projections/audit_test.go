package projections_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/projections"
)

func TestAuditCanonicalIsJSON(t *testing.T) {
	t.Parallel()
	tests := []projections.AuditEntry{
		{Seq: 1, Time: "2025-01-01T00:00:00.000000Z", Action: "GroupCreated", Outcome: "group created"},
		{Seq: 42, Time: "t", EventID: "e", Actor: "native-api", Action: "DeletionRequested", RequestID: "r&<>", DeletionID: "d",
			PersonIDs: []string{"a", "b&c", "é", "quote\"back\\slash", "\x01ctl"}, GroupIDs: []string{"g"}, PermissionGroupIDs: []string{"p"}, Outcome: "ok"},
		{Seq: 1 << 62, Time: "t", Outcome: "\u2028 line separator", PrevHash: "ignored", Hash: "ignored"},
	}
	for _, e := range tests {
		want, err := json.Marshal(struct {
			Seq                uint64   `json:"seq"`
			Time               string   `json:"time"`
			EventID            string   `json:"event_id"`
			Actor              string   `json:"actor"`
			Action             string   `json:"action"`
			RequestID          string   `json:"request_id"`
			DeletionID         string   `json:"deletion_id,omitempty"`
			PersonIDs          []string `json:"person_ids,omitempty"`
			GroupIDs           []string `json:"group_ids,omitempty"`
			PermissionGroupIDs []string `json:"permission_group_ids,omitempty"`
			Outcome            string   `json:"outcome"`
		}{e.Seq, e.Time, e.EventID, e.Actor, e.Action, e.RequestID, e.DeletionID, e.PersonIDs, e.GroupIDs, e.PermissionGroupIDs, e.Outcome})
		require.NoError(t, err)
		require.Equal(t, string(want), string(e.Canonical()))
	}
}

// auditModel is a read model of history() with its audit trail.
func auditModel(t *testing.T, dialect string) (*eventlog.Store, *sqlx.DB, *writer, uint64) {
	t.Helper()
	s := newStore(t)
	dbs := openDBs(t, dialect, newDSN(t, dialect))
	w := newWriter(s)
	last := w.append(t, history()...)
	allRunner(t, dbs.ReadModel, s, 6).waitFor(t, last)
	return s, dbs.ReadModel, w, last
}

func TestAuditTrail(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		s, db, w, last := auditModel(t, dialect)
		ctx := context.Background()
		all, err := projections.AuditEntries(ctx, db, projections.AuditFilter{Limit: 1000})
		require.NoError(t, err)
		require.Len(t, all, len(w.seqs))
		prev := projections.GenesisHash
		for i, e := range all {
			require.Equal(t, w.seqs[i], e.Seq, "one entry per event, oldest first")
			require.Equal(t, prev, e.PrevHash)
			require.Equal(t, projections.ChainHash(prev, e), e.Hash)
			prev = e.Hash
			require.Equal(t, "test", e.Actor)
			require.Equal(t, "req", e.RequestID)
			// No names: neither the sealed personal fields nor group names reach the trail.
			line, _ := json.Marshal(e)
			for _, name := range []string{"sealed-", "Staff", "Visitors", "Temp"} {
				require.NotContains(t, string(line), name)
			}
		}
		v, err := projections.VerifyAudit(ctx, db, s, "")
		require.NoError(t, err)
		require.True(t, v.OK, "%+v", v.FirstBreak)
		require.Equal(t, uint64(len(w.seqs)), v.Entries)
		require.Equal(t, last, v.Checkpoint)
		require.Equal(t, prev, v.Head)
		require.Equal(t, -1, first(projections.VerifyEntries(all)))

		// p2's trail: its registration, its saga, and the request that named it.
		p2, err := projections.AuditEntries(ctx, db, projections.AuditFilter{PersonID: "p2", Limit: 100})
		require.NoError(t, err)
		var actions []string
		for _, e := range p2 {
			actions = append(actions, e.Action)
		}
		require.Equal(t, []string{"PersonCreated", "FaceAdded", "DeletionRequested", "PersonDeletionRequested",
			"PermissionGroupsUnbound", "FacesPurged", "PhotosPurged", "PersonDeleted"}, actions)
		require.Equal(t, "person deleted; data key destroyed", p2[len(p2)-1].Outcome)

		// A deletion request's trail, by its id.
		d1, err := projections.AuditEntries(ctx, db, projections.AuditFilter{RequestID: "d1", Limit: 100})
		require.NoError(t, err)
		require.Len(t, d1, 7)
		require.Equal(t, "DeletionCompleted", d1[6].Action)

		// Time window and cursor pagination.
		since, until := base.Add(10*time.Second), base.Add(15*time.Second)
		window, err := projections.AuditEntries(ctx, db, projections.AuditFilter{Since: since, Until: until, Limit: 100})
		require.NoError(t, err)
		require.Len(t, window, 6)
		var paged []projections.AuditEntry
		for after := uint64(0); ; {
			page, err := projections.AuditEntries(ctx, db, projections.AuditFilter{After: after, Limit: 4})
			require.NoError(t, err)
			paged = append(paged, page...)
			if len(page) < 4 {
				break
			}
			after = page[len(page)-1].Seq
		}
		require.Equal(t, all, paged)
	})
}

func first(i int, _ string) int { return i }

func TestAuditVerifyFindsFirstBreak(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tamper []string // statements on the stored trail
		seq    uint64
		reason string
	}{
		{"an outcome rewritten", []string{`UPDATE audit_log SET outcome = 'nothing happened' WHERE seq = 9`}, 9, "altered after it was hashed"},
		{"an actor rewritten and rehashed", []string{`UPDATE audit_log SET actor = 'someone else', hash = 'x' WHERE seq = 12`}, 12, "altered"},
		{"an entry removed", []string{`DELETE FROM audit_log WHERE seq = 14`}, 14, "trail has entry 15 where the log has event 14"},
		{"the last entries removed", []string{`DELETE FROM audit_log WHERE seq >= 30`}, 30, "missing"},
		{"an entry added", []string{`INSERT INTO audit_log SELECT seq + 1000, at, event_id, actor, action, request_id, deletion_id, person_ids,
			group_ids, permission_group_ids, outcome, prev_hash, hash FROM audit_log WHERE seq = 3`}, 1003, "the log does not"},
		{"the chain relinked", []string{`UPDATE audit_log SET prev_hash = 'x' WHERE seq = 5`}, 5, "not chained"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			forEachDialect(t, func(t *testing.T, dialect string) {
				s, db, _, _ := auditModel(t, dialect)
				for _, q := range tt.tamper {
					_, err := db.Exec(q)
					require.NoError(t, err)
				}
				v, err := projections.VerifyAudit(context.Background(), db, s, "")
				require.NoError(t, err)
				require.False(t, v.OK)
				require.NotNil(t, v.FirstBreak)
				require.Equal(t, tt.seq, v.FirstBreak.Seq, "%+v", v.FirstBreak)
				require.True(t, strings.Contains(v.FirstBreak.Reason, tt.reason), "%+v", v.FirstBreak)
			})
		})
	}
}

func TestVerifyExportedEntries(t *testing.T) {
	t.Parallel()
	_, db, _, _ := auditModel(t, "sqlite")
	all, err := projections.AuditEntries(context.Background(), db, projections.AuditFilter{Limit: 1000})
	require.NoError(t, err)
	tests := []struct {
		name   string
		edit   func([]projections.AuditEntry) []projections.AuditEntry
		broken int
	}{
		{"untouched", func(es []projections.AuditEntry) []projections.AuditEntry { return es }, -1},
		{"a gap is fine", func(es []projections.AuditEntry) []projections.AuditEntry { return append(es[:3:3], es[5:]...) }, -1},
		{"a person id changed", func(es []projections.AuditEntry) []projections.AuditEntry {
			es[4].PersonIDs = []string{"someone"}
			return es
		}, 4},
		{"an entry rehashed", func(es []projections.AuditEntry) []projections.AuditEntry {
			es[6].Outcome = "x"
			es[6].Hash = projections.ChainHash(es[6].PrevHash, es[6])
			return es
		}, 7},
		{"reordered", func(es []projections.AuditEntry) []projections.AuditEntry {
			es[2], es[3] = es[3], es[2]
			return es
		}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es := tt.edit(append([]projections.AuditEntry(nil), all...))
			i, _ := projections.VerifyEntries(es)
			require.Equal(t, tt.broken, i)
		})
	}
}

// A person's trail finds a batch's entries through the batches its requests name, and keeps
// only those naming the person: one split out of a batch is not in the batch's later steps, a
// retried one is in the next batch too, and an ID JSON escapes ('&') matches as itself.
func TestPersonTrailThroughBatches(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		s := newStore(t)
		db := openDBs(t, dialect, newDSN(t, dialect)).ReadModel
		w := newWriter(s)
		batch := func(name string, data any) step { return step{events.AggregateBatch, name, data} }
		const a, b, c = "p&1", "p2", "p22"
		faces := func(ids ...string) []events.PersonFaces {
			out := []events.PersonFaces{}
			for _, id := range ids {
				out = append(out, events.PersonFaces{PersonID: id, FaceIDs: []string{}})
			}
			return out
		}
		started := func(name string, ids ...string) events.DeletionBatchStarted {
			e := events.DeletionBatchStarted{DeletionID: "d", Batch: name}
			for _, id := range ids {
				e.Persons = append(e.Persons, events.BatchPerson{PersonID: id})
			}
			return e
		}
		last := w.append(t,
			person(a, events.PersonCreated{PersonID: a, Name: "sealed-a"}),
			person(b, events.PersonCreated{PersonID: b, Name: "sealed-b"}),
			person(c, events.PersonCreated{PersonID: c, Name: "sealed-c"}),
			person(a, events.PersonDeletionRequested{PersonID: a, DeletionID: "d", Batch: "b1"}),
			person(b, events.PersonDeletionRequested{PersonID: b, DeletionID: "d", Batch: "b1"}),
			batch("b1", started("b1", a, b)),
			batch("b1", events.PermissionGroupsUnbound{DeletionID: "d", Batch: "b1", Persons: []events.PersonPermissionGroups{
				{PersonID: a, PermissionGroupIDs: []string{}}, {PersonID: b, PermissionGroupIDs: []string{}}}}),
			person(a, events.PersonDeletionFailed{PersonID: a, DeletionID: "d", Code: "STEP_FAILED", Step: "purge_faces"}),
			batch("b1", events.FacesPurged{DeletionID: "d", Batch: "b1", Persons: faces(b)}),
			person(b, events.PersonDeleted{PersonID: b, DeletionID: "d"}),
			batch("b1", events.DeletionBatchCompleted{DeletionID: "d", Batch: "b1", Deleted: 1, Failed: 1}),
			// a is retried in a batch of its own with c.
			person(a, events.PersonDeletionRequested{PersonID: a, DeletionID: "d", Batch: "b2", ResumeAt: "purge_faces"}),
			person(c, events.PersonDeletionRequested{PersonID: c, DeletionID: "d", Batch: "b2"}),
			batch("b2", started("b2", a, c)),
			batch("b2", events.FacesPurged{DeletionID: "d", Batch: "b2", Persons: faces(a, c)}),
		)
		allRunner(t, db, s, 6).waitFor(t, last)
		trail := func(id string) []string { return actionsOf(t, db, projections.AuditFilter{PersonID: id}) }
		require.Equal(t, []string{
			"PersonCreated: person registered with 0 faces",
			"PersonDeletionRequested: person deletion started",
			"DeletionBatchStarted: batch b1 started: 2 persons",
			"PermissionGroupsUnbound: step unbind_permission_groups done for 2 persons: 0 unbound",
			"PersonDeletionFailed: failed: STEP_FAILED at step purge_faces",
			"PersonDeletionRequested: retried from step purge_faces",
			"DeletionBatchStarted: batch b2 started: 2 persons",
			"FacesPurged: step purge_faces done for 2 persons: 0 faces purged",
		}, trail(a))
		require.Equal(t, []string{
			"PersonCreated: person registered with 0 faces",
			"PersonDeletionRequested: person deletion started",
			"DeletionBatchStarted: batch b1 started: 2 persons",
			"PermissionGroupsUnbound: step unbind_permission_groups done for 2 persons: 0 unbound",
			"FacesPurged: step purge_faces done: 0 faces purged",
			"PersonDeleted: person deleted; data key destroyed",
		}, trail(b))
		require.Equal(t, []string{
			"PersonCreated: person registered with 0 faces",
			"PersonDeletionRequested: person deletion started",
			"DeletionBatchStarted: batch b2 started: 2 persons",
			"FacesPurged: step purge_faces done for 2 persons: 0 faces purged",
		}, trail(c))
		require.Empty(t, trail("p"), "no person's ID matches inside another's")
		require.Empty(t, trail("b1"), "a batch is no person")
	})
}

// actionsOf lists the audit entries f selects (at most 100) as "action: outcome".
func actionsOf(t *testing.T, db *sqlx.DB, f projections.AuditFilter) []string {
	t.Helper()
	f.Limit = 100
	es, err := projections.AuditEntries(context.Background(), db, f)
	require.NoError(t, err)
	var out []string
	for _, e := range es {
		out = append(out, e.Action+": "+e.Outcome)
	}
	return out
}
