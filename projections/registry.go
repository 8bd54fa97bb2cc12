package projections

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/erasure-dev/erasure/events"
)

// Registry projects groups, persons, memberships, faces and permission bindings.
// A replay folds the same events in memory (replay_fold.go): a change to what this writes needs
// the same change there and a bump of its version (versions.go); TestReplayEqualsLive compares them.
type Registry struct{}

var _ Projector = Registry{}

// Apply applies a batch of events to the registry tables.
func (Registry) Apply(ctx context.Context, tx *sqlx.Tx, batch []events.Recorded) error {
	return applyRuns(ctx, tx, batch, registryRun, applyRegistry)
}

// applyRuns applies a batch run by run: set-based where the projector handles the run (a run of
// one event type over distinct persons, on either dialect), event by event otherwise.
func applyRuns(ctx context.Context, tx *sqlx.Tx, batch []events.Recorded,
	set func(context.Context, *sqlx.Tx, []events.Recorded) (bool, error),
	each func(context.Context, *sqlx.Tx, events.Recorded) error) error {
	for _, run := range runs(batch) {
		if len(run) > 1 {
			handled, err := set(ctx, tx, run)
			if err != nil {
				return fmt.Errorf("%d %s at %d..%d: %w", len(run), run[0].Type, run[0].Seq, run[len(run)-1].Seq, err)
			}
			if handled {
				continue
			}
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
	case events.PersonCreated:
		if err := deletePersonRows(exec, e.PersonID); err != nil {
			return err
		}
		if err := exec(`INSERT INTO persons (person_id, name_sealed, profile_sealed, state, deletion_id, created_at, updated_at, version)
			VALUES (?, ?, ?, 'active', '', ?, ?, ?)`, e.PersonID, string(e.Name), string(e.Profile), t, t, r.Seq); err != nil {
			return err
		}
		for _, g := range e.GroupIDs {
			if err := exec(`INSERT INTO memberships (person_id, group_id, added_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, e.PersonID, g, t); err != nil {
				return err
			}
		}
		for _, f := range e.Faces {
			if err := insertFace(exec, e.PersonID, f, t); err != nil {
				return err
			}
		}
		for _, p := range e.PermissionGroupIDs {
			if err := exec(`INSERT INTO permission_bindings (person_id, permission_group_id, bound_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, e.PersonID, p, t); err != nil {
				return err
			}
		}
		return nil
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
	case events.PersonDeletionRequested:
		if e.Joins != "" {
			return touchPerson(exec, e.PersonID, r) // version tracks every event of the person
		}
		return exec(`UPDATE persons SET state = 'deleting', deletion_id = ?, updated_at = ?, version = ? WHERE person_id = ?`, e.DeletionID, t, r.Seq, e.PersonID)
	case events.PermissionGroupsUnbound:
		ids := events.PersonIDsOf(e)
		if err := touchListed(ctx, tx, ids, r); err != nil {
			return err
		}
		return deleteListed(ctx, tx, "permission_bindings", ids)
	case events.FacesPurged:
		return touchListed(ctx, tx, events.PersonIDsOf(e), r)
	case events.PhotosPurged:
		ids := events.PersonIDsOf(e)
		if err := touchListed(ctx, tx, ids, r); err != nil {
			return err
		}
		return deleteListed(ctx, tx, "faces", ids)
	case events.PersonDeletionFailed:
		return touchPerson(exec, e.PersonID, r)
	case events.PersonDeletionCancelled:
		return exec(`UPDATE persons SET state = 'active', deletion_id = '', updated_at = ?, version = ? WHERE person_id = ?`, t, r.Seq, e.PersonID)
	case events.PersonDeleted:
		return deletePersonRows(exec, e.PersonID)
	}
	// DeletionBatchStarted and DeletionBatchCompleted change no registry table: a batch's
	// persons move by its step events and their own terminal events.
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

// touchListed marks the persons a step event lists as updated at the event's time, and moves
// the version of the one whose own subject holds the event (versionOwner). Every listed person
// is one statement, however many there are.
func touchListed(ctx context.Context, tx *sqlx.Tx, ids []string, r events.Recorded) error {
	owner := versionOwner(r)
	switch {
	case len(ids) == 0:
		return nil
	case len(ids) == 1 && ids[0] == owner:
		return touchPerson(func(q string, args ...any) error { return execSQL(ctx, tx, q, args...) }, owner, r)
	case len(ids) == 1:
		return execSQL(ctx, tx, `UPDATE persons SET updated_at = ? WHERE person_id = ?`, r.Time, ids[0])
	}
	in, list := inList(tx, ids)
	return execSQL(ctx, tx, `UPDATE persons SET updated_at = ?, version = CASE WHEN person_id = ? THEN ? ELSE version END
		WHERE person_id `+in, r.Time, owner, r.Seq, list)
}

// deleteListed deletes the rows of table that belong to the persons, in one statement.
func deleteListed(ctx context.Context, tx *sqlx.Tx, table string, ids []string) error {
	switch len(ids) {
	case 0:
		return nil
	case 1:
		return execSQL(ctx, tx, `DELETE FROM `+table+` WHERE person_id = ?`, ids[0])
	}
	in, list := inList(tx, ids)
	return execSQL(ctx, tx, `DELETE FROM `+table+` WHERE person_id `+in, list)
}

// jsonList is ids as a JSON array, which SQLite's json_each reads as a table.
func jsonList(ids []string) string {
	b, _ := json.Marshal(ids)
	return string(b)
}

func insertFace(exec func(string, ...any) error, personID string, f events.Face, t any) error {
	return exec(`INSERT INTO faces (face_id, person_id, photo_key, added_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, f.FaceID, personID, f.PhotoKey, t)
}

// deletePersonRows removes everything the registry holds of a person: after PersonDeleted no
// row of theirs remains, and a re-created person starts clean.
func deletePersonRows(exec func(string, ...any) error, personID string) error {
	for _, q := range []string{
		`DELETE FROM memberships WHERE person_id = ?`,
		`DELETE FROM faces WHERE person_id = ?`,
		`DELETE FROM permission_bindings WHERE person_id = ?`,
		`DELETE FROM persons WHERE person_id = ?`,
	} {
		if err := exec(q, personID); err != nil {
			return err
		}
	}
	return nil
}
