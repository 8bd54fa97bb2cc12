package app

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
)

// A person's state at a moment counts the steps its batch recorded on the batch's subject.
func TestWithBatchSteps(t *testing.T) {
	at := func(seq uint64, aggregate, id string, data any) events.Recorded {
		e, err := events.New(aggregate, id, data, events.Meta{Time: time.Unix(int64(seq), 0)})
		require.NoError(t, err)
		return events.Recorded{Seq: seq, Envelope: e}
	}
	faces := []events.Face{{FaceID: "f", PhotoKey: "k"}}
	own := []events.Recorded{
		at(1, events.AggregatePerson, "p", events.PersonCreated{PersonID: "p", Name: "x", PermissionGroupIDs: []string{"door"}, Faces: faces}),
		at(3, events.AggregatePerson, "p", events.PersonDeletionRequested{PersonID: "p", DeletionID: "d", Batch: "d_0_0"}),
		at(7, events.AggregatePerson, "p", events.PersonDeletionFailed{PersonID: "p", DeletionID: "d", Code: domain.CodeStepFailed, Step: "purge_faces"}),
	}
	batch := []events.Recorded{
		at(5, events.AggregateBatch, "d_0_0", events.DeletionBatchStarted{DeletionID: "d", Batch: "d_0_0",
			Persons: []events.BatchPerson{{PersonID: "q"}, {PersonID: "p", PermissionGroupIDs: []string{"door"}, Faces: faces}}}),
		at(6, events.AggregateBatch, "d_0_0", events.PermissionGroupsUnbound{DeletionID: "d", Batch: "d_0_0",
			Persons: []events.PersonPermissionGroups{{PersonID: "q", PermissionGroupIDs: []string{}}, {PersonID: "p", PermissionGroupIDs: []string{"door"}}}}),
		at(8, events.AggregateBatch, "d_0_0", events.FacesPurged{DeletionID: "d", Batch: "d_0_0", Persons: []events.PersonFaces{{PersonID: "q", FaceIDs: []string{}}}}),
		at(9, events.AggregateBatch, "d_0_0", events.DeletionBatchCompleted{DeletionID: "d", Batch: "d_0_0", Deleted: 1, Failed: 1}),
	}
	loads := 0
	load := func(_ context.Context, aggregate, id string) ([]events.Recorded, uint64, error) {
		loads++
		require.Equal(t, events.AggregateBatch, aggregate)
		require.Equal(t, "d_0_0", id)
		return batch, 9, nil
	}
	got, err := withBatchSteps(context.Background(), load, "p", own)
	require.NoError(t, err)
	var seqs []uint64
	for _, r := range got {
		seqs = append(seqs, r.Seq)
	}
	require.Equal(t, []uint64{1, 3, 5, 6, 7}, seqs, "the batch's events that list p, in log order")
	require.Equal(t, 1, loads)

	data := func(rs []events.Recorded) []any {
		var out []any
		for _, r := range rs {
			out = append(out, r.Data)
		}
		return out
	}
	p := domain.PersonFromHistory("p", data(got[:4]))
	require.Empty(t, p.PermissionGroupIDs(), "unbound by its batch")
	require.Equal(t, faces, p.Faces())
	_, next, failed := domain.PersonFromHistory("p", data(got)).Deletion()
	require.Equal(t, domain.StepPurgeFaces, next)
	require.True(t, failed)

	// No batch named: the history as it is, nothing loaded.
	got, err = withBatchSteps(context.Background(), load, "p", own[:1])
	require.NoError(t, err)
	require.Equal(t, own[:1], got)
	require.Equal(t, 1, loads)
}
