package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/keys"
	"github.com/erasure-dev/erasure/projections"
)

// FaceRecord is one face to register downstream: its feature record and registration photo.
// Neither ever enters the log.
type FaceRecord struct {
	FaceID   string
	PhotoKey string
	Photo    []byte
	Feature  []byte
}

// Registrar writes a registration into the downstream stores before its event is appended.
type Registrar interface {
	Register(ctx context.Context, personID string, faces []FaceRecord, permissionGroupIDs []string) error
	RemoveFace(ctx context.Context, personID, faceID, photoKey string) error
	UnbindPermissionGroups(ctx context.Context, personIDs []string) error
	Photo(personID, photoKey string) ([]byte, error)
	PermissionDirectory
	// Leftovers lists what the stores still hold of the persons, as "store:person_id".
	Leftovers(ctx context.Context, personIDs []string) ([]string, error)
}

// Registry is the registry of persons, groups, faces and permission groups: their creation,
// reads, memberships and bindings, a face's removal and a permission group's deletion (a
// person's or a group's deletion is Deletions'). Its methods live in registry.go, groups.go,
// identities.go (the Sophon surface's person search), faces.go, permissions.go and seed.go.
// Names and profiles are sealed with the person's key (keys) before they reach the log, and
// photos and face records go to the downstream stores before the event that names them.
type Registry struct {
	*writes
	reads  projections.Queries
	keys   *keys.Store
	stores Registrar
	logger *slog.Logger
}

// Group is the read model's view of a group.
type Group = projections.Group

// CreateGroup creates a group and returns it once visible.
func (reg *Registry) CreateGroup(ctx context.Context, caller Caller, id, name, tag string) (Group, error) {
	meta := caller.meta()
	seq, err := reg.execute(ctx, meta, events.AggregateGroup, id, groupDecider(id), domain.CreateGroup{Name: name, Tag: tag})
	if err != nil {
		return Group{}, err
	}
	if err := reg.waitVisible(ctx, seq); err != nil {
		return Group{}, err
	}
	return reg.GetGroup(ctx, id)
}

// GetGroup returns a group; ErrGroupNotFound if it does not exist.
func (reg *Registry) GetGroup(ctx context.Context, id string) (Group, error) {
	g, err := reg.reads.Group(ctx, id)
	if err != nil {
		return Group{}, fromReadModel(err, domain.ErrGroupNotFound)
	}
	return g, nil
}

// ListGroups returns groups ordered by id after the cursor, at most limit.
func (reg *Registry) ListGroups(ctx context.Context, after string, limit int) ([]Group, error) {
	return reg.reads.Groups(ctx, after, limit)
}

// NewPhoto is a registration photo given to CreatePerson.
type NewPhoto struct {
	Image   []byte // decoded (DecodePhoto)
	Feature []byte // optional feature record
}

// CreatePersonInput is a registration.
type CreatePersonInput struct {
	PersonID           string
	Name               string
	GroupIDs           []string
	PermissionGroupIDs []string
	Photos             []NewPhoto
	// Profile is further personal data (JSON), sealed like the name: a Sophon identity's
	// user_type and ext_user_info.
	Profile string
	// RequirePermissionGroups refuses permission groups that do not exist (Sophon) instead of
	// creating them (native).
	RequirePermissionGroups bool
}

// CreatePerson registers a person: photos and face records go to the downstream stores, the
// sealed name and the keys to the log. It returns the new face ids once the person is visible.
func (reg *Registry) CreatePerson(ctx context.Context, caller Caller, in CreatePersonInput) ([]string, error) {
	meta := caller.meta()
	if err := domain.ValidateID(in.PersonID); err != nil {
		return nil, fmt.Errorf("person_id: %w", err)
	}
	if err := domain.ValidateName(in.Name); err != nil {
		return nil, err
	}
	if len(in.Photos) > domain.MaxFacesPerPerson {
		return nil, domain.ErrTooManyFaces
	}
	if len(in.GroupIDs) > domain.MaxGroupsPerPerson {
		return nil, domain.ErrTooManyGroups
	}
	if err := domain.ValidateIDs(in.GroupIDs); err != nil {
		return nil, fmt.Errorf("group_ids %w", err)
	}
	if err := domain.ValidateIDs(in.PermissionGroupIDs); err != nil {
		return nil, fmt.Errorf("permission_group_ids %w", err)
	}
	if err := reg.requireActiveGroups(ctx, in.GroupIDs); err != nil {
		return nil, err
	}
	// Refuse a duplicate before any photo is written.
	history, _, err := reg.log.Load(ctx, events.AggregatePerson, in.PersonID)
	if err != nil {
		return nil, err
	}
	if p := domain.PersonFromHistory(in.PersonID, dataOf(history)); p.Exists() {
		if p.Status() == domain.StatusDeleting {
			return nil, domain.ErrPersonDeleting
		}
		return nil, domain.ErrPersonExists
	}
	if err := reg.ensurePermissionGroups(ctx, meta, in.PermissionGroupIDs, !in.RequirePermissionGroups); err != nil {
		return nil, err
	}

	name, err := reg.keys.Seal(ctx, in.PersonID, in.Name)
	if err != nil {
		return nil, fmt.Errorf("seal name: %w", err)
	}
	var profile events.Sealed
	if in.Profile != "" {
		if profile, err = reg.keys.Seal(ctx, in.PersonID, in.Profile); err != nil {
			return nil, fmt.Errorf("seal profile: %w", err)
		}
	}
	records := make([]FaceRecord, len(in.Photos))
	faces := make([]events.Face, len(in.Photos))
	faceIDs := make([]string, len(in.Photos))
	for i, ph := range in.Photos {
		records[i] = FaceRecord{FaceID: events.NewID(), PhotoKey: events.NewID(), Photo: ph.Image, Feature: ph.Feature}
		faces[i] = events.Face{FaceID: records[i].FaceID, PhotoKey: records[i].PhotoKey}
		faceIDs[i] = records[i].FaceID
	}
	if err := reg.stores.Register(ctx, in.PersonID, records, in.PermissionGroupIDs); err != nil {
		return nil, fmt.Errorf("register downstream: %w", err)
	}
	seq, err := reg.execute(ctx, meta, events.AggregatePerson, in.PersonID, personDecider(in.PersonID), domain.CreatePerson{
		Name: name, GroupIDs: in.GroupIDs, PermissionGroupIDs: in.PermissionGroupIDs, Faces: faces, Profile: profile,
	})
	if err != nil {
		reg.undoRegistration(in.PersonID, records)
		return nil, err
	}
	if len(in.PermissionGroupIDs) > 0 {
		unbound, err := reg.unbindDeletedPermissionGroups(ctx, meta, in.PersonID, in.PermissionGroupIDs)
		if err != nil {
			return nil, err
		}
		seq = max(seq, unbound)
	}
	left, leftSeq, err := reg.leaveDeletingGroups(ctx, meta, in.PersonID, in.GroupIDs)
	if err != nil {
		return nil, err
	}
	if err := reg.waitVisible(ctx, max(seq, leftSeq)); err != nil {
		return nil, err
	}
	if len(left) > 0 {
		return nil, fmt.Errorf("group %s: %w", left[0], domain.ErrGroupDeleting)
	}
	return faceIDs, nil
}

