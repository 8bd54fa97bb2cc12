package domain_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
)

// A bulk deletion's steps are recorded once per batch (docs/adr/0003): one event lists the
// batch's persons, and each person's history is its own events plus the batch's.

const (
	batch   = "del-1_0_0"
	other   = "person-2"
	another = "person-3"
)

func batchRequested(d, b string) events.PersonDeletionRequested {
	return events.PersonDeletionRequested{PersonID: pid, DeletionID: d, Batch: b}
}

// batchUnbound, batchFacesPurged and batchPhotosPurged are a batch's step events listing ids,
// each with what the standard person (pid) loses.
func batchUnbound(ids ...string) events.PermissionGroupsUnbound {
	e := events.PermissionGroupsUnbound{DeletionID: d1, Batch: batch}
	for _, id := range ids {
		e.Persons = append(e.Persons, events.PersonPermissionGroups{PersonID: id, PermissionGroupIDs: []string{"pg1", "pg2"}})
	}
	return e
}

func batchFacesPurged(ids ...string) events.FacesPurged {
	e := events.FacesPurged{DeletionID: d1, Batch: batch}
	for _, id := range ids {
		e.Persons = append(e.Persons, events.PersonFaces{PersonID: id, FaceIDs: []string{"f1", "f2"}})
	}
	return e
}

func batchPhotosPurged(ids ...string) events.PhotosPurged {
	e := events.PhotosPurged{DeletionID: d1, Batch: batch}
	for _, id := range ids {
		e.Persons = append(e.Persons, events.PersonPhotos{PersonID: id, PhotoKeys: []string{"photos/f1.jpg", "photos/f2.jpg"}})
	}
	return e
}

var (
	batchDeleting     = history(active, batchRequested(d1, batch))
	batchAfterUnbind  = history(batchDeleting, batchUnbound(other, pid, another))
	batchAfterFaces   = history(batchAfterUnbind, batchFacesPurged(other, pid, another))
	batchAfterPhotos  = history(batchAfterFaces, batchPhotosPurged(other, pid, another))
	batchDeletedState = personState{ID: pid, Status: domain.StatusDeleted}
)

// Only the persons a batch's step event lists move; a person it leaves out (split out of the
// batch, or in another batch) keeps its state, whatever the others' step.
func TestPersonApplyBatchStepEvents(t *testing.T) {
	deletingState := func(next domain.Step) personState {
		return personState{ID: pid, Status: domain.StatusDeleting, Exists: true, Groups: []string{"g1", "g2"},
			Permissions: []string{"pg1", "pg2"}, Faces: []events.Face{face("f1"), face("f2")}, Deletion: d1, Next: next}
	}
	tests := []struct {
		name  string
		given []any
		then  personState
	}{
		{name: "requested in a batch", given: batchDeleting, then: deletingState(domain.StepUnbindPermissions)},
		{name: "unbound with the rest of its batch", given: batchAfterUnbind,
			then: func() personState { s := deletingState(domain.StepPurgeFaces); s.Permissions = nil; return s }()},
		{name: "faces purged with the rest of its batch", given: batchAfterFaces,
			then: func() personState { s := deletingState(domain.StepPurgePhotos); s.Permissions = nil; return s }()},
		{name: "photos purged with the rest of its batch", given: batchAfterPhotos,
			then: func() personState {
				s := deletingState(domain.StepDeletePerson)
				s.Permissions, s.Faces = nil, nil
				return s
			}()},
		{name: "a step listing only others", given: history(batchDeleting, batchUnbound(other, another)),
			then: deletingState(domain.StepUnbindPermissions)},
		{name: "a step of an empty batch", given: history(batchDeleting, batchUnbound()),
			then: deletingState(domain.StepUnbindPermissions)},
		{name: "later steps listing only others", given: history(batchAfterUnbind, batchFacesPurged(other), batchPhotosPurged(other, another)),
			then: func() personState { s := deletingState(domain.StepPurgeFaces); s.Permissions = nil; return s }()},
		{name: "photos purged of others keeps its faces", given: history(batchAfterFaces, batchPhotosPurged(another)),
			then: func() personState { s := deletingState(domain.StepPurgePhotos); s.Permissions = nil; return s }()},
		{name: "the batch ended it", given: history(batchAfterPhotos, events.PersonDeleted{PersonID: pid, DeletionID: d1},
			events.DeletionBatchCompleted{DeletionID: d1, Batch: batch, Deleted: 3}), then: batchDeletedState},
		{name: "batch start and end are not its events", given: history(batchDeleting,
			events.DeletionBatchStarted{DeletionID: d1, Batch: batch, Persons: []events.BatchPerson{{PersonID: pid}}},
			events.DeletionBatchCompleted{DeletionID: d1, Batch: batch}), then: deletingState(domain.StepUnbindPermissions)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := domain.PersonFromHistory(pid, tt.given)
			require.Equal(t, tt.then, personStateOf(p))
			if tt.then.Status == domain.StatusDeleting {
				require.Equal(t, batch, p.Batch())
			} else {
				require.Empty(t, p.Batch())
			}
			// Event by event, as a follower applies them, the same.
			q := domain.PersonFromHistory(pid, nil)
			for _, e := range tt.given {
				q.Apply(e)
			}
			require.Equal(t, tt.then, personStateOf(q))
		})
	}

	// Another person listed in the same events moves by them too, each from its own state.
	o := domain.PersonFromHistory(other, []any{
		events.PersonCreated{PersonID: other, Name: sealedName, PermissionGroupIDs: []string{"door"}, Faces: []events.Face{face("f9")}},
		events.PersonDeletionRequested{PersonID: other, DeletionID: d1, Batch: batch},
		batchUnbound(other, pid), batchFacesPurged(other, pid),
	})
	_, next, failed := o.Deletion()
	require.Equal(t, domain.StepPurgePhotos, next)
	require.False(t, failed)
	require.Empty(t, o.PermissionGroupIDs())
	require.Equal(t, []events.Face{face("f9")}, o.Faces())

	// A cancelled person leaves its batch.
	c := domain.PersonFromHistory(pid, history(batchDeleting, events.PersonDeletionCancelled{PersonID: pid, DeletionID: d1}))
	require.Equal(t, domain.StatusActive, c.Status())
	require.Empty(t, c.Batch())
}

