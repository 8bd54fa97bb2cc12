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

// GroupInfo is a group with its creation time.
type GroupInfo = projections.GroupInfo

// ActiveGroup returns a group that is active: ErrGroupNotFound when there is none,
// ErrGroupDeleting while it is being deleted.
func (a *App) ActiveGroup(ctx context.Context, id string) (GroupInfo, error) {
	g, err := a.reads.GroupInfo(ctx, id)
	if err != nil {
		return GroupInfo{}, fromReadModel(err, fmt.Errorf("group %s: %w", id, domain.ErrGroupNotFound))
	}
	if g.State != string(domain.GroupActive) {
		return GroupInfo{}, fmt.Errorf("group %s: %w", id, domain.ErrGroupDeleting)
	}
	return g, nil
}

// GroupPage returns one page (offset, limit) of the active groups in creation order, and how
// many active groups there are.
func (a *App) GroupPage(ctx context.Context, offset, limit int) ([]GroupInfo, int, error) {
	return a.reads.ActiveGroups(ctx, offset, limit)
}

// Member is an active person of a group with its registration time.
type Member struct {
	Person
	CreatedAt time.Time
}

// GroupMembersPage returns one page (offset, limit) of a group's active members in the order
// they joined, how many active members it has, and how many faces they have in all. The group
// must be active.
func (a *App) GroupMembersPage(ctx context.Context, groupID string, offset, limit int) (members []Member, total, faces int, err error) {
	if _, err := a.ActiveGroup(ctx, groupID); err != nil {
		return nil, 0, 0, err
	}
	rows, total, faces, err := a.reads.ActiveMembers(ctx, groupID, offset, limit)
	if err != nil {
		return nil, 0, 0, err
	}
	members = make([]Member, 0, len(rows))
	for _, r := range rows {
		p, err := a.GetPerson(ctx, r.PersonID)
		if errors.Is(err, domain.ErrPersonNotFound) {
			continue // deleted between the two reads
		}
		if err != nil {
			return nil, 0, 0, err
		}
		members = append(members, Member{Person: p, CreatedAt: r.CreatedAt})
	}
	return members, total, faces, nil
}

// AddPersonToGroups adds an active person to active groups. Everything is checked before the
// first membership is recorded, so a refused call adds to no group.
func (a *App) AddPersonToGroups(ctx context.Context, caller Caller, personID string, groupIDs []string) error {
	meta := caller.meta()
	if err := domain.ValidateID(personID); err != nil {
		return fmt.Errorf("person_id: %w", err)
	}
	if err := domain.ValidateIDs(groupIDs); err != nil {
		return fmt.Errorf("group_ids %w", err)
	}
	p, err := a.loadPerson(ctx, personID)
	if err != nil {
		return err
	}
	for _, g := range groupIDs {
		if _, err := a.ActiveGroup(ctx, g); err != nil {
			return err
		}
		decided, err := p.Decide(domain.AddPersonToGroup{GroupID: g})
		if err != nil {
			return fmt.Errorf("group %s: %w", g, err)
		}
		for _, e := range decided {
			p.Apply(e)
		}
	}
	var last uint64
	for _, g := range groupIDs {
		seq, err := a.execute(ctx, meta, events.AggregatePerson, personID, personDecider(personID), domain.AddPersonToGroup{GroupID: g})
		if err != nil {
			return fmt.Errorf("group %s: %w", g, err)
		}
		last = max(last, seq)
	}
	left, seq, err := a.leaveDeletingGroups(ctx, meta, personID, groupIDs)
	if err != nil {
		return err
	}
	if err := a.waitVisible(ctx, max(last, seq)); err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("group %s: %w", left[0], domain.ErrGroupDeleting)
	}
	return nil
}

// leaveDeletingGroups undoes memberships that a write just recorded in groups whose deletion
// was requested meanwhile. The group-deletion saga lists members from a read model caught up to
// the deletion's sequence, so a membership appended before the deletion is the saga's to remove,
// and one appended after it is seen here (the group's log already says deleting): whichever order
// the two appends took, no membership outlives its group. The membership goes the way the
// saga's would, as part of the group's deletion: removed, and the person deleted if it was its
// last group. It returns the groups left and the sequence to wait for.
func (a *App) leaveDeletingGroups(ctx context.Context, meta events.Meta, personID string, groupIDs []string) ([]string, uint64, error) {
	var (
		left []string
		last uint64
	)
	for _, id := range groupIDs {
		history, _, err := a.log.Load(ctx, events.AggregateGroup, id)
		if err != nil {
			return nil, 0, err
		}
		g := domain.GroupFromHistory(id, dataOf(history))
		if g.Status() == domain.GroupActive || g.DeletionID() == "" {
			continue
		}
		seq, err := a.execute(ctx, meta, events.AggregatePerson, personID, personDecider(personID),
			domain.RequestPersonDeletion{DeletionID: g.DeletionID(), GroupID: id})
		if err != nil && !errors.Is(err, domain.ErrNotInGroup) && !errors.Is(err, domain.ErrPersonNotFound) {
			return nil, 0, fmt.Errorf("leave deleting group %s: %w", id, err)
		}
		left = append(left, id)
		last = max(last, seq)
	}
	return left, last, nil
}

// DeleteGroup puts a group into the deleting state and returns the id of the deletion request
// that the group-deletion saga records for it: its items are the group's members, with the group
// named on it. It returns once the read model shows the group deleting; the deletion runs on
// (WaitDeletionRecorded, then GetDeletion, follow it).
func (a *App) DeleteGroup(ctx context.Context, caller Caller, groupID string) (string, error) {
	meta := caller.meta()
	if err := domain.ValidateID(groupID); err != nil {
		return "", fmt.Errorf("group_id: %w", err)
	}
	deletionID := events.NewDeletionID()
	if meta.CorrelationID == "" {
		meta.CorrelationID = deletionID
	}
	seq, err := a.execute(ctx, meta, events.AggregateGroup, groupID, groupDecider(groupID), domain.RequestGroupDeletion{DeletionID: deletionID})
	if err != nil {
		return "", fmt.Errorf("group %s: %w", groupID, err)
	}
	return deletionID, a.waitVisible(ctx, seq)
}

// WaitDeletionRecorded waits until a deletion request is fully recorded and visible, such as the
// one a group's deletion records for its members.
func (a *App) WaitDeletionRecorded(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, a.WriteTimeout)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		recorded, err := a.reads.FullyRecorded(ctx, id)
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
func (a *App) DeletePersonAndWait(ctx context.Context, caller Caller, personID, groupID string) (string, error) {
	if err := domain.ValidateID(personID); err != nil {
		return "", fmt.Errorf("person_id: %w", err)
	}
	p, err := a.GetPerson(ctx, personID)
	if err != nil {
		return "", err
	}
	if groupID != "" {
		if _, err := a.ActiveGroup(ctx, groupID); err != nil {
			return "", err
		}
		if p.State == string(domain.StatusActive) && !slices.Contains(p.GroupIDs, groupID) {
			return "", fmt.Errorf("person %s, group %s: %w", personID, groupID, domain.ErrNotInGroup)
		}
	}
	id, _, err := a.RequestDeletion(ctx, caller, DeletionInput{GroupID: groupID, IDs: func(yield func(string) bool) error {
		yield(personID)
		return nil
	}})
	if err != nil {
		return "", err
	}
	items, err := a.WaitDeletion(ctx, id)
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
