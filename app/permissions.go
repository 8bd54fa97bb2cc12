package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/projections"
)

// PermissionDirectory is the downstream permission directory together with the registry of
// permission-group names, whose uniqueness spans aggregates and so is reserved outside the log.
type PermissionDirectory interface {
	ReservePermissionName(ctx context.Context, name, permissionGroupID string) (holder string, since time.Time, created bool, err error)
	TakeOverPermissionName(ctx context.Context, name, from, to string) (bool, error)
	ReleasePermissionName(ctx context.Context, name, permissionGroupID string) error
	UnbindFromPermissionGroup(ctx context.Context, permissionGroupID string, personIDs []string) error
}

// reservationGrace is how long a reservation whose permission group is not (yet) in the log
// counts as a create in flight. Older, it is what a crash between reserve and append left
// behind, and a new create may take the name over.
const reservationGrace = time.Minute

func permissionDecider(id string) func([]any) decider {
	return func(h []any) decider { return domain.PermissionGroupFromHistory(id, h) }
}

// PermissionGroup is the read model's view of a permission group.
type PermissionGroup = projections.PermissionGroup

// CreatePermissionGroup creates a permission group with a unique name and returns it once
// visible. An empty id is replaced by a generated one.
func (reg *Registry) CreatePermissionGroup(ctx context.Context, caller Caller, id, name, description string) (PermissionGroup, error) {
	meta := caller.meta()
	if id == "" {
		id = events.NewID()
	}
	seq, err := reg.createPermissionGroup(ctx, meta, id, name, description)
	if err != nil {
		return PermissionGroup{}, err
	}
	if err := reg.waitVisible(ctx, seq); err != nil {
		return PermissionGroup{}, err
	}
	return reg.GetPermissionGroup(ctx, id)
}

func (reg *Registry) createPermissionGroup(ctx context.Context, meta events.Meta, id, name, description string) (uint64, error) {
	if err := domain.ValidateID(id); err != nil {
		return 0, fmt.Errorf("permission_id: %w", err)
	}
	if err := domain.ValidatePermissionName(name); err != nil {
		return 0, fmt.Errorf("permission_name: %w", err)
	}
	if err := domain.ValidateDescription(description); err != nil {
		return 0, fmt.Errorf("description: %w", err)
	}
	// Refuse a taken id before reserving anything.
	g, err := reg.loadPermissionGroup(ctx, id)
	if err != nil {
		return 0, err
	}
	switch g.Status() {
	case domain.PermissionGroupActive:
		return 0, fmt.Errorf("permission group %s: %w", id, domain.ErrPermissionGroupExists)
	case domain.PermissionGroupDeleting:
		return 0, fmt.Errorf("permission group %s: %w", id, domain.ErrPermissionGroupDeleting)
	}
	created, err := reg.reservePermissionName(ctx, name, id)
	if err != nil {
		return 0, err
	}
	seq, err := reg.execute(ctx, meta, events.AggregatePermission, id, permissionDecider(id), domain.CreatePermissionGroup{Name: name, Description: description})
	if err != nil {
		// Only a reservation made here is ours to undo: one found in place belongs to a
		// concurrent create of the same id, whose append may still land.
		if created {
			reg.releasePermissionNameUnlessHeld(name, id)
		}
		return 0, err
	}
	return seq, nil
}

// reservePermissionName reserves name for the permission group id before its creation is
// appended. It reports whether this call made the reservation (rather than finding it held by id).
func (reg *Registry) reservePermissionName(ctx context.Context, name, id string) (bool, error) {
	for range 4 {
		holder, since, created, err := reg.stores.ReservePermissionName(ctx, name, id)
		if err != nil {
			return false, err
		}
		if holder == id {
			return created, nil
		}
		held, err := reg.permissionNameHeld(ctx, name, holder, since)
		if err != nil {
			return false, err
		}
		if held {
			return false, fmt.Errorf("permission_name %q: %w", name, domain.ErrPermissionNameTaken)
		}
		if ok, err := reg.stores.TakeOverPermissionName(ctx, name, holder, id); err != nil {
			return false, err
		} else if ok {
			reg.logger.Info("took over a stale permission-name reservation", "permission_group_id", id, "stale_holder", holder)
			return true, nil
		}
	}
	return false, fmt.Errorf("permission_name %q: %w", name, ErrBusy)
}

// permissionNameHeld reports whether holder's reservation of name is live: its permission group
// is in the log under that name, or it is recent enough to be a create in flight.
func (reg *Registry) permissionNameHeld(ctx context.Context, name, holder string, since time.Time) (bool, error) {
	g, err := reg.loadPermissionGroup(ctx, holder)
	if err != nil {
		return false, err
	}
	if g.Live() {
		return g.Name() == name, nil
	}
	return g.Status() == domain.PermissionGroupAbsent && time.Since(since) < reservationGrace, nil
}

// releasePermissionNameUnlessHeld undoes a reservation after a failed create, unless the log
// shows the group holding the name after all (a concurrent create of the same id won).
func (reg *Registry) releasePermissionNameUnlessHeld(name, id string) {
	ctx := context.Background()
	if g, err := reg.loadPermissionGroup(ctx, id); err != nil || (g.Live() && g.Name() == name) {
		return
	}
	if err := reg.stores.ReleasePermissionName(ctx, name, id); err != nil {
		reg.logger.Warn("release permission name after a failed create; it is taken over once stale", "permission_group_id", id, "err", err)
	}
}

func (reg *Registry) loadPermissionGroup(ctx context.Context, id string) (*domain.PermissionGroup, error) {
	history, _, err := reg.log.Load(ctx, events.AggregatePermission, id)
	if err != nil {
		return nil, err
	}
	return domain.PermissionGroupFromHistory(id, dataOf(history)), nil
}