// EndBatchedDeletion ends a person whose steps its batch recorded: deleted, or failed at the
// step it names; a no-op for a person no longer in that batch's deletion.
func TestEndBatchedDeletion(t *testing.T) {
	end := domain.EndBatchedDeletion{DeletionID: d1, Batch: batch}
	fail := domain.EndBatchedDeletion{DeletionID: d1, Batch: batch, Step: domain.StepPurgeFaces, Code: domain.CodeStepFailed, Message: "store down"}
	failedAtFaces := events.PersonDeletionFailed{PersonID: pid, DeletionID: d1, Code: domain.CodeStepFailed, Step: string(domain.StepPurgeFaces), Message: "store down"}
	runPersonCases(t, []personCase{
		{name: "deleted at the end of its batch", given: batchAfterPhotos, when: end, then: []any{personGone}},
		{name: "deleted though it moved on (a joined request)", given: history(batchAfterPhotos, deletionJoined(d2, d1)), when: end, then: []any{personGone}},
		{name: "failed at a step", given: batchAfterUnbind, when: fail, then: []any{failedAtFaces}},
		{name: "failed at its first step", given: batchDeleting,
			when: domain.EndBatchedDeletion{DeletionID: d1, Batch: batch, Step: domain.StepUnbindPermissions, Code: domain.CodeStepFailed},
			then: []any{events.PersonDeletionFailed{PersonID: pid, DeletionID: d1, Code: domain.CodeStepFailed, Step: string(domain.StepUnbindPermissions)}}},
		{name: "already failed", given: history(batchAfterUnbind, failedAtFaces), when: end},
		{name: "already failed, failed again", given: history(batchAfterUnbind, failedAtFaces), when: fail},
		{name: "already deleted (a redelivered end)", given: history(batchAfterPhotos, personGone), when: end},
		{name: "in another batch", given: history(active, batchRequested(d1, "del-1_0_1000")), when: end},
		{name: "in another deletion", given: history(active, events.PersonDeletionRequested{PersonID: pid, DeletionID: d2, Batch: batch}), when: end},
		{name: "on the per-person path", given: deleting, when: domain.EndBatchedDeletion{DeletionID: d1}},
		{name: "on the per-person path, a batch named", given: afterPhotos, when: end},
		{name: "cancelled", given: history(batchDeleting, events.PersonDeletionCancelled{PersonID: pid, DeletionID: d1}), when: end},
		{name: "re-created after its deletion", given: history(batchAfterPhotos, personGone, created), when: end},
		{name: "never created", given: nil, when: end},
		{name: "retried on its own subject after failing", given: history(batchAfterUnbind, failedAtFaces, deletionResumed(d1, domain.StepPurgeFaces)), when: end},
	})

	// Failed in its batch, the person is retried from the step it failed at.
	p := domain.PersonFromHistory(pid, history(batchAfterUnbind, failedAtFaces))
	_, next, failed := p.Deletion()
	require.Equal(t, domain.StepPurgeFaces, next)
	require.True(t, failed)
	got, err := p.Decide(domain.RetryPersonDeletion{})
	require.NoError(t, err)
	require.Equal(t, []any{events.PersonDeletionRequested{PersonID: pid, DeletionID: d1, ResumeAt: string(domain.StepPurgeFaces),
		Faces: []events.Face{face("f1"), face("f2")}}}, got)
}
