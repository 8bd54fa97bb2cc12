package stores

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/erasure-dev/erasure/sagas"
)

var _ sagas.PermissionDirectory = (*Builtin)(nil)

// UnbindFromPermissionGroup removes the persons' bindings to one permission group.
func (b *Builtin) UnbindFromPermissionGroup(ctx context.Context, permissionGroupID string, personIDs []string) error {
	for chunk := range chunks(personIDs, 500) {
		q, args, err := sqlx.In(`DELETE FROM permission_directory WHERE permission_group_id = ? AND person_id IN (?)`, permissionGroupID, chunk)
		if err != nil {
			return err
		}
		if _, err := b.db.ExecContext(ctx, b.db.Rebind(q), args...); err != nil {
			return fmt.Errorf("unbind from permission group %s: %w", permissionGroupID, err)
		}
	}
	return nil
}

// PurgePermissionGroup removes every binding left to the permission group.
func (b *Builtin) PurgePermissionGroup(ctx context.Context, permissionGroupID string) error {
	if _, err := b.db.ExecContext(ctx, b.db.Rebind(`DELETE FROM permission_directory WHERE permission_group_id = ?`), permissionGroupID); err != nil {
		return fmt.Errorf("purge permission group %s: %w", permissionGroupID, err)
	}
	return nil
}

// ReservePermissionName reserves name for the permission group unless it is reserved already,
// and returns who holds it now, since when, and whether this call made the reservation.
func (b *Builtin) ReservePermissionName(ctx context.Context, name, permissionGroupID string) (holder string, since time.Time, created bool, err error) {
	res, err := b.db.ExecContext(ctx, b.db.Rebind(`INSERT INTO permission_names (name, permission_group_id, reserved_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO NOTHING`), name, permissionGroupID, time.Now().UTC())
	if err != nil {
		return "", time.Time{}, false, fmt.Errorf("reserve permission name: %w", err)
	}
	n, _ := res.RowsAffected()
	var row struct {
		Holder string    `db:"permission_group_id"`
		Since  time.Time `db:"reserved_at"`
	}
	err = b.db.GetContext(ctx, &row, b.db.Rebind(`SELECT permission_group_id, reserved_at FROM permission_names WHERE name = ?`), name)
	if err != nil {
		// Released between the two statements: the caller tries again.
		return "", time.Time{}, false, fmt.Errorf("reserve permission name: %w", errors.Join(errReservationMoved, err))
	}
	return row.Holder, row.Since, n == 1 && row.Holder == permissionGroupID, nil
}

// errReservationMoved means a reservation changed hands while it was being read.
var errReservationMoved = errors.New("permission name reservation moved")

// TakeOverPermissionName moves a stale reservation from one permission group to another; false
// when the reservation no longer belongs to from.
func (b *Builtin) TakeOverPermissionName(ctx context.Context, name, from, to string) (bool, error) {
	res, err := b.db.ExecContext(ctx, b.db.Rebind(`UPDATE permission_names SET permission_group_id = ?, reserved_at = ?
		WHERE name = ? AND permission_group_id = ?`), to, time.Now().UTC(), name, from)
	if err != nil {
		return false, fmt.Errorf("take over permission name: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ReleasePermissionName frees the name if the permission group still holds it, so a late release
// never frees a name that another group has reserved since.
func (b *Builtin) ReleasePermissionName(ctx context.Context, name, permissionGroupID string) error {
	if _, err := b.db.ExecContext(ctx, b.db.Rebind(`DELETE FROM permission_names WHERE name = ? AND permission_group_id = ?`), name, permissionGroupID); err != nil {
		return fmt.Errorf("release permission name: %w", err)
	}
	return nil
}
