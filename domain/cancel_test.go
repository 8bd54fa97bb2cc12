package domain_test

import (
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
