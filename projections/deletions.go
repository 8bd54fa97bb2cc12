package projections

import (
	"cmp"
	"context"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
)

// Deletions projects deletion requests, their items and outcomes, the deleted persons and the
// groups whose deletion was requested.
// A replay applies the log through this same code; a change to what it writes needs a bump of
// its version (versions.go), so stored tables are rebuilt.
type Deletions struct{}

var _ Projector = Deletions{}

// Item states.
const (
	ItemPending   = "pending"
	ItemDeleted   = "deleted"
	ItemFailed    = "failed"
	ItemCancelled = "cancelled"
)

// Apply applies a batch of events to the deletion tables.
func (Deletions) Apply(ctx context.Context, tx *sqlx.Tx, batch []events.Recorded) error {
	return applyRuns(ctx, tx, batch, deletionsRun, applyDeletion)
}

func applyDeletion(ctx context.Context, tx *sqlx.Tx, r events.Recorded) error {
	exec := func(query string, args ...any) error { return execSQL(ctx, tx, query, args...) }
	t := r.Time
	switch e := r.Data.(type) {
	case events.DeletionRequested:
		if e.Chunk == 0 {
			source, actor := DeletionSource(e, r.Actor), r.Actor
			if source == SourceGroup {
				requester, err := groupRequester(ctx, tx, e.DeletionID)
				if err != nil {
					return err
				}
				actor = cmp.Or(requester, actor)
			}
			if err := exec(`INSERT INTO deletions (deletion_id, state, group_id, idempotency_key, callback_url, created_at, version, actor, source)
				VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (deletion_id) DO NOTHING`,
				e.DeletionID, e.GroupID, e.IdempotencyKey, e.CallbackURL, t, r.Seq, actor, source); err != nil {
				return err
			}
		}
		inserted, err := insertItems(ctx, tx, e, t)
		if err != nil {
			return err
		}
		last := 0
		if e.Last {
			last = 1
		}
		if err := exec(`UPDATE deletions SET recorded = recorded + ?, pending = pending + ?, failed = failed + ?,
			fully_recorded = CASE WHEN ? = 1 THEN 1 ELSE fully_recorded END, version = ?
			WHERE deletion_id = ?`, len(e.PersonIDs), inserted[ItemPending], inserted[ItemFailed], last, r.Seq, e.DeletionID); err != nil {
			return err
		}
		return analyzeAfterBulk(ctx, tx, e)
	case events.DeletionChunkDispatched:
		for _, f := range e.Failed {
			state := ItemFailed
			if f.Code == domain.CodeCancelled {
				state = ItemCancelled
			}
			if err := moveItems(ctx, tx, ItemPending, state, `error_code = ?, error_message = ?, updated_at = ?`,
				[]any{f.Code, itemMessage(f.Code), t}, `deletion_id = ? AND position = ?`, e.DeletionID, f.Index); err != nil {
				return err
			}
		}
		return exec(`UPDATE deletions SET version = ? WHERE deletion_id = ?`, r.Seq, e.DeletionID)
	case events.PersonRemovedFromGroup:
		if e.DeletionID == "" {
			return nil
		}
		return moveItems(ctx, tx, ItemPending, ItemDeleted, `updated_at = ?`, []any{t},
			`deletion_id = ? AND person_id = ?`, e.DeletionID, e.PersonID)
	case events.GroupDeletionRequested:
		return exec(`INSERT INTO deleted_groups (group_id, deletion_id, requested_at, seq, actor) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			e.GroupID, e.DeletionID, t, r.Seq, r.Actor)
	case events.DeletionCompleted:
		// A cancelled request stays cancelled; completed_at tells that its last item is terminal.
		return exec(`UPDATE deletions SET state = CASE WHEN state = 'cancelled' THEN 'cancelled' ELSE 'completed' END,
			completed_at = ?, version = ? WHERE deletion_id = ?`, t, r.Seq, e.DeletionID)
	case events.DeletionCancelled:
		return exec(`UPDATE deletions SET state = 'cancelled', version = ? WHERE deletion_id = ?`, r.Seq, e.DeletionID)
	}
	return nil
}

// Sources of deletion requests: the surface a request came through (GET /v1/deletions).
const (
	SourceNative  = "native"
	SourceSophon  = "sophon"
	SourceTencent = "tencent"
	SourceGroup   = "group" // a group's deletion, on any surface
)

// Actors that tell a request's source: what the Sophon surface records without an API key
// (config.SophonTokenActor), what the Tencent surface always records (api/tencent), and the
// group-deletion saga that records a group's members as a request (sagas/group_deletion.go).
const (
	sophonActor        = "sophon-api"
	tencentActor       = "tencent-api"
	groupDeletionActor = "group-deletion-saga"
)

// DeletionSource is the source of a request whose first chunk is e, recorded by actor: the
// source the request names, else the one its actor tells; native for anything else (the native
// API records an API key's name or native-api, the benchmark and the CLI their own names).
func DeletionSource(e events.DeletionRequested, actor string) string {
	if e.Source != "" {
		return e.Source
	}
	switch actor {
	case sophonActor:
		return SourceSophon
	case tencentActor:
		return SourceTencent
	case groupDeletionActor:
		return SourceGroup
	}
	return SourceNative
}

// groupRequester returns who requested the group deletion that deletionID carries out ("":
// none recorded). The saga records the members under its own name, after the request, so the
// request's GroupDeletionRequested is already projected.
func groupRequester(ctx context.Context, tx *sqlx.Tx, deletionID string) (string, error) {
	rows, err := querySQL(ctx, tx, `SELECT actor FROM deleted_groups WHERE deletion_id = ? ORDER BY seq LIMIT 1`, deletionID)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var actor string
	if rows.Next() {
		if err := rows.Scan(&actor); err != nil {
			return "", err
		}
	}
	return actor, rows.Err()
}

// analyzeAfterBulk refreshes PostgreSQL's statistics once a large request is recorded. The
// set-based statements join arrays of a thousand persons to these tables; planned on stale
// statistics (a table that was small a minute ago) they scan the table for every person instead
// of using the indexes, and a 100,000-person bulk stalls.
func analyzeAfterBulk(ctx context.Context, tx *sqlx.Tx, e events.DeletionRequested) error {
	if !e.Last || e.Total < 1000 || !isPostgres(tx) {
		return nil
	}
	_, err := tx.ExecContext(ctx, `ANALYZE deletion_items, deletions, persons, memberships, faces, permission_bindings`)
	return err
}

// counterColumn maps an item state to its counter column in deletions.
var counterColumn = map[string]string{ItemPending: "pending", ItemDeleted: "deleted", ItemFailed: "failed", ItemCancelled: "cancelled"}

// moveItems moves the items matching where (with args) from one state to another, setting more
// columns (set, setArgs), and keeps the requests' counters in step in the same transaction, so
// that reading a request's progress is one row, however many items it has.
func moveItems(ctx context.Context, tx *sqlx.Tx, from, to, set string, setArgs []any, where string, whereArgs ...any) error {
	args := append(append([]any{to}, setArgs...), whereArgs...)
	args = append(args, from)
	return moveItemsBy(ctx, tx, from, to, `UPDATE deletion_items SET state = ?, `+set+` WHERE `+where+` AND state = ? RETURNING deletion_id`, args...)
}

// moveItemsBy runs update, which moves items from one state to another and returns the
// deletion_id of each item it moved, and moves the counters of the requests by as many.
func moveItemsBy(ctx context.Context, tx *sqlx.Tx, from, to, update string, args ...any) error {
	rows, err := querySQL(ctx, tx, update, args...)
	if err != nil {
		return err
	}
	moved := map[string]int{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		moved[id]++
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for id, n := range moved {
		if err := execSQL(ctx, tx, `UPDATE deletions SET `+counterColumn[from]+` = `+counterColumn[from]+` - ?, `+
			counterColumn[to]+` = `+counterColumn[to]+` + ? WHERE deletion_id = ?`, n, n, id); err != nil {
			return err
		}
	}
	return nil
}

func itemMessage(code string) string {
	switch code {
	case domain.CodeIDNotFound:
		return "no such person"
	case domain.CodeInvalidID:
		return "id has characters outside [A-Za-z0-9_-%@#&] or is longer than 64"
	case domain.CodeDuplicateID:
		return "the id appears earlier in this request"
	case domain.CodeNotInGroup:
		return "the person is not in the group"
	case domain.CodeCancelled:
		return "the request was cancelled before this item's deletion began"
	}
	return ""
}

// itemRowsPerInsert keeps one multi-row INSERT under SQLite's bound-parameter limit.
const itemRowsPerInsert = 200

// insertItems inserts a chunk's items and returns how many it inserted in each state (a chunk
// applied twice inserts nothing the second time, so the counters never count an item twice).
func insertItems(ctx context.Context, tx *sqlx.Tx, e events.DeletionRequested, t time.Time) (map[string]int, error) {
	inserted := map[string]int{}
	rejected := make(map[int]string, len(e.Rejected))
	for _, r := range e.Rejected {
		rejected[r.Index] = r.Code
	}
	for start := 0; start < len(e.PersonIDs); start += itemRowsPerInsert {
		end := min(start+itemRowsPerInsert, len(e.PersonIDs))
		var sb strings.Builder
		sb.WriteString(`INSERT INTO deletion_items (deletion_id, position, person_id, state, error_code, error_message, updated_at) VALUES `)
		args := make([]any, 0, 7*(end-start))
		for i := start; i < end; i++ {
			if i > start {
				sb.WriteString(",")
			}
			sb.WriteString("(?, ?, ?, ?, ?, ?, ?)")
			pos := e.Offset + i
			state, code := ItemPending, ""
			if c, ok := rejected[pos]; ok {
				state, code = ItemFailed, c
			}
			args = append(args, e.DeletionID, pos, e.PersonIDs[i], state, code, itemMessage(code), t)
		}
		sb.WriteString(" ON CONFLICT (deletion_id, position) DO NOTHING RETURNING state")
		// Through the batch's statement cache: a full chunk's text is the same every time, and
		// parsing its 1,400 placeholders afresh was a tenth of a bulk intake's CPU.
		rows, err := querySQL(ctx, tx, sb.String(), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var state string
			if err := rows.Scan(&state); err != nil {
				rows.Close()
				return nil, err
			}
			inserted[state]++
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return inserted, nil
}
