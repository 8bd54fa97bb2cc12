package projections_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/projections"
)

// The read side answers from the read model the per-person fixture builds (g1 with p1 and p3;
// request d1 over p1, p2 and "ghost": p2 deleted, p1 failed at purge_faces, ghost unknown; p3
// bound to door-1) on both dialects: what each query promises its caller, "not there" as
// ErrNotFound where a row is asked for, and an empty answer where a list is.
func TestQueriesAnswerFromTheReadModel(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		log, last := publishFixture(t, "../events/testdata/log_per_person.json")
		db := openDBs(t, dialect, newDSN(t, dialect)).ReadModel
		allRunner(t, db, log, 4).waitFor(t, last)
		q := projections.Queries{DB: db}
		requested := time.Date(2023, 6, 1, 10, 0, 6, 123456000, time.UTC)

		tests := []struct {
			name  string
			check func(t *testing.T, ctx context.Context)
		}{
			{"a request with its counters", func(t *testing.T, ctx context.Context) {
				d, err := q.Deletion(ctx, "d1")
				require.NoError(t, err)
				require.Equal(t, []any{"running", 3, 0, 1, 2, "native"}, []any{d.State, d.Total, d.Pending, d.Deleted, d.Failed, d.Source})
				require.True(t, d.CreatedAt.Equal(requested), d.CreatedAt)
				state, err := q.DeletionState(ctx, "d1")
				require.NoError(t, err)
				require.Equal(t, "running", state)
			}},
			{"no such request", func(t *testing.T, ctx context.Context) {
				_, err := q.Deletion(ctx, "nope")
				require.ErrorIs(t, err, projections.ErrNotFound)
				_, err = q.DeletionState(ctx, "nope")
				require.ErrorIs(t, err, projections.ErrNotFound)
				_, err = q.DeletionVersion(ctx, "nope")
				require.ErrorIs(t, err, projections.ErrNotFound)
				recorded, err := q.FullyRecorded(ctx, "nope")
				require.NoError(t, err, "not recorded yet is no error")
				require.False(t, recorded)
			}},
			{"the list, newest first, one state", func(t *testing.T, ctx context.Context) {
				ds, err := q.ListDeletions(ctx, projections.DeletionFilter{State: "running", Limit: 10})
				require.NoError(t, err)
				require.Len(t, ds, 1)
				require.Equal(t, "d1", ds[0].DeletionID)
				ds, err = q.ListDeletions(ctx, projections.DeletionFilter{After: &projections.DeletionCursor{CreatedAt: requested, DeletionID: "d1"}})
				require.NoError(t, err)
				require.Empty(t, ds, "nothing after the only request")
			}},
			{"items by state, by code, by person or position", func(t *testing.T, ctx context.Context) {
				items, err := q.DeletionItems(ctx, "d1", projections.ItemFilter{State: "failed"}, -1, 10)
				require.NoError(t, err)
				require.Equal(t, []string{"p1", "ghost"}, personsOf(items))
				items, err = q.DeletionItems(ctx, "d1", projections.ItemFilter{Code: "ID_NOT_FOUND"}, -1, 10)
				require.NoError(t, err)
				require.Equal(t, []string{"ghost"}, personsOf(items))
				items, err = q.DeletionItems(ctx, "d1", projections.ItemFilter{}, 0, 10)
				require.NoError(t, err)
				require.Equal(t, []string{"p2", "ghost"}, personsOf(items), "after the cursor position")
				items, err = q.ItemsOf(ctx, "d1", []string{"p2"}, []int{2})
				require.NoError(t, err)
				got := personsOf(items)
				slices.Sort(got)
				require.Equal(t, []string{"ghost", "p2"}, got)
				require.Equal(t, "d1", items[slices.IndexFunc(items, func(it projections.DeletionItem) bool { return it.PersonID == "p2" })].SagaID)
			}},
			{"failures grouped, the largest group first, then by code", func(t *testing.T, ctx context.Context) {
				groups, err := q.DeletionFailures(ctx, "d1")
				require.NoError(t, err)
				require.Equal(t, []projections.FailureGroup{
					{FailureKey: projections.FailureKey{Code: "ID_NOT_FOUND"}, Count: 1, Examples: []string{"ghost"}},
					{FailureKey: projections.FailureKey{Code: "STEP_FAILED", Step: "purge_faces"}, Count: 1, Examples: []string{"p1"}},
				}, groups)
				refused, err := q.RefusedBy(ctx, "d1", "")
				require.NoError(t, err)
				require.Nil(t, refused, "no target: no filter")
			}},
			{"latency and backlog", func(t *testing.T, ctx context.Context) {
				ls, err := q.DeletionLatencies(ctx, "d1")
				require.NoError(t, err)
				require.Equal(t, []time.Duration{9 * time.Second}, ls)
				pending, ended, err := q.Backlog(ctx, "d1")
				require.NoError(t, err)
				require.Equal(t, []int{0, 3}, []int{pending, ended})
			}},
			{"a person with what it holds, in the order added", func(t *testing.T, ctx context.Context) {
				p, err := q.Person(ctx, "p3")
				require.NoError(t, err)
				require.Equal(t, projections.PersonRecord{
					PersonRow: projections.PersonRow{PersonID: "p3", NameSealed: "c2VhbGVkLXAz", State: "active"},
					GroupIDs:  []string{"g1"}, PermissionGroupIDs: []string{"door-1"}, FaceIDs: []string{},
				}, p)
				p, err = q.Person(ctx, "p1")
				require.NoError(t, err)
				require.Equal(t, []string{"f1", "f2"}, p.FaceIDs)
				_, err = q.Person(ctx, "p2")
				require.ErrorIs(t, err, projections.ErrNotFound, "deleted")
			}},
			{"active persons, filtered by binding", func(t *testing.T, ctx context.Context) {
				ids, total, err := q.ActivePersonIDs(ctx, projections.ActivePersonFilter{}, 0, 10)
				require.NoError(t, err)
				require.Equal(t, []string{"p3"}, ids, "p1 is being deleted")
				require.Equal(t, 1, total)
				ids, total, err = q.ActivePersonIDs(ctx, projections.ActivePersonFilter{PermissionGroupIDs: []string{"door-2", "door-1"}}, 0, 10)
				require.NoError(t, err)
				require.Equal(t, []string{"p3"}, ids)
				require.Equal(t, 1, total)
				rows, err := q.ActivePersonRows(ctx, projections.ActivePersonFilter{PermissionGroupIDs: []string{"door-2"}})
				require.NoError(t, err)
				require.Empty(t, rows)
				ids, err = q.PersonIDs(ctx, "g1", "", 10)
				require.NoError(t, err)
				require.Equal(t, []string{"p1", "p3"}, ids, "members in any state")
			}},
			{"groups and their active members", func(t *testing.T, ctx context.Context) {
				g, err := q.Group(ctx, "g1")
				require.NoError(t, err)
				require.Equal(t, projections.Group{GroupID: "g1", Name: "Staff", State: "active", PersonCount: 2}, g)
				_, err = q.GroupInfo(ctx, "g9")
				require.ErrorIs(t, err, projections.ErrNotFound)
				members, total, faces, err := q.ActiveMembers(ctx, "g1", 0, 10)
				require.NoError(t, err)
				require.Len(t, members, 1)
				require.Equal(t, []any{"p3", 1, 0}, []any{members[0].PersonID, total, faces})
				groups, total, err := q.ActiveGroups(ctx, 0, 10)
				require.NoError(t, err)
				require.Equal(t, 1, total)
				require.Equal(t, "g1", groups[0].GroupID)
			}},
			{"faces and their photos", func(t *testing.T, ctx context.Context) {
				faces, err := q.Faces(ctx, "p1")
				require.NoError(t, err)
				require.Equal(t, []projections.Face{{FaceID: "f1", PhotoKey: "k1"}, {FaceID: "f2", PhotoKey: "k2"}}, faces)
				key, err := q.PhotoKey(ctx, "p1", "f2")
				require.NoError(t, err)
				require.Equal(t, "k2", key)
				_, err = q.PhotoOwner(ctx, "k1")
				require.ErrorIs(t, err, projections.ErrNotFound, "p1 is not active")
			}},
			{"what deleted persons left", func(t *testing.T, ctx context.Context) {
				ids, err := q.DeletedPersons(ctx)
				require.NoError(t, err)
				require.Equal(t, []string{"p2"}, ids)
				remnants, err := q.Remnants(ctx, []string{"p1", "p2"})
				require.NoError(t, err)
				require.Equal(t, []projections.Remnant{{PersonID: "p1", Table: "memberships"}, {PersonID: "p1", Table: "faces"}}, remnants)
				latest, found, err := q.LatestDeletion(ctx, []string{"p2", "p3"}, []string{"g1"})
				require.NoError(t, err)
				require.True(t, found)
				require.Equal(t, "person", latest.Kind)
				require.True(t, latest.RequestedAt.Equal(requested), "from the request, not the deletion: %v", latest.RequestedAt)
			}},
			{"no permission group, no target figures", func(t *testing.T, ctx context.Context) {
				_, err := q.ActivePermissionGroup(ctx, "door-1")
				require.ErrorIs(t, err, projections.ErrNotFound)
				deleting, err := q.PermissionGroupDeleting(ctx, "door-1")
				require.NoError(t, err)
				require.False(t, deleting)
				counts, err := q.TargetCounts(ctx)
				require.NoError(t, err)
				require.Empty(t, counts)
				_, err = q.LastRefusal(ctx, "edge")
				require.ErrorIs(t, err, projections.ErrNotFound)
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { tt.check(t, context.Background()) })
		}
	})
}

func personsOf(items []projections.DeletionItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.PersonID
	}
	return out
}
