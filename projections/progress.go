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
		State      string `db:"state"`
		N          int    `db:"n"`
	}
	err := p.DB.SelectContext(ctx, &rows, `SELECT d.deletion_id, i.state, COUNT(*) AS n
		FROM deletions d JOIN deletion_items i ON i.deletion_id = d.deletion_id
		WHERE d.state IN ('running', 'cancelled') AND d.completed_at IS NULL AND d.fully_recorded = 1
		  AND NOT EXISTS (SELECT 1 FROM deletion_items p WHERE p.deletion_id = d.deletion_id AND p.state = 'pending')
		GROUP BY d.deletion_id, i.state ORDER BY d.deletion_id`)
	if err != nil {
		return nil, fmt.Errorf("completable deletions: %w", err)
	}
	var out []sagas.DeletionCounts
	for _, r := range rows {
		if len(out) == 0 || out[len(out)-1].DeletionID != r.DeletionID {
			out = append(out, sagas.DeletionCounts{DeletionID: r.DeletionID})
		}
		c := &out[len(out)-1]
		c.Total += r.N
		switch r.State {
		case ItemDeleted:
			c.Deleted = r.N
		case ItemFailed:
			c.Failed = r.N
		case ItemCancelled:
			c.Cancelled = r.N
		}
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
