package projections

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Group is the read model's view of a group.
type Group struct {
	GroupID     string `db:"group_id"`
	Name        string `db:"name"`
	Tag         string `db:"tag"`
	State       string `db:"state"`
	PersonCount int    `db:"person_count"`
}

// GroupInfo is a group with its creation time.
type GroupInfo struct {
	Group
	CreatedAt time.Time `db:"created_at"`
}

// groupColumns are the columns a Group reads from groups g (its persons counted, not kept).
const groupColumns = `g.group_id, g.name, g.tag, g.state,
	(SELECT COUNT(*) FROM memberships m WHERE m.group_id = g.group_id) AS person_count`

// Group returns a group in any state; ErrNotFound if there is none.
func (q Queries) Group(ctx context.Context, id string) (Group, error) {
	var g Group
	if err := q.get(ctx, "get group "+id, &g, `SELECT `+groupColumns+` FROM groups g WHERE g.group_id = ?`, id); err != nil {
		return Group{}, err
	}
	return g, nil
}

// GroupInfo returns a group in any state with its creation time; ErrNotFound if there is none.
func (q Queries) GroupInfo(ctx context.Context, id string) (GroupInfo, error) {
	var g GroupInfo
	if err := q.get(ctx, "get group "+id, &g, `SELECT `+groupColumns+`, g.created_at FROM groups g WHERE g.group_id = ?`, id); err != nil {
		return GroupInfo{}, err
	}
	return g, nil
}

// Groups returns groups in any state ordered by id after the cursor, at most limit.
func (q Queries) Groups(ctx context.Context, after string, limit int) ([]Group, error) {
	groups := []Group{}
	if err := q.DB.SelectContext(ctx, &groups, q.DB.Rebind(`SELECT `+groupColumns+`
		FROM groups g WHERE g.group_id > ? ORDER BY g.group_id LIMIT ?`), after, limit); err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	return groups, nil
}

// ActiveGroups returns one page (offset, limit) of the active groups in creation order, and how
// many active groups there are.
func (q Queries) ActiveGroups(ctx context.Context, offset, limit int) ([]GroupInfo, int, error) {
	var total int
	if err := q.DB.GetContext(ctx, &total, `SELECT COUNT(*) FROM groups WHERE state = 'active'`); err != nil {
		return nil, 0, fmt.Errorf("count groups: %w", err)
	}
	groups := []GroupInfo{}
	if err := q.DB.SelectContext(ctx, &groups, q.DB.Rebind(`SELECT `+groupColumns+`, g.created_at
		FROM groups g WHERE g.state = 'active' ORDER BY g.created_at, g.group_id LIMIT ? OFFSET ?`), limit, offset); err != nil {
		return nil, 0, fmt.Errorf("list groups: %w", err)
	}
	return groups, total, nil
}

// MemberRow is an active member of a group: the person and when it was registered.
type MemberRow struct {
	PersonID  string    `db:"person_id"`
	CreatedAt time.Time `db:"created_at"`
}

// ActiveMembers returns one page (offset, limit) of a group's active members in the order they
// joined, how many active members it has, and how many faces they have in all. It does not
// check the group.
func (q Queries) ActiveMembers(ctx context.Context, groupID string, offset, limit int) (members []MemberRow, total, faces int, err error) {
	const active = `FROM memberships m JOIN persons p ON p.person_id = m.person_id WHERE m.group_id = ? AND p.state = 'active'`
	if err := q.DB.GetContext(ctx, &total, q.DB.Rebind(`SELECT COUNT(*) `+active), groupID); err != nil {
		return nil, 0, 0, fmt.Errorf("count members of %s: %w", groupID, err)
	}
	if err := q.DB.GetContext(ctx, &faces, q.DB.Rebind(`SELECT COUNT(*) FROM faces f WHERE f.person_id IN (SELECT p.person_id `+active+`)`), groupID); err != nil {
		return nil, 0, 0, fmt.Errorf("count faces of %s: %w", groupID, err)
	}
	if err := q.DB.SelectContext(ctx, &members, q.DB.Rebind(`SELECT p.person_id, p.created_at `+active+`
		ORDER BY m.added_at, p.person_id LIMIT ? OFFSET ?`), groupID, limit, offset); err != nil {
		return nil, 0, 0, fmt.Errorf("list members of %s: %w", groupID, err)
	}
	return members, total, faces, nil
}

// PersonRow is a person's own row: its name and profile still sealed (the key store opens them).
type PersonRow struct {
	PersonID      string `db:"person_id"`
	NameSealed    string `db:"name_sealed"`
	ProfileSealed string `db:"profile_sealed"`
	State         string `db:"state"`
	DeletionID    string `db:"deletion_id"`
}

// personColumns are the columns a PersonRow reads from persons p.
const personColumns = `p.person_id, p.name_sealed, p.profile_sealed, p.state, p.deletion_id`

// PersonRecord is the read model's view of a person: its row and what it holds, each list in
// the order it was added.
type PersonRecord struct {
	PersonRow
	GroupIDs           []string
	PermissionGroupIDs []string
	FaceIDs            []string
}

