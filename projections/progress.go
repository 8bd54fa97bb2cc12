package projections

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/erasure-dev/erasure/sagas"
)

// Progress answers the deletion completer from the read model.
type Progress struct{ DB *sqlx.DB }

var _ sagas.DeletionProgress = Progress{}

// Completable returns running requests that are fully recorded and have no pending item.
func (p Progress) Completable(ctx context.Context) ([]sagas.DeletionCounts, error) {
	var rows []struct {
		DeletionID string `db:"deletion_id"`
		Recorded   int    `db:"recorded"`
		Deleted    int    `db:"deleted"`
		Failed     int    `db:"failed"`
		Cancelled  int    `db:"cancelled"`
		Version    uint64 `db:"version"`
	}
	// Counters live on the request row (kept by the projection), so this stays one index lookup
	// however many items are in flight.
	err := p.DB.SelectContext(ctx, &rows, `SELECT deletion_id, recorded, deleted, failed, cancelled, version FROM deletions
		WHERE state IN ('running', 'cancelled') AND completed_at IS NULL AND fully_recorded = 1 AND pending = 0
		ORDER BY deletion_id`)
	if err != nil {
		return nil, fmt.Errorf("completable deletions: %w", err)
	}
	out := make([]sagas.DeletionCounts, len(rows))
	for i, r := range rows {
		out[i] = sagas.DeletionCounts{DeletionID: r.DeletionID, Total: r.Recorded, Deleted: r.Deleted, Failed: r.Failed, Cancelled: r.Cancelled,
			Version: r.Version}
	}
	return out, nil
}

// Cancelled returns which of the deletion requests are cancelled.
func (p Progress) Cancelled(ctx context.Context, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	q, args, err := sqlx.In(`SELECT deletion_id FROM deletions WHERE state = 'cancelled' AND deletion_id IN (?)`, ids)
	if err != nil {
		return nil, err
	}
	var cancelled []string
	if err := p.DB.SelectContext(ctx, &cancelled, p.DB.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("cancelled deletions: %w", err)
	}
	for _, id := range cancelled {
		out[id] = true
	}
	return out, nil
}

// Pending returns how many items of a deletion request are not terminal yet (0 for an unknown
// request): the dispatcher paces a large request by it.
func (p Progress) Pending(ctx context.Context, deletionID string) (int, error) {
	var pending []int
	if err := p.DB.SelectContext(ctx, &pending, p.DB.Rebind(`SELECT pending FROM deletions WHERE deletion_id = ?`), deletionID); err != nil {
		return 0, fmt.Errorf("pending items of %s: %w", deletionID, err)
	}
	if len(pending) == 0 {
		return 0, nil
	}
	return pending[0], nil
}
