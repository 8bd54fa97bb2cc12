package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/erasure-dev/erasure/domain"
)

// DeletionFilter selects deletion requests for ListDeletions. Zero fields select everything.
type DeletionFilter struct {
	State string    // running, completed or cancelled
	Actor string    // exactly this actor
	Since time.Time // created at or after
	Until time.Time // created at or before
	// After is the cursor: the requests listed after (older than) this one.
	After *DeletionCursor
	Limit int
}

// DeletionCursor is a position in the list of deletion requests, newest first.
type DeletionCursor struct {
	CreatedAt  time.Time
	DeletionID string
}

// Cursor returns d's position in the list of deletion requests.
func (d Deletion) Cursor() DeletionCursor {
	return DeletionCursor{CreatedAt: d.CreatedAt, DeletionID: d.DeletionID}
}

// ListDeletions lists deletion requests newest first (by created_at, then id), through the
// deletions_created index (deletions_actor_created with an actor).
func (a *App) ListDeletions(ctx context.Context, f DeletionFilter) ([]Deletion, error) {
	var (
		where []string
		args  []any
	)
	if f.State != "" {
		where, args = append(where, "state = ?"), append(args, f.State)
	}
	if f.Actor != "" {
		where, args = append(where, "actor = ?"), append(args, f.Actor)
	}
	// Times are bound as the projection bound them (UTC), so SQLite compares like with like.
	if !f.Since.IsZero() {
		where, args = append(where, "created_at >= ?"), append(args, f.Since.UTC())
	}
	if !f.Until.IsZero() {
		where, args = append(where, "created_at <= ?"), append(args, f.Until.UTC())
	}
	if c := f.After; c != nil {
		// The first condition bounds the index range; the second skips the cursor's own time's
		// requests up to and including the cursor.
		where = append(where, "created_at <= ?", "(created_at < ? OR deletion_id < ?)")
		args = append(args, c.CreatedAt.UTC(), c.CreatedAt.UTC(), c.DeletionID)
	}
	q := `SELECT ` + deletionColumns + ` FROM deletions`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY created_at DESC, deletion_id DESC LIMIT ?`
	args = append(args, max(f.Limit, 1))
	out := []Deletion{}
	if err := a.rm.SelectContext(ctx, &out, a.rm.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("list deletions: %w", err)
	}
	return out, nil
}

// FailureKey names a group of a request's failed items: error code, step and the external
// target that refused them ("" for a failure of no target).
type FailureKey struct {
	Code, Step, Target string
}

func (k FailureKey) matches(it DeletionItem) bool {
	return (k.Code == "" || k.Code == it.ErrorCode) && (k.Step == "" || k.Step == it.ErrorStep)
}

// FailureGroup is a group of a request's failed items: how many, and a few person IDs.
type FailureGroup struct {
	FailureKey
	Count    int
	Examples []string // the smallest person IDs, sorted
}

// FailureExamples is how many person IDs a failure group shows.
const FailureExamples = 5

// DeletionFailures groups a request's failed items by error code, step and target, the largest
// group first (then by code, step and target). An item that several targets refused is in
// each target's group.
func (a *App) DeletionFailures(ctx context.Context, id string) ([]FailureGroup, error) {
	if _, err := a.GetDeletionState(ctx, id); err != nil {
		return nil, err
	}
	// Examples are the smallest IDs by byte order on both dialects, not by a locale's collation.
	byID := "person_id"
	if a.rm.DriverName() == "postgres" {
		byID = `person_id COLLATE "C"`
	}
	var rows []struct {
		Code     string `db:"code"`
		Step     string `db:"step"`
		Target   string `db:"target"`
		Count    int    `db:"n"`
		PersonID string `db:"person_id"`
	}
	err := a.rm.SelectContext(ctx, &rows, a.rm.Rebind(`WITH f AS (
			SELECT i.error_code AS code, i.error_step AS step, COALESCE(t.target, '') AS target, i.person_id
			FROM deletion_items i LEFT JOIN target_outcomes t
				ON i.error_step = ? AND t.person_id = i.person_id AND t.saga_id = i.saga_id AND t.state = 'failed'
			WHERE i.deletion_id = ? AND i.state = 'failed'),
		g AS (
			SELECT code, step, target, person_id, COUNT(*) OVER (PARTITION BY code, step, target) AS n,
				ROW_NUMBER() OVER (PARTITION BY code, step, target ORDER BY `+byID+`) AS k
			FROM f)
		SELECT code, step, target, n, person_id FROM g WHERE k <= ? ORDER BY n DESC, code, step, target, k`),
		string(domain.StepDeleteFromTargets), id, FailureExamples)
	if err != nil {
		return nil, fmt.Errorf("failures of %s: %w", id, err)
	}
	out := []FailureGroup{}
	for _, r := range rows {
		k := FailureKey{Code: r.Code, Step: r.Step, Target: r.Target}
		if n := len(out); n == 0 || out[n-1].FailureKey != k {
			out = append(out, FailureGroup{FailureKey: k, Count: r.Count})
		}
		g := &out[len(out)-1]
		g.Examples = append(g.Examples, r.PersonID)
	}
	return out, nil
}

// refusedBy returns the failed items of request id that target refused, keyed "person\x00saga";
// nil when target is "" (no filter).
func (a *App) refusedBy(ctx context.Context, id, target string) (map[string]bool, error) {
	if target == "" {
		return nil, nil
	}
	var rows []struct {
		PersonID string `db:"person_id"`
		SagaID   string `db:"saga_id"`
	}
	if err := a.rm.SelectContext(ctx, &rows, a.rm.Rebind(`SELECT i.person_id, i.saga_id FROM deletion_items i
		JOIN target_outcomes t ON t.person_id = i.person_id AND t.saga_id = i.saga_id
		WHERE i.deletion_id = ? AND i.state = 'failed' AND t.target = ? AND t.state = 'failed'`),
		id, target); err != nil {
		return nil, fmt.Errorf("items refused by %s: %w", target, err)
	}
	out := make(map[string]bool, len(rows))
	for _, r := range rows {
		out[r.PersonID+"\x00"+r.SagaID] = true
	}
	return out, nil
}
