package domain

import (
	"fmt"

	"github.com/erasure-dev/erasure/events"
)

// GroupStatus is where a group is in its life.
type GroupStatus string

// Group statuses.
const (
	GroupAbsent   GroupStatus = ""
	GroupActive   GroupStatus = "active"
	GroupDeleting GroupStatus = "deleting"
	GroupDeleted  GroupStatus = "deleted"
)

// Group is the aggregate for a face group. Memberships live on the persons, so that many
// concurrent registrations into one group never contend on the group's subject.
type Group struct {
	id       string
	status   GroupStatus
	deletion string
}

// GroupFromHistory rebuilds a group from its events, oldest first.
func GroupFromHistory(id string, history []any) *Group {
	g := &Group{id: id}
	for _, e := range history {
		g.Apply(e)
	}
	return g
}

// Status returns the group's status.
func (g *Group) Status() GroupStatus { return g.status }

// DeletionID returns the id of the group's deletion while it is deleting or deleted.
func (g *Group) DeletionID() string { return g.deletion }

// Commands on a group.
type (
	// CreateGroup creates a group.
	CreateGroup struct{ Name, Tag string }
	// RequestGroupDeletion puts the group into the deleting state.
	RequestGroupDeletion struct{ DeletionID string }
	// CompleteGroupDeletion ends the group once its members are handled.
	CompleteGroupDeletion struct{}
)

// Decide returns the events cmd produces on this group, or why it is refused.
func (g *Group) Decide(cmd any) ([]any, error) {
	switch c := cmd.(type) {
	case CreateGroup:
		if err := ValidateID(g.id); err != nil {
			return nil, err
		}
		if err := ValidateName(c.Name); err != nil {
			return nil, err
		}
		if err := ValidateTag(c.Tag); err != nil {
			return nil, err
		}
		switch g.status {
		case GroupActive:
			return nil, ErrGroupExists
		case GroupDeleting:
			return nil, ErrGroupDeleting
		}
		return []any{events.GroupCreated{GroupID: g.id, Name: c.Name, Tag: c.Tag}}, nil
	case RequestGroupDeletion:
		if c.DeletionID == "" {
			return nil, fmt.Errorf("deletion id: %w", ErrIDEmpty)
		}
		switch g.status {
		case GroupAbsent, GroupDeleted:
			return nil, ErrGroupNotFound
		case GroupDeleting:
			return nil, ErrGroupDeleting
		}
		return []any{events.GroupDeletionRequested{GroupID: g.id, DeletionID: c.DeletionID}}, nil
	case CompleteGroupDeletion:
		switch g.status {
		case GroupDeleted:
			return nil, nil
		case GroupDeleting:
			return []any{events.GroupDeleted{GroupID: g.id, DeletionID: g.deletion}}, nil
		}
		return nil, ErrGroupNotFound
	}
	return nil, fmt.Errorf("%w: %T", ErrUnknownCommand, cmd)
}

// Apply moves the group's state by one event.
func (g *Group) Apply(e any) {
	switch e := e.(type) {
	case events.GroupCreated:
		g.status, g.deletion = GroupActive, ""
	case events.GroupDeletionRequested:
		g.status, g.deletion = GroupDeleting, e.DeletionID
	case events.GroupDeleted:
		g.status = GroupDeleted
	}
}