// DeletePermissionGroup deletes a permission group: the permission-deletion saga unbinds every
// member (a PermissionGroupUnbound on each person) and records the group deleted. It returns once
// the read model shows the group gone, so the persons' next reads no longer list it.
func (reg *Registry) DeletePermissionGroup(ctx context.Context, caller Caller, id string) error {
	meta := caller.meta()
	if err := domain.ValidateID(id); err != nil {
		return fmt.Errorf("permission_id: %w", err)
	}
	seq, err := reg.execute(ctx, meta, events.AggregatePermission, id, permissionDecider(id), domain.RequestPermissionGroupDeletion{})
	if err != nil {
		return fmt.Errorf("permission group %s: %w", id, err)
	}
	// First the request itself, so that the row is seen deleting rather than still active.
	if err := reg.waitVisible(ctx, seq); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, reg.WriteTimeout)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		deleting, err := reg.reads.PermissionGroupDeleting(ctx, id)
		if err != nil {
			return fmt.Errorf("wait for permission group %s to be deleted: %w", id, err)
		}
		if !deleting {
			return nil // deleted (or, in a race, already re-created: this deletion is done either way)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for permission group %s to be deleted: %w", id, ctx.Err())
		case <-tick.C:
		}
	}
}

// GetPermissionGroup returns an active permission group; ErrPermissionNotFound otherwise.
func (reg *Registry) GetPermissionGroup(ctx context.Context, id string) (PermissionGroup, error) {
	g, err := reg.reads.ActivePermissionGroup(ctx, id)
	if err != nil {
		return PermissionGroup{}, fromReadModel(err, fmt.Errorf("permission group %s: %w", id, domain.ErrPermissionNotFound))
	}
	return g, nil
}

// GetPermissionGroupByName returns the active permission group of that name.
func (reg *Registry) GetPermissionGroupByName(ctx context.Context, name string) (PermissionGroup, error) {
	g, err := reg.reads.ActivePermissionGroupByName(ctx, name)
	if err != nil {
		return PermissionGroup{}, fromReadModel(err, fmt.Errorf("permission group %s: %w", name, domain.ErrPermissionNotFound))
	}
	return g, nil
}

// ListPermissionGroups returns one page of the active permission groups whose name contains
// nameLike (any, if empty; case-insensitive), in creation order, and how many match in all.
func (reg *Registry) ListPermissionGroups(ctx context.Context, nameLike string, offset, limit int) ([]PermissionGroup, int, error) {
	return reg.reads.ActivePermissionGroups(ctx, nameLike, offset, limit)
}

// ensurePermissionGroups checks that every permission group a registration names is active. With
// create, the missing ones are created (name = id, as the native API promises), so the native and
// Sophon surfaces share one registry of permission groups; without, a missing one is
// ErrPermissionNotFound (Sophon's ID_NOT_FOUND).
func (reg *Registry) ensurePermissionGroups(ctx context.Context, meta events.Meta, ids []string, create bool) error {
	for _, id := range ids {
		g, err := reg.loadPermissionGroup(ctx, id)
		if err != nil {
			return err
		}
		switch g.Status() {
		case domain.PermissionGroupActive:
			continue
		case domain.PermissionGroupDeleting:
			return fmt.Errorf("permission group %s: %w", id, domain.ErrPermissionGroupDeleting)
		}
		if !create {
			return fmt.Errorf("permission group %s: %w", id, domain.ErrPermissionNotFound)
		}
		_, err = reg.createPermissionGroup(ctx, meta, id, autoPermissionName(id, ""), "")
		if errors.Is(err, domain.ErrPermissionNameTaken) {
			// Another group (a Sophon one) already has this id as its name: take a name that still
			// says whose it is.
			_, err = reg.createPermissionGroup(ctx, meta, id, autoPermissionName(id, events.NewID()[:8]), "")
		}
		if errors.Is(err, ErrBusy) {
			// Registrations racing to create it: one of them has, most likely.
			if g, lerr := reg.loadPermissionGroup(ctx, id); lerr == nil && g.Status() == domain.PermissionGroupActive {
				continue
			}
		}
		if err != nil && !errors.Is(err, domain.ErrPermissionGroupExists) { // exists: a concurrent registration created it
			return err
		}
	}
	return nil
}

// autoPermissionName names a permission group created implicitly: its id, cut to the name limit,
// with a suffix when the plain id is taken as a name.
func autoPermissionName(id, suffix string) string {
	if suffix == "" {
		return id[:min(len(id), domain.MaxNameLength)]
	}
	return id[:min(len(id), domain.MaxNameLength-len(suffix)-1)] + "~" + suffix
}

// unbindDeletedPermissionGroups undoes bindings that a registration made to permission groups
// deleted meanwhile. The saga lists members from a read model caught up past the deletion
// request, so a binding appended before the request is unbound by the saga, and one appended
// after it is seen here: whichever order the two appends took, no binding survives its group.
func (reg *Registry) unbindDeletedPermissionGroups(ctx context.Context, meta events.Meta, personID string, ids []string) (uint64, error) {
	var last uint64
	for _, id := range ids {
		g, err := reg.loadPermissionGroup(ctx, id)
		if err != nil {
			return 0, err
		}
		if g.Status() == domain.PermissionGroupActive {
			continue
		}
		if err := reg.stores.UnbindFromPermissionGroup(ctx, id, []string{personID}); err != nil {
			return 0, fmt.Errorf("unbind from deleted permission group %s: %w", id, err)
		}
		seq, err := reg.execute(ctx, meta, events.AggregatePerson, personID, personDecider(personID), domain.UnbindPermissionGroup{PermissionGroupID: id})
		if err != nil {
			return 0, err
		}
		last = max(last, seq)
	}
	return last, nil
}
