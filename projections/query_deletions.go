package projections

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/erasure-dev/erasure/domain"
)

// Deletion is the read model's view of a deletion request.
type Deletion struct {
	DeletionID  string     `db:"deletion_id"`
	State       string     `db:"state"`
	GroupID     string     `db:"group_id"`
	CallbackURL string     `db:"callback_url"`
	CreatedAt   time.Time  `db:"created_at"`
	CompletedAt *time.Time `db:"completed_at"`
	Total       int        `db:"recorded"`
	Pending     int        `db:"pending"`
	Deleted     int        `db:"deleted"`
	Failed      int        `db:"failed"`
	Cancelled   int        `db:"cancelled"`
	// Actor requested it: an API key's name or a surface's actor (a group's deletion: the
	// requester of the group's deletion). Source is the surface (SourceNative...).
	Actor  string `db:"actor"`
	Source string `db:"source"`
}

// deletionColumns are the columns a Deletion reads.
const deletionColumns = `deletion_id, state, group_id, callback_url, created_at, completed_at,
	recorded, pending, deleted, failed, cancelled, actor, source`

// DeletionCursor is a position in the list of deletion requests, newest first.
type DeletionCursor struct {
	CreatedAt  time.Time
	DeletionID string
}

// Cursor returns d's position in the list of deletion requests.
func (d Deletion) Cursor() DeletionCursor {
	return DeletionCursor{CreatedAt: d.CreatedAt, DeletionID: d.DeletionID}
}

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

// Deletion returns a deletion request with its counters; ErrNotFound if there is none.
func (q Queries) Deletion(ctx context.Context, id string) (Deletion, error) {
	var d Deletion
	if err := q.get(ctx, "get deletion "+id, &d, `SELECT `+deletionColumns+` FROM deletions WHERE deletion_id = ?`, id); err != nil {
		return Deletion{}, err
	}
	return d, nil
}

// DeletionState returns a request's state without counting its items; ErrNotFound if there is
// no such request.
func (q Queries) DeletionState(ctx context.Context, id string) (string, error) {
	var state string
	if err := q.get(ctx, "deletion "+id, &state, `SELECT state FROM deletions WHERE deletion_id = ?`, id); err != nil {
		return "", err
	}
	return state, nil
}

// DeletionSnapshot returns what the read model knows of a request and the sequence of the
// request's last event it is as of (domain.DeletionFromSnapshot decides on it).
func (q Queries) DeletionSnapshot(ctx context.Context, id string) (domain.DeletionSnapshot, uint64, error) {
	var row struct {
		State         string `db:"state"`
		FullyRecorded bool   `db:"fully_recorded"`
		Completed     bool   `db:"completed"`
		Version       uint64 `db:"version"`
	}
	if err := q.get(ctx, "deletion "+id, &row, `SELECT state, fully_recorded, completed_at IS NOT NULL AS completed, version
		FROM deletions WHERE deletion_id = ?`, id); err != nil {
		return domain.DeletionSnapshot{}, 0, err
	}
	return domain.DeletionSnapshot{Recorded: row.FullyRecorded, Completed: row.Completed, Cancelled: row.State == "cancelled"}, row.Version, nil
}

