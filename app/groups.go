package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/projections"
)

// GroupInfo is a group with its creation time.
type GroupInfo = projections.GroupInfo

// ActiveGroup returns a group that is active: ErrGroupNotFound when there is none,
// ErrGroupDeleting while it is being deleted.
func (reg *Registry) ActiveGroup(ctx context.Context, id string) (GroupInfo, error) {
	g, err := reg.reads.GroupInfo(ctx, id)
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
func (reg *Registry) GroupPage(ctx context.Context, offset, limit int) ([]GroupInfo, int, error) {
	return reg.reads.ActiveGroups(ctx, offset, limit)
}

// Member is an active person of a group with its registration time.
type Member struct {
	Person
	CreatedAt time.Time
}

// GroupMembersPage returns one page (offset, limit) of a group's active members in the order
// they joined, how many active members it has, and how many faces they have in all. The group
// must be active.
func (reg *Registry) GroupMembersPage(ctx context.Context, groupID string, offset, limit int) (members []Member, total, faces int, err error) {
	if _, err := reg.ActiveGroup(ctx, groupID); err != nil {
		return nil, 0, 0, err
	}
	rows, total, faces, err := reg.reads.ActiveMembers(ctx, groupID, offset, limit)
	if err != nil {
		return nil, 0, 0, err
	}
	members = make([]Member, 0, len(rows))
	for _, r := range rows {
		p, err := reg.GetPerson(ctx, r.PersonID)
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
func (reg *Registry) AddPersonToGroups(ctx context.Context, caller Caller, personID string, groupIDs []string) error {
	meta := caller.meta()
	if err := domain.ValidateID(personID); err != nil {
		return fmt.Errorf("person_id: %w", err)
	}
	if err := domain.ValidateIDs(groupIDs); err != nil {
		return fmt.Errorf("group_ids %w", err)
	}
	p, err := reg.loadPerson(ctx, personID)
	if err != nil {
		return err
	}
	for _, g := range groupIDs {
		if _, err := reg.ActiveGroup(ctx, g); err != nil {
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
		seq, err := reg.execute(ctx, meta, events.AggregatePerson, personID, personDecider(personID), domain.AddPersonToGroup{GroupID: g})
		if err != nil {
			return fmt.Errorf("group %s: %w", g, err)
		}
		last = max(last, seq)
	}
	left, seq, err := reg.leaveDeletingGroups(ctx, meta, personID, groupIDs)
	if err != nil {
		return err
	}
	if err := reg.waitVisible(ctx, max(last, seq)); err != nil {
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
func (reg *Registry) leaveDeletingGroups(ctx context.Context, meta events.Meta, personID string, groupIDs []string) ([]string, uint64, error) {
	var (
		left []string
		last uint64
	)
	for _, id := range groupIDs {
		history, _, err := reg.log.Load(ctx, events.AggregateGroup, id)
		if err != nil {
			return nil, 0, err
		}
		g := domain.GroupFromHistory(id, dataOf(history))
		if g.Status() == domain.GroupActive || g.DeletionID() == "" {
			continue
		}
		seq, err := reg.execute(ctx, meta, events.AggregatePerson, personID, personDecider(personID),
			domain.RequestPersonDeletion{DeletionID: g.DeletionID(), GroupID: id})
		if err != nil && !errors.Is(err, domain.ErrNotInGroup) && !errors.Is(err, domain.ErrPersonNotFound) {
			return nil, 0, fmt.Errorf("leave deleting group %s: %w", id, err)
		}
		left = append(left, id)
		last = max(last, seq)
	}
	return left, last, nil
}
