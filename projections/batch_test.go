package projections_test

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/projections"
)

// unboundStep, facesStep and photosStep are step events of one person, as its own subject
// records them (the per-person path, and every log from before batches): a batch of one.
func unboundStep(p, d string, ids []string) events.PermissionGroupsUnbound {
	return events.PermissionGroupsUnbound{DeletionID: d, Persons: []events.PersonPermissionGroups{{PersonID: p, PermissionGroupIDs: ids}}}
}

func facesStep(p, d string, ids []string) events.FacesPurged {
	return events.FacesPurged{DeletionID: d, Persons: []events.PersonFaces{{PersonID: p, FaceIDs: ids}}}
}

func photosStep(p, d string, keys []string, targets ...string) events.PhotosPurged {
	return events.PhotosPurged{DeletionID: d, Persons: []events.PersonPhotos{{PersonID: p, PhotoKeys: keys}}, Targets: targets}
}

// decoded is a stored message as the log gives it back: payload through the upcasters.
func decoded(t *testing.T, subject, qualifiedType string, data []byte, seq uint64) events.Recorded {
	t.Helper()
	h := nats.Header{}
	h.Set(nats.MsgIdHdr, "ev")
	h.Set(events.HeaderType, qualifiedType)
	h.Set(events.HeaderTime, "2023-06-01T10:00:00.5Z")
	h.Set(events.HeaderCorrelation, "req-9")
	h.Set(events.HeaderActor, "person-deletion-saga")
	r, err := eventlog.DecodeMsg(subject, h, data, seq)
	require.NoError(t, err)
	return r
}

// Stored audit trails verify after the step events became batch events: a version 1 step event
// (one person) gets exactly the entry the code before batches wrote for it
// (testdata/v1_step_audit.json, written by that code), and so does a version 2 event listing
// one person, whichever subject holds it.
func TestAuditOfOnePersonStepIsUnchanged(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/v1_step_audit.json")
	require.NoError(t, err)
	var golden []struct {
		Seq       uint64          `json:"seq"`
		Type      string          `json:"type"`
		Data      json.RawMessage `json:"data"`
		Canonical string          `json:"canonical"`
		Hash      string          `json:"hash"`
	}
	require.NoError(t, json.Unmarshal(b, &golden))
	require.Len(t, golden, 7)
	for _, g := range golden {
		t.Run(fmt.Sprintf("%d %s", g.Seq, g.Type), func(t *testing.T) {
			v1 := decoded(t, "erasure.person.p9", g.Type, g.Data, g.Seq)
			e := projections.AuditEntryFor(v1)
			require.Equal(t, g.Canonical, string(e.Canonical()))
			require.Equal(t, g.Hash, e.Chained(projections.GenesisHash).Hash)

			// The same step in version 2, on the person's subject and on a batch's.
			v2, err := json.Marshal(v1.Data)
			require.NoError(t, err)
			name, version, err := events.TypeOf(v1.Data)
			require.NoError(t, err)
			require.Equal(t, 2, version)
			for _, subject := range []string{"erasure.person.p9", "erasure.batch.d9_0_0"} {
				r := decoded(t, subject, fmt.Sprintf("%s.v%d", name, version), v2, g.Seq)
				require.Equal(t, g.Canonical, string(projections.AuditEntryFor(r).Canonical()), subject)
			}
		})
	}
}

// A batch's step is one entry naming all its persons, in order; the batch's start and end are
// entries too.
func TestAuditOfBatchEvents(t *testing.T) {
	t.Parallel()
	many := make([]events.PersonFaces, 1000)
	for i := range many {
		many[i] = events.PersonFaces{PersonID: fmt.Sprintf("p%04d", i), FaceIDs: []string{"a", "b", "c"}}
	}
	manyIDs := events.PersonIDsOf(events.FacesPurged{Persons: many})
	tests := []struct {
		name     string
		data     any
		persons  []string
		perms    []string
		deletion string
		outcome  string
	}{
		{name: "unbound", data: events.PermissionGroupsUnbound{DeletionID: "d1", Batch: "d1_0_0", Persons: []events.PersonPermissionGroups{
			{PersonID: "b", PermissionGroupIDs: []string{"door", "lab"}}, {PersonID: "a", PermissionGroupIDs: []string{"lab"}},
			{PersonID: "c", PermissionGroupIDs: []string{}}, {PersonID: "d", PermissionGroupIDs: []string{"gate", "door"}}}},
			persons: []string{"b", "a", "c", "d"}, perms: []string{"door", "lab", "gate"}, deletion: "d1",
			outcome: "step unbind_permission_groups done for 4 persons: 5 unbound"},
		{name: "faces purged", data: events.FacesPurged{DeletionID: "d1", Batch: "d1_0_0", Persons: many},
			persons: manyIDs, deletion: "d1", outcome: "step purge_faces done for 1000 persons: 3000 faces purged"},
		{name: "photos purged", data: events.PhotosPurged{DeletionID: "d1", Batch: "d1_0_0", Targets: []string{"site-a"}, Persons: []events.PersonPhotos{
			{PersonID: "a", PhotoKeys: []string{"k1"}}, {PersonID: "b", PhotoKeys: []string{"k2", "k3"}}}},
			persons: []string{"a", "b"}, deletion: "d1", outcome: "step purge_photos done for 2 persons: 3 photos purged"},
		{name: "one person of a batch", data: events.PhotosPurged{DeletionID: "d1", Batch: "d1_0_0", Persons: []events.PersonPhotos{
			{PersonID: "b", PhotoKeys: []string{"k2", "k3"}}}},
			persons: []string{"b"}, deletion: "d1", outcome: "step purge_photos done: 2 photos purged"},
		{name: "nobody left in the batch", data: events.FacesPurged{DeletionID: "d1", Batch: "d1_0_0", Persons: []events.PersonFaces{}},
			deletion: "d1", outcome: "step purge_faces done for 0 persons: 0 faces purged"},
		{name: "started", data: events.DeletionBatchStarted{DeletionID: "d1", Batch: "d1_0_0", Persons: []events.BatchPerson{
			{PersonID: "b", PermissionGroupIDs: []string{"door"}, Faces: []events.Face{{FaceID: "f", PhotoKey: "k"}}}, {PersonID: "a"}}},
			persons: []string{"b", "a"}, deletion: "d1", outcome: "batch d1_0_0 started: 2 persons"},
		{name: "completed", data: events.DeletionBatchCompleted{DeletionID: "d1", Batch: "d1_0_0", Deleted: 997, Failed: 2, Cancelled: 1},
			deletion: "d1", outcome: "batch d1_0_0 completed: 997 deleted, 2 failed, 1 cancelled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := events.New(events.AggregateBatch, "d1_0_0", tt.data, events.Meta{CorrelationID: "req", Actor: "batch-deletion-saga",
				Time: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)})
			require.NoError(t, err)
			e := projections.AuditEntryFor(events.Recorded{Envelope: env, Seq: 42})
			require.Equal(t, projections.AuditEntry{Seq: 42, Time: "2026-01-02T03:04:05.000006Z", EventID: env.ID, Actor: "batch-deletion-saga",
				Action: env.Type, RequestID: "req", DeletionID: tt.deletion, PersonIDs: tt.persons, PermissionGroupIDs: tt.perms, Outcome: tt.outcome}, e)
		})
	}
}
