package projections

import (
	"context"
	"fmt"
	"strings"
)

// PermissionGroup is the read model's view of a permission group.
type PermissionGroup struct {
	PermissionGroupID string `db:"permission_group_id"`
	Name              string `db:"name"`
	Description       string `db:"description"`
	State             string `db:"state"`
}

// permissionGroupColumns are the columns a PermissionGroup reads.
const permissionGroupColumns = `permission_group_id, name, description, state`

// ActivePermissionGroup returns an active permission group; ErrNotFound otherwise.
func (q Queries) ActivePermissionGroup(ctx context.Context, id string) (PermissionGroup, error) {
	return q.activePermissionGroup(ctx, `permission_group_id = ?`, id)
}

// ActivePermissionGroupByName returns the active permission group of that name; ErrNotFound if
// there is none.
func (q Queries) ActivePermissionGroupByName(ctx context.Context, name string) (PermissionGroup, error) {
	return q.activePermissionGroup(ctx, `name = ?`, name)
}

func (q Queries) activePermissionGroup(ctx context.Context, where, arg string) (PermissionGroup, error) {
	var g PermissionGroup
	if err := q.get(ctx, "get permission group "+arg, &g, `SELECT `+permissionGroupColumns+` FROM permission_groups
		WHERE state = 'active' AND `+where, arg); err != nil {
		return PermissionGroup{}, err
	}
	return g, nil
}

// PermissionGroupDeleting reports whether permission group id is being deleted: false once it
// is deleted (or, in a race, re-created).
func (q Queries) PermissionGroupDeleting(ctx context.Context, id string) (bool, error) {
	var n int
	if err := q.DB.GetContext(ctx, &n, q.DB.Rebind(`SELECT COUNT(*) FROM permission_groups WHERE permission_group_id = ? AND state = 'deleting'`), id); err != nil {
		return false, fmt.Errorf("permission group %s: %w", id, err)
	}
	return n > 0, nil
}

// ActivePermissionGroups returns one page of the active permission groups whose name contains
// nameLike (any, if empty; case-insensitive), in creation order, and how many match in all.
func (q Queries) ActivePermissionGroups(ctx context.Context, nameLike string, offset, limit int) ([]PermissionGroup, int, error) {
	where, args := `state = 'active'`, []any{}
	if nameLike != "" {
		where += ` AND LOWER(name) LIKE LOWER(?) ESCAPE '\'`
		args = append(args, "%"+likeEscaper.Replace(nameLike)+"%")
	}
	var total int
	if err := q.DB.GetContext(ctx, &total, q.DB.Rebind(`SELECT COUNT(*) FROM permission_groups WHERE `+where), args...); err != nil {
		return nil, 0, fmt.Errorf("count permission groups: %w", err)
	}
	groups := []PermissionGroup{}
	if err := q.DB.SelectContext(ctx, &groups, q.DB.Rebind(`SELECT `+permissionGroupColumns+` FROM permission_groups
		WHERE `+where+` ORDER BY created_at, permission_group_id LIMIT ? OFFSET ?`), append(args, limit, offset)...); err != nil {
		return nil, 0, fmt.Errorf("list permission groups: %w", err)
	}
	return groups, total, nil
}

// likeEscaper makes a search text match itself only in a LIKE pattern with ESCAPE '\'.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