// ListDeletions lists deletion requests newest first (by created_at, then id), through the
// deletions_created index (deletions_actor_created with an actor).
func (q Queries) ListDeletions(ctx context.Context, f DeletionFilter) ([]Deletion, error) {
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
	query := `SELECT ` + deletionColumns + ` FROM deletions`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY created_at DESC, deletion_id DESC LIMIT ?`
	args = append(args, max(f.Limit, 1))
	out := []Deletion{}
	if err := q.DB.SelectContext(ctx, &out, q.DB.Rebind(query), args...); err != nil {
		return nil, fmt.Errorf("list deletions: %w", err)
	}
	return out, nil
}

// DeletionItem is one ID of a deletion request and its outcome.
type DeletionItem struct {
	Position     int64  `db:"position"`
	PersonID     string `db:"person_id"`
	State        string `db:"state"`
	ErrorCode    string `db:"error_code"`
	ErrorMessage string `db:"error_message"`
	ErrorStep    string `db:"error_step"`
	SagaID       string `db:"saga_id"`
	// Targets are the external targets' outcomes, for deletions that have any (TargetOutcomes).
	Targets []TargetOutcome `db:"-"`
}

// itemColumns are the columns a DeletionItem reads.
const itemColumns = `position, person_id, state, error_code, error_message, error_step, saga_id`

// ItemFilter selects a request's items for DeletionItems. Zero fields select everything; a
// value nothing has (an unknown code, say) selects nothing.
type ItemFilter struct {
	State string // pending, deleted, failed or cancelled
	Code  string // the item's error code
	// Target is an external target: the items it refused, as in the request's failure group
	// of that target (DeletionFailures).
	Target string
}

// DeletionItems lists a request's items that f selects, in request order after the cursor
// position, at most limit, without their target outcomes.
func (q Queries) DeletionItems(ctx context.Context, id string, f ItemFilter, after int64, limit int) ([]DeletionItem, error) {
	items := []DeletionItem{}
	query := `SELECT ` + itemColumns + ` FROM deletion_items i
		WHERE deletion_id = ? AND position > ?`
	args := []any{id, after}
	if f.State != "" {
		query += ` AND state = ?`
		args = append(args, f.State)
	}
	if f.Code != "" {
		query += ` AND error_code = ?`
		args = append(args, f.Code)
	}
	if f.Target != "" {
		// One primary-key probe per item of the request's range, not a scan of the outcomes.
		query += ` AND EXISTS (SELECT 1 FROM target_outcomes t
			WHERE t.person_id = i.person_id AND t.saga_id = i.saga_id AND t.target = ? AND t.state = 'failed')`
		args = append(args, f.Target)
	}
	query += ` ORDER BY position LIMIT ?`
	args = append(args, limit)
	if err := q.DB.SelectContext(ctx, &items, q.DB.Rebind(query), args...); err != nil {
		return nil, fmt.Errorf("items of %s: %w", id, err)
	}
	return items, nil
}

// ItemsOf reads the request's items of the given persons and at the given positions (a live
// follower's candidates), in no particular order, 500 a statement.
func (q Queries) ItemsOf(ctx context.Context, id string, personIDs []string, positions []int) ([]DeletionItem, error) {
	var out []DeletionItem
	for _, by := range []struct {
		where string
		args  []any
	}{{"person_id IN (?)", anySlice(personIDs)}, {"position IN (?)", anySlice(positions)}} {
		for start := 0; start < len(by.args); start += 500 {
			chunk := by.args[start:min(start+500, len(by.args))]
			var rows []DeletionItem
			if err := q.selectIn(ctx, &rows, `SELECT `+itemColumns+` FROM deletion_items WHERE deletion_id = ? AND `+by.where, id, chunk); err != nil {
				return nil, fmt.Errorf("items of %s: %w", id, err)
			}
			out = append(out, rows...)
		}
	}
	return out, nil
}

func anySlice[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// FailureKey names a group of a request's failed items: error code, step and the external
// target that refused them ("" for a failure of no target).
type FailureKey struct {
	Code, Step, Target string
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
// each target's group. It does not check that the request exists (none: no group).
func (q Queries) DeletionFailures(ctx context.Context, id string) ([]FailureGroup, error) {
	// Examples are the smallest IDs by byte order on both dialects, not by a locale's collation.
	byID := "person_id"
	if q.DB.DriverName() == "postgres" {
		byID = `person_id COLLATE "C"`
	}
	var rows []struct {
		Code     string `db:"code"`
		Step     string `db:"step"`
		Target   string `db:"target"`
		Count    int    `db:"n"`
		PersonID string `db:"person_id"`
	}
	err := q.DB.SelectContext(ctx, &rows, q.DB.Rebind(`WITH f AS (
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

// RefusedBy returns the failed items of request id that target refused, keyed
// "person\x00saga" as TargetOutcomes keys them; nil when target is "" (no filter).
func (q Queries) RefusedBy(ctx context.Context, id, target string) (map[string]bool, error) {
	if target == "" {
		return nil, nil
	}
	var rows []struct {
		PersonID string `db:"person_id"`
		SagaID   string `db:"saga_id"`
	}
	if err := q.DB.SelectContext(ctx, &rows, q.DB.Rebind(`SELECT i.person_id, i.saga_id FROM deletion_items i
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

// DeletionLatencies returns, for each deleted item of a request, the time from the request to
// the item's terminal event.
func (q Queries) DeletionLatencies(ctx context.Context, id string) ([]time.Duration, error) {
	var rows []struct {
		Requested time.Time `db:"created_at"`
		Done      time.Time `db:"updated_at"`
	}
	if err := q.DB.SelectContext(ctx, &rows, q.DB.Rebind(`SELECT d.created_at, i.updated_at FROM deletion_items i
		JOIN deletions d ON d.deletion_id = i.deletion_id WHERE i.deletion_id = ? AND i.state = 'deleted'`), id); err != nil {
		return nil, fmt.Errorf("latencies of %s: %w", id, err)
	}
	out := make([]time.Duration, len(rows))
	for i, r := range rows {
		out[i] = r.Done.Sub(r.Requested)
	}
	return out, nil
}

// DeletionVersion is where a request's row stands: when it completed (nil: running) and the log
// sequence of the last event that changed it.
type DeletionVersion struct {
	CompletedAt *time.Time `db:"completed_at"`
	Version     uint64     `db:"version"`
}

// DeletionVersion returns where request id's row stands; ErrNotFound if there is none.
func (q Queries) DeletionVersion(ctx context.Context, id string) (DeletionVersion, error) {
	var v DeletionVersion
	if err := q.get(ctx, "version of deletion "+id, &v, `SELECT completed_at, version FROM deletions WHERE deletion_id = ?`, id); err != nil {
		return DeletionVersion{}, err
	}
	return v, nil
}

// FullyRecorded reports whether every chunk of request id is recorded; false, not an error,
// while the request is not in the read model yet.
func (q Queries) FullyRecorded(ctx context.Context, id string) (bool, error) {
	var recorded int
	err := q.get(ctx, "deletion "+id, &recorded, `SELECT fully_recorded FROM deletions WHERE deletion_id = ?`, id)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return recorded == 1, nil
}

// Backlog returns the pending items of the running requests other than deletionID, and how many
// of deletionID's items have ended (deleted, failed or cancelled), in one read of the requests'
// counters.
func (q Queries) Backlog(ctx context.Context, deletionID string) (pending, ended int, err error) {
	var row struct {
		Pending int `db:"pending"`
		Ended   int `db:"ended"`
	}
	if err := q.DB.GetContext(ctx, &row, q.DB.Rebind(`SELECT
			COALESCE(SUM(CASE WHEN deletion_id <> ? AND state = 'running' THEN pending ELSE 0 END), 0) AS pending,
			COALESCE(SUM(CASE WHEN deletion_id = ? THEN deleted + failed + cancelled ELSE 0 END), 0) AS ended
		FROM deletions WHERE state = 'running' OR deletion_id = ?`), deletionID, deletionID, deletionID); err != nil {
		return 0, 0, fmt.Errorf("deletion backlog: %w", err)
	}
	return row.Pending, row.Ended, nil
}
