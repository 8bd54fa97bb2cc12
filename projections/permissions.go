package projections

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/sagas"
)

// Permissions projects permission groups (Sophon permissions). Their bindings are person events
// and live with the registry, which applies them in order with the other person events.
type Permissions struct{}

var _ Projector = Permissions{}

// Apply applies a batch of events to the permission_groups table.
func (Permissions) Apply(ctx context.Context, tx *sqlx.Tx, batch []events.Recorded) error {
	for _, r := range batch {
		if err := applyPermission(ctx, tx, r); err != nil {
			return fmt.Errorf("%s at %d: %w", r.Type, r.Seq, err)
		}
	}
	return nil
}

func applyPermission(ctx context.Context, tx *sqlx.Tx, r events.Recorded) error {
	exec := func(query string, args ...any) error { return execSQL(ctx, tx, query, args...) }
	t := r.Time
	switch e := r.Data.(type) {
	case events.PermissionGroupCreated:
		return exec(`INSERT INTO permission_groups (permission_group_id, name, description, state, created_at, updated_at)
			VALUES (?, ?, ?, 'active', ?, ?)
			ON CONFLICT (permission_group_id) DO UPDATE SET name = excluded.name, description = excluded.description,
			state = 'active', created_at = excluded.created_at, updated_at = excluded.updated_at`,
			e.PermissionGroupID, e.Name, e.Description, t, t)
	case events.PermissionGroupDeletionRequested:
		return exec(`UPDATE permission_groups SET state = 'deleting', updated_at = ? WHERE permission_group_id = ?`, t, e.PermissionGroupID)
	case events.PermissionGroupDeleted:
		return exec(`DELETE FROM permission_groups WHERE permission_group_id = ?`, e.PermissionGroupID)
	}
	return nil
}

// PermissionMembers answers the permission-deletion saga from the read model.
type PermissionMembers struct {
	DB     *sqlx.DB
	Runner *Runner
}

var _ sagas.PermissionMembers = PermissionMembers{}

// Members returns up to limit persons bound to the permission group once the read model has
// applied the log up to atLeast, so that no binding recorded before then is missed.
func (m PermissionMembers) Members(ctx context.Context, permissionGroupID string, atLeast uint64, limit int) ([]string, error) {
	if err := m.Runner.WaitFor(ctx, atLeast); err != nil {
		return nil, err
	}
	ids := []string{}
	err := m.DB.SelectContext(ctx, &ids, m.DB.Rebind(`SELECT person_id FROM permission_bindings WHERE permission_group_id = ?
		ORDER BY person_id LIMIT ?`), permissionGroupID, limit)
	if err != nil {
		return nil, fmt.Errorf("members of permission group %s: %w", permissionGroupID, err)
	}
	return ids, nil
}
