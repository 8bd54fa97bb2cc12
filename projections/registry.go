package projections

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/erasure-dev/erasure/events"
)

// Registry projects groups, persons, memberships, faces and permission bindings.
// A replay applies the log through this same code; a change to what it writes needs a bump of
// its version (versions.go), so stored tables are rebuilt. A replay leaves out the events of a
// person's own subject up to its last PersonDeleted (ended.go): what this writes for such an
// event must be rows of that person alone, which PersonDeleted removes.
type Registry struct {
	// ended, in a replay's fresh tables only, are the events it may leave out (ended.go).
	ended *ended
}

var _ Projector = Registry{}

// Apply applies a batch of events to the registry tables.
func (g Registry) Apply(ctx context.Context, tx *sqlx.Tx, batch []events.Recorded) error {
	if g.ended != nil {
		var err error
		if batch, err = g.ended.leaveOut(ctx, tx, batch); err != nil {
			return err
		}
	}
	return applyRuns(ctx, tx, batch, registryRun, applyRegistry)
}

// applyRuns applies a batch run by run (a run: one event type over distinct persons). The
// event types of the deletion path have one set-based projector (set), which takes a run of any
// length, one event or a thousand, on either dialect; the rare types (registrations, groups,
// single bindings) are applied event by event (each).
func applyRuns(ctx context.Context, tx *sqlx.Tx, batch []events.Recorded,
	set func(context.Context, *sqlx.Tx, []events.Recorded) (bool, error),
	each func(context.Context, *sqlx.Tx, events.Recorded) error) error {
	for _, run := range runs(batch) {
		handled, err := set(ctx, tx, run)
		if err != nil {
			return fmt.Errorf("%d %s at %d..%d: %w", len(run), run[0].Type, run[0].Seq, run[len(run)-1].Seq, err)
		}
		if handled {
			continue
		}
		for _, r := range run {
			if err := each(ctx, tx, r); err != nil {
				return fmt.Errorf("%s at %d: %w", r.Type, r.Seq, err)
			}
		}
	}
	return nil
}

func applyRegistry(ctx context.Context, tx *sqlx.Tx, r events.Recorded) error {
	exec := func(query string, args ...any) error { return execSQL(ctx, tx, query, args...) }
	t := r.Time
	switch e := r.Data.(type) {
	case events.GroupCreated:
		return exec(`INSERT INTO groups (group_id, name, tag, state, created_at, updated_at) VALUES (?, ?, ?, 'active', ?, ?)
			ON CONFLICT (group_id) DO UPDATE SET name = excluded.name, tag = excluded.tag, state = 'active',
			created_at = excluded.created_at, updated_at = excluded.updated_at`, e.GroupID, e.Name, e.Tag, t, t)
	case events.GroupDeletionRequested:
		return exec(`UPDATE groups SET state = 'deleting', updated_at = ? WHERE group_id = ?`, t, e.GroupID)
	case events.GroupDeleted:
		if err := exec(`DELETE FROM memberships WHERE group_id = ?`, e.GroupID); err != nil {
			return err
		}
		return exec(`DELETE FROM groups WHERE group_id = ?`, e.GroupID)
	case events.PersonAddedToGroup:
		if err := touchPerson(exec, e.PersonID, r); err != nil {
			return err
		}
		return exec(`INSERT INTO memberships (person_id, group_id, added_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, e.PersonID, e.GroupID, t)
	case events.PersonRemovedFromGroup:
		if err := touchPerson(exec, e.PersonID, r); err != nil {
			return err
		}
		return exec(`DELETE FROM memberships WHERE person_id = ? AND group_id = ?`, e.PersonID, e.GroupID)
	case events.FaceAdded:
		if err := touchPerson(exec, e.PersonID, r); err != nil {
			return err
		}
		return insertFace(exec, e.PersonID, e.Face, t)
	case events.FaceDeleted:
		if err := touchPerson(exec, e.PersonID, r); err != nil {
			return err
		}
		return exec(`DELETE FROM faces WHERE person_id = ? AND face_id = ?`, e.PersonID, e.FaceID)
	case events.PermissionGroupBound:
		if err := touchPerson(exec, e.PersonID, r); err != nil {
			return err
		}
		return exec(`INSERT INTO permission_bindings (person_id, permission_group_id, bound_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, e.PersonID, e.PermissionGroupID, t)
	case events.PermissionGroupUnbound:
		// Here, in order with the binds, so a bind, unbind and bind again in one batch ends bound.
		if err := touchPerson(exec, e.PersonID, r); err != nil {
			return err
		}
		return exec(`DELETE FROM permission_bindings WHERE person_id = ? AND permission_group_id = ?`, e.PersonID, e.PermissionGroupID)
	}
	// A person's creation and every event of its deletion are projected set-based (registryRun).
	return nil
}

func touchPerson(exec func(string, ...any) error, personID string, r events.Recorded) error {
	return exec(`UPDATE persons SET updated_at = ?, version = ? WHERE person_id = ?`, r.Time, r.Seq, personID)
}

// versionOwner returns the person whose version a step event listing personID moves: the
// person itself when the event is on its own subject, else nobody (""). A person's version is
// the sequence of the last event on its own subject, which its commands expect; a batch's
// events are on the batch's subject and leave it alone.
func versionOwner(r events.Recorded) string {
	if r.Aggregate == events.AggregatePerson {
		return r.AggregateID
	}
	return ""
}

// jsonList is ids as a JSON array, which SQLite's json_each reads as a table.
func jsonList(ids []string) string {
	b, _ := json.Marshal(ids)
	return string(b)
}

func insertFace(exec func(string, ...any) error, personID string, f events.Face, t any) error {
	return exec(`INSERT INTO faces (face_id, person_id, photo_key, added_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, f.FaceID, personID, f.PhotoKey, t)
}
