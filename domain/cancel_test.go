package domain_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
	"github.com/stretchr/testify/require"
)

func TestCancelPersonDeletion(t *testing.T) {
	deleting := history(personCreated(nil, []string{"door"}, face("f1")), deletionRequested(d1))
	unbound := unboundStep(pid, d1, []string{"door"})
	runPersonCases(t, []personCase{
		{name: "before the first step", given: deleting, when: domain.CancelPersonDeletion{DeletionID: d1},
			then: []any{events.PersonDeletionCancelled{PersonID: pid, DeletionID: d1}}},
		{name: "failed at the first step", given: history(deleting, deletionFailed(domain.StepUnbindPermissions)), when: domain.CancelPersonDeletion{DeletionID: d1},
			then: []any{events.PersonDeletionCancelled{PersonID: pid, DeletionID: d1}}},
		{name: "past the first step", given: history(deleting, unbound), when: domain.CancelPersonDeletion{DeletionID: d1}, err: domain.ErrDeletionUnderway},
		{name: "another deletion", given: deleting, when: domain.CancelPersonDeletion{DeletionID: d2}, err: domain.ErrNotDeleting},
		{name: "active", given: history(personCreated(nil, nil)), when: domain.CancelPersonDeletion{DeletionID: d1}, err: domain.ErrNotDeleting},
	})
	p := domain.PersonFromHistory(pid, history(deleting, events.PersonDeletionCancelled{PersonID: pid, DeletionID: d1}))
	require.Equal(t, domain.StatusActive, p.Status())
	require.Equal(t, []string{"door"}, p.PermissionGroupIDs(), "a cancelled deletion removed nothing")
	got, err := p.Decide(domain.RequestPersonDeletion{DeletionID: d2})
	require.NoError(t, err)
	require.Len(t, got, 1, "the person can be deleted again")
}

func TestCancelDeletion(t *testing.T) {
	requested := events.DeletionRequested{DeletionID: d1, Last: true, Total: 1, PersonIDs: []string{pid}}
	tests := []struct {
		name  string
		given []any
		then  []any
		err   error
	}{
		{name: "running", given: []any{requested}, then: []any{events.DeletionCancelled{DeletionID: d1}}},
		{name: "unknown", err: domain.ErrDeletionNotFound},
		{name: "cancelled twice", given: []any{requested, events.DeletionCancelled{DeletionID: d1}}},
		{name: "cancelled then completed", given: []any{requested, events.DeletionCancelled{DeletionID: d1}, events.DeletionCompleted{DeletionID: d1}}},
		{name: "completed", given: []any{requested, events.DeletionCompleted{DeletionID: d1}}, err: domain.ErrDeletionFinished},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.DeletionFromHistory(d1, tt.given).Decide(domain.CancelDeletion{})
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.then, nonEmpty(got))
		})
	}
}

func nonEmpty(s []any) []any {
	if len(s) == 0 {
		return nil
	}
	return s
}

// A request rebuilt from what the read model keeps of it decides as its history does.
func TestDeletionSnapshotDecidesAsHistory(t *testing.T) {
	first := events.DeletionRequested{DeletionID: d1, Total: 2, PersonIDs: []string{pid}}
	last := events.DeletionRequested{DeletionID: d1, Chunk: 1, Last: true, Total: 2, PersonIDs: []string{"p2"}}
	cancelled, completed := events.DeletionCancelled{DeletionID: d1}, events.DeletionCompleted{DeletionID: d1}
	for _, tc := range []struct {
		name     string
		history  []any
		snapshot domain.DeletionSnapshot
	}{
		{"none", nil, domain.DeletionSnapshot{}},
		{"partly recorded", []any{first}, domain.DeletionSnapshot{}},
		{"recorded", []any{first, last}, domain.DeletionSnapshot{Recorded: true}},
		{"cancelled", []any{first, last, cancelled}, domain.DeletionSnapshot{Recorded: true, Cancelled: true}},
		{"completed", []any{first, last, completed}, domain.DeletionSnapshot{Recorded: true, Completed: true}},
		{"cancelled, then completed", []any{first, last, cancelled, completed}, domain.DeletionSnapshot{Recorded: true, Cancelled: true, Completed: true}},
	} {
		for _, cmd := range []any{domain.CancelDeletion{}, domain.CompleteDeletion{Total: 2, Deleted: 2}} {
			t.Run(fmt.Sprintf("%s/%T", tc.name, cmd), func(t *testing.T) {
				want, wantErr := domain.DeletionFromHistory(d1, tc.history).Decide(cmd)
				got, err := domain.DeletionFromSnapshot(d1, tc.snapshot).Decide(cmd)
				require.Equal(t, wantErr != nil, err != nil, "history: %v, snapshot: %v", wantErr, err)
				if wantErr != nil {
					require.Equal(t, errors.Unwrap(wantErr), errors.Unwrap(err))
					require.Equal(t, wantErr.Error(), err.Error())
				}
				require.Equal(t, want, got)
			})
		}
	}
}
