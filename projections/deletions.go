package projections

import (
	"context"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
)

// Deletions projects deletion requests, their items and outcomes, and the deleted persons.
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
			if err := exec(`INSERT INTO deletions (deletion_id, state, group_id, idempotency_key, callback_url, created_at, version)
				VALUES (?, 'running', ?, ?, ?, ?, ?) ON CONFLICT (deletion_id) DO NOTHING`,
				e.DeletionID, e.GroupID, e.IdempotencyKey, e.CallbackURL, t, r.Seq); err != nil {
				return err
			}
		}
		if err := insertItems(ctx, tx, e, t); err != nil {
			return err
		}
		last := 0
		if e.Last {
			last = 1
		}
		return exec(`UPDATE deletions SET recorded = recorded + ?, fully_recorded = CASE WHEN ? = 1 THEN 1 ELSE fully_recorded END, version = ?
			WHERE deletion_id = ?`, len(e.PersonIDs), last, r.Seq, e.DeletionID)
	case events.DeletionChunkDispatched:
		for _, f := range e.Failed {
			state := ItemFailed
			if f.Code == domain.CodeCancelled {
				state = ItemCancelled
			}
			if err := exec(`UPDATE deletion_items SET state = ?, error_code = ?, error_message = ?, updated_at = ?
				WHERE deletion_id = ? AND position = ? AND state = 'pending'`, state, f.Code, itemMessage(f.Code), t, e.DeletionID, f.Index); err != nil {
				return err
			}
		}
		return exec(`UPDATE deletions SET version = ? WHERE deletion_id = ?`, r.Seq, e.DeletionID)
	case events.PersonDeletionRequested:
		saga := e.DeletionID
		if e.Joins != "" {
			saga = e.Joins
		}
		if e.ResumeAt != "" { // an operator's retry: the failed items run again
			return exec(`UPDATE deletion_items SET state = 'pending', error_code = '', error_message = '', error_step = '', updated_at = ?
				WHERE person_id = ? AND saga_id = ? AND state = 'failed' AND error_code = ?`, t, e.PersonID, saga, domain.CodeStepFailed)
		}
		return exec(`UPDATE deletion_items SET saga_id = ?, updated_at = ? WHERE deletion_id = ? AND person_id = ? AND state = 'pending'`,
			saga, t, e.DeletionID, e.PersonID)
	case events.PersonRemovedFromGroup:
		if e.DeletionID == "" {
			return nil
		}
		return exec(`UPDATE deletion_items SET state = 'deleted', updated_at = ? WHERE deletion_id = ? AND person_id = ? AND state = 'pending'`,
			t, e.DeletionID, e.PersonID)
	case events.PersonDeletionFailed:
		return exec(`UPDATE deletion_items SET state = 'failed', error_code = ?, error_message = ?, error_step = ?, updated_at = ?
			WHERE person_id = ? AND saga_id = ? AND state = 'pending'`, e.Code, e.Message, e.Step, t, e.PersonID, e.DeletionID)
	case events.PersonDeleted:
		if err := exec(`UPDATE deletion_items SET state = 'deleted', updated_at = ? WHERE person_id = ? AND saga_id = ? AND state = 'pending'`,
			t, e.PersonID, e.DeletionID); err != nil {
			return err
		}
		return exec(`INSERT INTO deleted_persons (person_id, deletion_id, deleted_at, seq) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			e.PersonID, e.DeletionID, t, r.Seq)
	case events.DeletionCompleted:
		// A cancelled request stays cancelled; completed_at tells that its last item is terminal.
		return exec(`UPDATE deletions SET state = CASE WHEN state = 'cancelled' THEN 'cancelled' ELSE 'completed' END,
			completed_at = ?, version = ? WHERE deletion_id = ?`, t, r.Seq, e.DeletionID)
	case events.DeletionCancelled:
		return exec(`UPDATE deletions SET state = 'cancelled', version = ? WHERE deletion_id = ?`, r.Seq, e.DeletionID)
	case events.PersonDeletionCancelled:
		return exec(`UPDATE deletion_items SET state = 'cancelled', error_code = ?, error_message = ?, updated_at = ?
			WHERE person_id = ? AND saga_id = ? AND state = 'pending'`, domain.CodeCancelled, itemMessage(domain.CodeCancelled), t, e.PersonID, e.DeletionID)
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

func insertItems(ctx context.Context, tx *sqlx.Tx, e events.DeletionRequested, t time.Time) error {
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
		sb.WriteString(" ON CONFLICT (deletion_id, position) DO NOTHING")
		if _, err := tx.ExecContext(ctx, tx.Rebind(sb.String()), args...); err != nil {
			return err
		}
	}
	return nil
}