// undoRegistration removes what a refused registration wrote downstream. Face and photo keys are
// fresh, so removing them never touches another registration's data.
func (reg *Registry) undoRegistration(personID string, records []FaceRecord) {
	ctx := context.Background()
	for _, r := range records {
		if err := reg.stores.RemoveFace(ctx, personID, r.FaceID, r.PhotoKey); err != nil {
			reg.logger.Error("undo registration: photo left behind", "person_id", personID, "face_id", r.FaceID, "err", err)
		}
	}
	history, _, err := reg.log.Load(ctx, events.AggregatePerson, personID)
	if err == nil && !domain.PersonFromHistory(personID, dataOf(history)).Exists() {
		if err := reg.stores.UnbindPermissionGroups(ctx, []string{personID}); err != nil {
			reg.logger.Error("undo registration: bindings left behind", "person_id", personID, "err", err)
		}
	}
}

func (reg *Registry) requireActiveGroups(ctx context.Context, ids []string) error {
	for _, id := range ids {
		g, err := reg.GetGroup(ctx, id)
		if err != nil {
			return fmt.Errorf("group %s: %w", id, err)
		}
		if g.State != string(domain.GroupActive) {
			return fmt.Errorf("group %s: %w", id, domain.ErrGroupDeleting)
		}
	}
	return nil
}

func dataOf(history []events.Recorded) []any {
	data := make([]any, len(history))
	for i, r := range history {
		data[i] = r.Data
	}
	return data
}

// Person is the read model's view of a person.
type Person struct {
	PersonID           string
	Name               string // empty once erased
	Profile            string // JSON, empty if none or erased
	State              string
	DeletionID         string
	GroupIDs           []string
	PermissionGroupIDs []string
	FaceIDs            []string
}

// GetPerson returns a person; ErrPersonNotFound once deleted or if it never existed. Its name
// and profile are opened with the person's key (empty once it is shredded).
func (reg *Registry) GetPerson(ctx context.Context, id string) (Person, error) {
	row, err := reg.reads.Person(ctx, id)
	if err != nil {
		return Person{}, fromReadModel(err, domain.ErrPersonNotFound)
	}
	p := Person{PersonID: row.PersonID, State: row.State, DeletionID: row.DeletionID,
		GroupIDs: row.GroupIDs, PermissionGroupIDs: row.PermissionGroupIDs, FaceIDs: row.FaceIDs}
	if p.Name, err = reg.keys.Open(ctx, id, events.Sealed(row.NameSealed)); err != nil && !errors.Is(err, keys.ErrShredded) {
		return Person{}, err
	}
	if p.Profile, err = reg.keys.Open(ctx, id, events.Sealed(row.ProfileSealed)); err != nil && !errors.Is(err, keys.ErrShredded) {
		return Person{}, err
	}
	return p, nil
}

// ListPersons returns persons ordered by id after the cursor, optionally only a group's members.
func (reg *Registry) ListPersons(ctx context.Context, groupID, after string, limit int) ([]Person, error) {
	ids, err := reg.reads.PersonIDs(ctx, groupID, after, limit)
	if err != nil {
		return nil, err
	}
	persons := make([]Person, 0, len(ids))
	for _, id := range ids {
		p, err := reg.GetPerson(ctx, id)
		if errors.Is(err, domain.ErrPersonNotFound) {
			continue // deleted between the two reads
		}
		if err != nil {
			return nil, err
		}
		persons = append(persons, p)
	}
	return persons, nil
}

// Photo returns a person's registration photo for a face.
func (reg *Registry) Photo(ctx context.Context, personID, faceID string) ([]byte, error) {
	key, err := reg.reads.PhotoKey(ctx, personID, faceID)
	if err != nil {
		return nil, fromReadModel(err, domain.ErrFaceNotFound)
	}
	return reg.stores.Photo(personID, key)
}
