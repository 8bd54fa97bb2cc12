package app

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// DeletionRecord is when the deletion of a person or a group was requested.
type DeletionRecord struct {
	Kind        string // "person" or "group"
	ID          string
	RequestedAt time.Time
}

// LatestDeletion returns the most recently requested deletion among the given persons and
// groups, and false when none of them was ever deleted. A person counts once its deletion is
// done (one whose deletion still runs exists, and refuses a create by itself), from when the
// deletion was requested (the first request, when others joined it); a group counts from its
// deletion's request. Callers use it to refuse a stale create that would undo a deletion.
func (a *App) LatestDeletion(ctx context.Context, personIDs, groupIDs []string) (DeletionRecord, bool, error) {
	var latest DeletionRecord
	found := false
	keep := func(kind, id string, at time.Time) {
		if !found || at.After(latest.RequestedAt) {
			latest, found = DeletionRecord{Kind: kind, ID: id, RequestedAt: at}, true
		}
	}
	if len(personIDs) > 0 {
		var rows []struct {
			ID          string       `db:"person_id"`
			DeletedAt   time.Time    `db:"deleted_at"`
			RequestedAt sql.NullTime `db:"created_at"`
		}
		// The request's row is always recorded before its persons are deleted; deleted_at (later)
		// stands in should it be missing, which only refuses more.
		q, args, err := sqlx.In(`SELECT p.person_id, p.deleted_at, d.created_at FROM deleted_persons p
			LEFT JOIN deletions d ON d.deletion_id = p.deletion_id WHERE p.person_id IN (?)`, personIDs)
		if err != nil {
			return DeletionRecord{}, false, err
		}
		if err := a.rm.SelectContext(ctx, &rows, a.rm.Rebind(q), args...); err != nil {
			return DeletionRecord{}, false, fmt.Errorf("deletions of persons: %w", err)
		}
		for _, r := range rows {
			at := r.DeletedAt
			if r.RequestedAt.Valid {
				at = r.RequestedAt.Time
			}
			keep("person", r.ID, at)
		}
	}
	if len(groupIDs) > 0 {
		var rows []struct {
			ID          string    `db:"group_id"`
			RequestedAt time.Time `db:"requested_at"`
		}
		q, args, err := sqlx.In(`SELECT group_id, requested_at FROM deleted_groups WHERE group_id IN (?)`, groupIDs)
		if err != nil {
			return DeletionRecord{}, false, err
		}
		if err := a.rm.SelectContext(ctx, &rows, a.rm.Rebind(q), args...); err != nil {
			return DeletionRecord{}, false, fmt.Errorf("deletions of groups: %w", err)
		}
		for _, r := range rows {
			keep("group", r.ID, r.RequestedAt)
		}
	}
	return latest, found, nil
}
