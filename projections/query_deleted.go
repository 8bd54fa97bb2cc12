package projections

import (
	"context"
	"database/sql"
	"fmt"
	"time"
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
func (q Queries) LatestDeletion(ctx context.Context, personIDs, groupIDs []string) (DeletionRecord, bool, error) {
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
		if err := q.selectIn(ctx, &rows, `SELECT p.person_id, p.deleted_at, d.created_at FROM deleted_persons p
			LEFT JOIN deletions d ON d.deletion_id = p.deletion_id WHERE p.person_id IN (?)`, personIDs); err != nil {
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
		if err := q.selectIn(ctx, &rows, `SELECT group_id, requested_at FROM deleted_groups WHERE group_id IN (?)`, groupIDs); err != nil {
			return DeletionRecord{}, false, fmt.Errorf("deletions of groups: %w", err)
		}
		for _, r := range rows {
			keep("group", r.ID, r.RequestedAt)
		}
	}
	return latest, found, nil
}

// DeletedPersons returns the persons the log says were deleted and that were not registered
// again since, sorted: the ones whose every trace should be gone.
func (q Queries) DeletedPersons(ctx context.Context) ([]string, error) {
	var ids []string
	if err := q.DB.SelectContext(ctx, &ids, `SELECT DISTINCT d.person_id FROM deleted_persons d
		WHERE NOT EXISTS (SELECT 1 FROM persons p WHERE p.person_id = d.person_id) ORDER BY d.person_id`); err != nil {
		return nil, fmt.Errorf("list deleted persons: %w", err)
	}
	return ids, nil
}

// Remnant is a row the read model still holds of a person: the table it is in.
type Remnant struct {
	PersonID string
	Table    string // memberships, faces or permission_bindings
}

// remnantTables are the tables that hold a person's data beside its own row, in the order
// Remnants reports them.
var remnantTables = []string{"memberships", "faces", "permission_bindings"}

// Remnants returns what the membership, face and binding tables still hold of the persons (at
// most some hundreds: one statement a table), table by table in that order.
func (q Queries) Remnants(ctx context.Context, personIDs []string) ([]Remnant, error) {
	var out []Remnant
	for _, table := range remnantTables {
		var ids []string
		if err := q.selectIn(ctx, &ids, `SELECT DISTINCT person_id FROM `+table+` WHERE person_id IN (?)`, personIDs); err != nil {
			return nil, fmt.Errorf("scan %s: %w", table, err)
		}
		for _, id := range ids {
			out = append(out, Remnant{PersonID: id, Table: table})
		}
	}
	return out, nil
}