// Person returns a person in any state (active or deleting); ErrNotFound once deleted or if it
// never existed.
func (q Queries) Person(ctx context.Context, id string) (PersonRecord, error) {
	var p PersonRecord
	if err := q.get(ctx, "get person "+id, &p.PersonRow, `SELECT `+personColumns+` FROM persons p WHERE p.person_id = ?`, id); err != nil {
		return PersonRecord{}, err
	}
	for _, l := range []struct {
		dst   *[]string
		query string
	}{
		{&p.GroupIDs, `SELECT group_id FROM memberships WHERE person_id = ? ORDER BY added_at, group_id`},
		{&p.PermissionGroupIDs, `SELECT permission_group_id FROM permission_bindings WHERE person_id = ? ORDER BY bound_at, permission_group_id`},
		{&p.FaceIDs, `SELECT face_id FROM faces WHERE person_id = ? ORDER BY added_at, face_id`},
	} {
		*l.dst = []string{}
		if err := q.DB.SelectContext(ctx, l.dst, q.DB.Rebind(l.query), id); err != nil {
			return PersonRecord{}, fmt.Errorf("get person %s: %w", id, err)
		}
	}
	return p, nil
}

// PersonIDs returns the ids of persons in any state ordered by id after the cursor, at most
// limit; with a groupID, only that group's members.
func (q Queries) PersonIDs(ctx context.Context, groupID, after string, limit int) ([]string, error) {
	var ids []string
	var err error
	if groupID != "" {
		err = q.DB.SelectContext(ctx, &ids, q.DB.Rebind(`SELECT person_id FROM memberships WHERE group_id = ? AND person_id > ? ORDER BY person_id LIMIT ?`), groupID, after, limit)
	} else {
		err = q.DB.SelectContext(ctx, &ids, q.DB.Rebind(`SELECT person_id FROM persons WHERE person_id > ? ORDER BY person_id LIMIT ?`), after, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("list persons: %w", err)
	}
	return ids, nil
}

// ActivePersonFilter narrows the active persons. Zero fields select every active person.
type ActivePersonFilter struct {
	PersonID           string   // exactly this person
	PermissionGroupIDs []string // bound to at least one of these
}

func (f ActivePersonFilter) where() (string, []any) {
	where, args := []string{`p.state = 'active'`}, []any{}
	if f.PersonID != "" {
		where, args = append(where, `p.person_id = ?`), append(args, f.PersonID)
	}
	if len(f.PermissionGroupIDs) > 0 {
		where = append(where, `EXISTS (SELECT 1 FROM permission_bindings b WHERE b.person_id = p.person_id
			AND b.permission_group_id IN (?`+strings.Repeat(", ?", len(f.PermissionGroupIDs)-1)+`))`)
		for _, id := range f.PermissionGroupIDs {
			args = append(args, id)
		}
	}
	return strings.Join(where, " AND "), args
}

// ActivePersonIDs returns one page (offset, limit) of the ids of the active persons f selects,
// in registration order, and how many it selects in all.
func (q Queries) ActivePersonIDs(ctx context.Context, f ActivePersonFilter, offset, limit int) ([]string, int, error) {
	cond, args := f.where()
	var total int
	if err := q.DB.GetContext(ctx, &total, q.DB.Rebind(`SELECT COUNT(*) FROM persons p WHERE `+cond), args...); err != nil {
		return nil, 0, fmt.Errorf("count persons: %w", err)
	}
	var ids []string
	if err := q.DB.SelectContext(ctx, &ids, q.DB.Rebind(`SELECT p.person_id FROM persons p WHERE `+cond+`
		ORDER BY p.created_at, p.person_id LIMIT ? OFFSET ?`), append(args, limit, offset)...); err != nil {
		return nil, 0, fmt.Errorf("list persons: %w", err)
	}
	return ids, total, nil
}

// ActivePersonRows returns the rows of every active person f selects, in registration order:
// for a search by name, which only the key store can open.
func (q Queries) ActivePersonRows(ctx context.Context, f ActivePersonFilter) ([]PersonRow, error) {
	cond, args := f.where()
	var rows []PersonRow
	if err := q.DB.SelectContext(ctx, &rows, q.DB.Rebind(`SELECT `+personColumns+`
		FROM persons p WHERE `+cond+` ORDER BY p.created_at, p.person_id`), args...); err != nil {
		return nil, fmt.Errorf("list persons: %w", err)
	}
	return rows, nil
}

// Face is one of a person's faces as the read model shows it: its id and the key of its
// registration photo (no photo is stored for a face registered from a feature vector).
type Face struct {
	FaceID   string `db:"face_id"`
	PhotoKey string `db:"photo_key"`
}

// Faces returns a person's faces in the order they were registered.
func (q Queries) Faces(ctx context.Context, personID string) ([]Face, error) {
	faces := []Face{}
	if err := q.DB.SelectContext(ctx, &faces, q.DB.Rebind(`SELECT face_id, photo_key FROM faces WHERE person_id = ? ORDER BY added_at, face_id`), personID); err != nil {
		return nil, fmt.Errorf("faces of %s: %w", personID, err)
	}
	return faces, nil
}

// PhotoKey returns the key of the registration photo of a person's face; ErrNotFound if the
// person has no such face.
func (q Queries) PhotoKey(ctx context.Context, personID, faceID string) (string, error) {
	var key string
	if err := q.get(ctx, "photo", &key, `SELECT photo_key FROM faces WHERE person_id = ? AND face_id = ?`, personID, faceID); err != nil {
		return "", err
	}
	return key, nil
}

// PhotoOwner returns the active person whose face has the registration photo photoKey;
// ErrNotFound if no active person's face has it.
func (q Queries) PhotoOwner(ctx context.Context, photoKey string) (string, error) {
	var personID string
	if err := q.get(ctx, "photo "+photoKey, &personID, `SELECT f.person_id FROM faces f JOIN persons p ON p.person_id = f.person_id
		WHERE f.photo_key = ? AND p.state = 'active'`, photoKey); err != nil {
		return "", err
	}
	return personID, nil
}
