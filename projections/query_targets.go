package projections

import (
	"context"
	"fmt"
	"time"
)

// TargetCount is how many persons' deletions stand in one state at one external target.
type TargetCount struct {
	Target string `db:"target"`
	State  string `db:"state"` // pending, deleted or failed
	N      int    `db:"n"`
}

// TargetCounts returns every target's counts by state, in one grouped count over the outcomes
// (targets no longer configured included).
func (q Queries) TargetCounts(ctx context.Context) ([]TargetCount, error) {
	var counts []TargetCount
	if err := q.DB.SelectContext(ctx, &counts,
		`SELECT target, state, COUNT(*) AS n FROM target_outcomes GROUP BY target, state`); err != nil {
		return nil, fmt.Errorf("target figures: %w", err)
	}
	return counts, nil
}

// TargetRefusal is a target's refusal of one person's deletion: the saga's failure message
// (every refusing target's part, joined) and when it was recorded.
type TargetRefusal struct {
	PersonID  string    `db:"person_id"`
	LastError string    `db:"last_error"`
	UpdatedAt time.Time `db:"updated_at"`
}

// LastRefusal returns the most recent refusal among the persons target refuses now (one read
// of the target_outcomes_target index); ErrNotFound when it refuses none.
func (q Queries) LastRefusal(ctx context.Context, target string) (TargetRefusal, error) {
	var last TargetRefusal
	if err := q.get(ctx, "last error of target "+target, &last, `SELECT person_id, last_error, updated_at FROM target_outcomes
		WHERE target = ? AND state = 'failed' ORDER BY updated_at DESC LIMIT 1`, target); err != nil {
		return TargetRefusal{}, err
	}
	return last, nil
}

// TargetOutcomes returns the target outcomes of the persons' deletions, keyed by person id and
// saga id ("person\x00saga").
func (q Queries) TargetOutcomes(ctx context.Context, personIDs []string) (map[string][]TargetOutcome, error) {
	return TargetOutcomesOf(ctx, q.DB, personIDs)
}
