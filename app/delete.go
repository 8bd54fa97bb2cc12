package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/projections"
)

// ErrDeletionFailed means a person's deletion ended with a failed step; it stays deleting until
// an operator retries it (erasure delete --retry-failed).
var ErrDeletionFailed = errors.New("the deletion failed at a step and waits for an operator's retry")

// DeleteGroup puts a group into the deleting state and returns the id of the deletion request
// that the group-deletion saga records for it: its items are the group's members, with the group
// named on it. It returns once the read model shows the group deleting; the deletion runs on
// (WaitDeletionRecorded, then GetDeletion, follow it).
func (del *Deletions) DeleteGroup(ctx context.Context, caller Caller, groupID string) (string, error) {
	meta := caller.meta()
	if err := domain.ValidateID(groupID); err != nil {
		return "", fmt.Errorf("group_id: %w", err)
	}
	deletionID := events.NewDeletionID()
	if meta.CorrelationID == "" {
		meta.CorrelationID = deletionID
	}
	seq, err := del.execute(ctx, meta, events.AggregateGroup, groupID, groupDecider(groupID), domain.RequestGroupDeletion{DeletionID: deletionID})
	if err != nil {
		return "", fmt.Errorf("group %s: %w", groupID, err)
	}
	return deletionID, del.waitVisible(ctx, seq)
}

// WaitDeletionRecorded waits until a deletion request is fully recorded and visible, such as the
// one a group's deletion records for its members.
func (del *Deletions) WaitDeletionRecorded(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, del.WriteTimeout)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		recorded, err := del.reads.FullyRecorded(ctx, id)
		if err != nil {
			return fmt.Errorf("wait for deletion %s: %w", id, err)
		}
		if recorded {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for deletion %s to be recorded: %w", id, ctx.Err())
		case <-tick.C:
		}
	}
}

// DeletePersonAndWait deletes one person entirely, or with groupID only that membership (and the
// person when it was its last group), through a deletion request like any other, and waits until
// its item is terminal. A deletion of a person already being deleted joins it and shares its
// outcome. The item's failure comes back as an error: ErrPersonNotFound, ErrNotInGroup,
// ErrDeletionFailed, or ctx's error while it is still running.
func (del *Deletions) DeletePersonAndWait(ctx context.Context, caller Caller, personID, groupID string) (string, error) {
	if err := domain.ValidateID(personID); err != nil {
		return "", fmt.Errorf("person_id: %w", err)
	}
	p, err := del.registry.GetPerson(ctx, personID)
	if err != nil {
		return "", err
	}
	if groupID != "" {
		if _, err := del.registry.ActiveGroup(ctx, groupID); err != nil {
			return "", err
		}
		if p.State == string(domain.StatusActive) && !slices.Contains(p.GroupIDs, groupID) {
			return "", fmt.Errorf("person %s, group %s: %w", personID, groupID, domain.ErrNotInGroup)
		}
	}
	id, _, err := del.RequestDeletion(ctx, caller, DeletionInput{GroupID: groupID, IDs: func(yield func(string) bool) error {
		yield(personID)
		return nil
	}})
	if err != nil {
		return "", err
	}
	items, err := del.WaitDeletion(ctx, id)
	if err != nil {
		return id, err
	}
	if len(items) != 1 {
		return id, fmt.Errorf("deletion %s has %d items, want 1", id, len(items))
	}
	switch it := items[0]; {
	case it.State == projections.ItemDeleted:
		return id, nil
	case it.State == projections.ItemPending:
		return id, fmt.Errorf("person %s: deletion %s still running: %w", personID, id, context.DeadlineExceeded)
	case it.ErrorCode == domain.CodeIDNotFound:
		return id, fmt.Errorf("person %s: %w", personID, domain.ErrPersonNotFound)
	case it.ErrorCode == domain.CodeNotInGroup:
		return id, fmt.Errorf("person %s, group %s: %w", personID, groupID, domain.ErrNotInGroup)
	default:
		return id, fmt.Errorf("person %s: %s at %s (deletion %s): %w", personID, it.ErrorCode, it.ErrorStep, id, ErrDeletionFailed)
	}
}
