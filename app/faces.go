package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/projections"
)

// Face is one of a person's faces as the read model shows it: its id and the key of its
// registration photo (no photo is stored for a face registered from a feature vector).
type Face = projections.Face

// Faces returns a person's faces in the order they were registered.
func (reg *Registry) Faces(ctx context.Context, personID string) ([]Face, error) {
	return reg.reads.Faces(ctx, personID)
}

// AddFace registers one more face for an active person: its photo and feature record go to the
// downstream stores, the face's keys to the log. It returns the new face once visible.
func (reg *Registry) AddFace(ctx context.Context, caller Caller, personID string, ph NewPhoto) (Face, error) {
	meta := caller.meta()
	if err := domain.ValidateID(personID); err != nil {
		return Face{}, fmt.Errorf("person_id: %w", err)
	}
	rec := FaceRecord{FaceID: events.NewID(), PhotoKey: events.NewID(), Photo: ph.Image, Feature: ph.Feature}
	cmd := domain.AddFace{Face: events.Face{FaceID: rec.FaceID, PhotoKey: rec.PhotoKey}}
	// Decide once before writing anything downstream, so a refused face leaves nothing behind.
	p, err := reg.loadPerson(ctx, personID)
	if err != nil {
		return Face{}, err
	}
	if _, err := p.Decide(cmd); err != nil {
		return Face{}, err
	}
	if err := reg.stores.Register(ctx, personID, []FaceRecord{rec}, nil); err != nil {
		return Face{}, fmt.Errorf("register downstream: %w", err)
	}
	seq, err := reg.execute(ctx, meta, events.AggregatePerson, personID, personDecider(personID), cmd)
	if err != nil {
		if rmErr := reg.stores.RemoveFace(context.WithoutCancel(ctx), personID, rec.FaceID, rec.PhotoKey); rmErr != nil {
			reg.logger.Error("undo face: photo left behind", "person_id", personID, "face_id", rec.FaceID, "err", rmErr)
		}
		return Face{}, err
	}
	if err := reg.waitVisible(ctx, seq); err != nil {
		return Face{}, err
	}
	return Face{FaceID: rec.FaceID, PhotoKey: rec.PhotoKey}, nil
}

// DeleteFace removes one face of an active person: its feature record and photo first, then the
// fact in the log. Erasing before recording errs on the side of deletion: a failed append leaves
// a face whose data is already gone, never data the log says is gone.
func (reg *Registry) DeleteFace(ctx context.Context, caller Caller, personID, faceID string) error {
	meta := caller.meta()
	if err := domain.ValidateID(personID); err != nil {
		return fmt.Errorf("person_id: %w", err)
	}
	p, err := reg.loadPerson(ctx, personID)
	if err != nil {
		return err
	}
	cmd := domain.DeleteFace{FaceID: faceID}
	if _, err := p.Decide(cmd); err != nil {
		return err
	}
	i := slices.IndexFunc(p.Faces(), func(f events.Face) bool { return f.FaceID == faceID })
	if err := reg.stores.RemoveFace(ctx, personID, faceID, p.Faces()[i].PhotoKey); err != nil {
		return fmt.Errorf("remove face downstream: %w", err)
	}
	seq, err := reg.execute(ctx, meta, events.AggregatePerson, personID, personDecider(personID), cmd)
	if err != nil {
		return err
	}
	return reg.waitVisible(ctx, seq)
}

// RegistrationPhoto returns the registration photo stored under photoKey and its person. A face
// registered from a feature vector has none: ErrNotFound.
func (reg *Registry) RegistrationPhoto(ctx context.Context, photoKey string) (personID string, photo []byte, err error) {
	personID, err = reg.reads.PhotoOwner(ctx, photoKey)
	if err != nil {
		return "", nil, fromReadModel(err, fmt.Errorf("photo %s: %w", photoKey, domain.ErrFaceNotFound))
	}
	photo, err = reg.stores.Photo(personID, photoKey)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil, fmt.Errorf("photo %s: registered from a feature vector, no photo kept: %w", photoKey, ErrNotFound)
	}
	if err != nil {
		return "", nil, err
	}
	return personID, photo, nil
}

func (reg *Registry) loadPerson(ctx context.Context, id string) (*domain.Person, error) {
	history, _, err := reg.log.Load(ctx, events.AggregatePerson, id)
	if err != nil {
		return nil, err
	}
	return domain.PersonFromHistory(id, dataOf(history)), nil
}
