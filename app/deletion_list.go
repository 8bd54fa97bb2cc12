package app

import (
	"context"

	"github.com/erasure-dev/erasure/projections"
)

// DeletionFilter selects deletion requests for ListDeletions. Zero fields select everything.
type DeletionFilter = projections.DeletionFilter

// DeletionCursor is a position in the list of deletion requests, newest first.
type DeletionCursor = projections.DeletionCursor

// ListDeletions lists deletion requests newest first (by created_at, then id).
func (del *Deletions) ListDeletions(ctx context.Context, f DeletionFilter) ([]Deletion, error) {
	return del.reads.ListDeletions(ctx, f)
}

// FailureKey names a group of a request's failed items: error code, step and the external
// target that refused them ("" for a failure of no target).
type FailureKey = projections.FailureKey

// matchesFailure reports whether item it has the code and step k names (an empty field matches
// any); k's target is checked apart (refusedBy).
func matchesFailure(k FailureKey, it DeletionItem) bool {
	return (k.Code == "" || k.Code == it.ErrorCode) && (k.Step == "" || k.Step == it.ErrorStep)
}

// FailureGroup is a group of a request's failed items: how many, and a few person IDs.
type FailureGroup = projections.FailureGroup

// FailureExamples is how many person IDs a failure group shows.
const FailureExamples = projections.FailureExamples

// DeletionFailures groups a request's failed items by error code, step and target, the largest
// group first (then by code, step and target). An item that several targets refused is in
// each target's group.
func (del *Deletions) DeletionFailures(ctx context.Context, id string) ([]FailureGroup, error) {
	if _, err := del.GetDeletionState(ctx, id); err != nil {
		return nil, err
	}
	return del.reads.DeletionFailures(ctx, id)
}
