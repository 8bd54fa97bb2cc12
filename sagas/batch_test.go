package sagas_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/testenv"
)

// A bulk's persons are deleted as a batch: each person's own subject gets two events, the steps
// are recorded once for the batch, listing its persons. A person a store keeps refusing is split
// out at that step (failed, with the step) and the rest go on; an operator's retry finishes it.
func TestBatchRecordsStepsOnceAndSplitsOutAFailure(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		var target *faultyTarget
		env := start(t, dialect, &target)
		a := api{t, env.HTTP.URL}
		var ids []string
		for i := range 6 {
			ids = append(ids, fmt.Sprintf("b-%d", i))
			a.createPerson(ids[i])
		}
		target.set(func() { target.brokenFor[string(domain.StepPurgeFaces)+"/b-3"] = true })
		deletion := a.deleteIDs(ids...)
		d := a.waitDeletion(deletion)
		require.Equal(t, 5.0, d["deleted"], d)
		require.Equal(t, 1.0, d["failed"], d)
		item := a.waitItem(deletion, "b-3")
		require.Equal(t, string(domain.StepPurgeFaces), item["error"].(map[string]any)["step"], item)

		ctx := context.Background()
		own, _, err := env.Svc.Log.Load(ctx, events.AggregatePerson, "b-0")
		require.NoError(t, err)
		req := own[1].Data.(events.PersonDeletionRequested)
		require.NotEmpty(t, req.Batch, "the dispatcher put the person in a batch")
		require.Empty(t, req.PermissionGroupIDs, "the batch's start lists what the person is to lose, once")
		require.Empty(t, req.Faces)
		batch, _, err := env.Svc.Log.Load(ctx, events.AggregateBatch, req.Batch)
		require.NoError(t, err)
		var types []string
		for _, r := range batch {
			types = append(types, r.Type)
		}
		require.Equal(t, []string{"DeletionBatchStarted", "PermissionGroupsUnbound", "FacesPurged", "PhotosPurged", "DeletionBatchCompleted"}, types)
		require.Equal(t, ids, events.PersonIDsOf(batch[0].Data))
		require.Equal(t, ids, events.PersonIDsOf(batch[1].Data))
		// Each record lists what it removed of each person (the read model's snapshot).
		started := batch[0].Data.(events.DeletionBatchStarted)
		require.Equal(t, []string{"door"}, started.Persons[0].PermissionGroupIDs)
		require.Len(t, started.Persons[0].Faces, 1)
		require.Equal(t, []string{"door"}, batch[1].Data.(events.PermissionGroupsUnbound).Persons[0].PermissionGroupIDs)
		require.Equal(t, []string{started.Persons[0].Faces[0].FaceID}, batch[2].Data.(events.FacesPurged).Persons[0].FaceIDs)
		require.Equal(t, []string{started.Persons[0].Faces[0].PhotoKey}, batch[3].Data.(events.PhotosPurged).Persons[0].PhotoKeys)
		without := []string{"b-0", "b-1", "b-2", "b-4", "b-5"}
		require.Equal(t, without, events.PersonIDsOf(batch[2].Data), "the failed person is split out")
		require.Equal(t, without, events.PersonIDsOf(batch[3].Data))
		require.Equal(t, events.DeletionBatchCompleted{DeletionID: deletion, Batch: req.Batch, Deleted: 5, Failed: 1}, batch[4].Data)
		for _, id := range without {
			require.Equal(t, []string{"PersonCreated", "PersonDeletionRequested", "PersonDeleted"}, ownEvents(t, env, id))
			require.Equal(t, fullSaga, personEvents(t, env, id))
			requireGone(t, env, a, id)
		}
		require.Equal(t, []string{"PersonCreated", "PersonDeletionRequested", "PersonDeletionFailed"}, ownEvents(t, env, "b-3"))
		status, p := a.call(http.MethodGet, "/v1/persons/b-3", nil)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "deleting", p["state"], "never half-visible")

		// The retry resumes where the person stopped: its faces, then its photos.
		target.set(func() { delete(target.brokenFor, string(domain.StepPurgeFaces)+"/b-3") })
		status, body := a.call(http.MethodPost, "/v1/deletions/"+deletion+"/retry", nil)
		require.Equal(t, http.StatusAccepted, status, body)
		require.Equal(t, "deleted", a.waitItem(deletion, "b-3")["state"])
		requireGone(t, env, a, "b-3")
		require.Equal(t, 1, target.effectCount(domain.StepUnbindPermissions, "b-3"))
		require.Equal(t, 1, target.effectCount(domain.StepPurgeFaces, "b-3"))
		require.Equal(t, 1, target.effectCount(domain.StepPurgePhotos, "b-3"))
	})
}
