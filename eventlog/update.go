package eventlog

import (
	"context"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
)

// The typed updates: each loads an aggregate's history, rebuilds the aggregate, lets fn decide
// on it, and appends what fn decided expecting the history's last sequence, deciding again on
// the new history when another writer got there first (Execute). fn returns the events to
// append (none: nothing to do) or the domain's refusal. Each returns the sequence of the last
// event appended, or of the aggregate's last event when nothing was.

// UpdatePerson updates a person.
func (s *Store) UpdatePerson(ctx context.Context, meta events.Meta, id string, fn func(*domain.Person) ([]any, error)) (uint64, error) {
	return s.Execute(ctx, meta, events.AggregatePerson, id, func(h []any) ([]any, error) { return fn(domain.PersonFromHistory(id, h)) })
}

// UpdateGroup updates a face group.
func (s *Store) UpdateGroup(ctx context.Context, meta events.Meta, id string, fn func(*domain.Group) ([]any, error)) (uint64, error) {
	return s.Execute(ctx, meta, events.AggregateGroup, id, func(h []any) ([]any, error) { return fn(domain.GroupFromHistory(id, h)) })
}

// UpdateDeletion updates a deletion request.
func (s *Store) UpdateDeletion(ctx context.Context, meta events.Meta, id string, fn func(*domain.Deletion) ([]any, error)) (uint64, error) {
	return s.Execute(ctx, meta, events.AggregateDeletion, id, func(h []any) ([]any, error) { return fn(domain.DeletionFromHistory(id, h)) })
}

// UpdatePermissionGroup updates a permission group.
func (s *Store) UpdatePermissionGroup(ctx context.Context, meta events.Meta, id string, fn func(*domain.PermissionGroup) ([]any, error)) (uint64, error) {
	return s.Execute(ctx, meta, events.AggregatePermission, id, func(h []any) ([]any, error) { return fn(domain.PermissionGroupFromHistory(id, h)) })
}
