package app

import (
	"context"

	"github.com/erasure-dev/erasure/projections"
)

// DeletionRecord is when the deletion of a person or a group was requested.
type DeletionRecord = projections.DeletionRecord

// LatestDeletion returns the most recently requested deletion among the given persons and
// groups, and false when none of them was ever deleted (projections.Queries.LatestDeletion).
// Callers use it to refuse a stale create that would undo a deletion.
func (del *Deletions) LatestDeletion(ctx context.Context, personIDs, groupIDs []string) (DeletionRecord, bool, error) {
	return del.reads.LatestDeletion(ctx, personIDs, groupIDs)
}
