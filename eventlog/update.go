package eventlog

import (
	"context"
	"errors"

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

// UpdateDeletionAt is UpdateDeletion deciding first on a read model's snapshot of the request,
// taken when the request's last event was at sequence version: a bulk's history is thousands of
// chunk events spread over the whole log, and reading it made the server load every block that
// holds one. What fn decides is appended expecting version, so a snapshot the log has moved past
// is refused, never believed. A refusal or a no-op on the snapshot stands when the request's
// last sequence is still version (one read); otherwise, and after a refused append, fn decides
// again on the history, which has the last word.
func (s *Store) UpdateDeletionAt(ctx context.Context, meta events.Meta, id string, snapshot domain.DeletionSnapshot, version uint64,
	fn func(*domain.Deletion) ([]any, error)) (uint64, error) {
	if version > 0 {
		decided, err := fn(domain.DeletionFromSnapshot(id, snapshot))
		if err == nil && len(decided) > 0 {
			seq, err := s.AppendDecided(ctx, meta, events.AggregateDeletion, id, version, decided)
			if !errors.Is(err, ErrConcurrency) {
				return seq, err
			}
		} else if last, lerr := s.Last(ctx, events.AggregateDeletion, id); lerr == nil && last == version {
			return version, err
		}
	}
	return s.UpdateDeletion(ctx, meta, id, fn)
}

// UpdatePermissionGroup updates a permission group.
func (s *Store) UpdatePermissionGroup(ctx context.Context, meta events.Meta, id string, fn func(*domain.PermissionGroup) ([]any, error)) (uint64, error) {
	return s.Execute(ctx, meta, events.AggregatePermission, id, func(h []any) ([]any, error) { return fn(domain.PermissionGroupFromHistory(id, h)) })
}
