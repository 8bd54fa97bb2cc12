// Package stores holds the built-in downstream stores a deletion purges: the photo store (a file
// of each person's photos under the photo directory), the face index and the permission
// directory (SQL tables).
package stores

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/sagas"
)

// Builtin is the built-in downstream stores.
type Builtin struct {
	db        *sqlx.DB
	photosDir string
}

var (
	_ sagas.Stores  = (*Builtin)(nil)
	_ app.Registrar = (*Builtin)(nil)
)

// NewBuiltin returns the built-in stores on db, with photos under photosDir.
func NewBuiltin(db *sqlx.DB, photosDir string) (*Builtin, error) {
	if err := os.MkdirAll(photosDir, 0o700); err != nil {
		return nil, fmt.Errorf("photo store: %w", err)
	}
	return &Builtin{db: db, photosDir: photosDir}, nil
}

// Register stores a person's photos, face records and permission bindings. It is idempotent, so
// a retried registration writes the same rows and files again.
func (b *Builtin) Register(ctx context.Context, personID string, faces []app.FaceRecord, permissionGroupIDs []string) error {
	if err := b.putPhotos(personID, photosOf(faces), true); err != nil {
		return err
	}
	return b.insertRegistrations(ctx, []app.Registration{{PersonID: personID, Faces: faces, PermissionGroupIDs: permissionGroupIDs}})
}

// photosOf returns the photos of faces; a face registered from a feature vector has none.
func photosOf(faces []app.FaceRecord) []photo {
	var photos []photo
	for _, f := range faces {
		if f.Photo != nil {
			photos = append(photos, photo{name: f.PhotoKey, data: f.Photo})
		}
	}
	return photos
}

// insertRegistrations writes the face records and permission bindings of registrations in one
// transaction; a repeat writes nothing new.
func (b *Builtin) insertRegistrations(ctx context.Context, regs []app.Registration) error {
	now := time.Now().UTC()
	tx, err := b.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	for _, r := range regs {
		for _, f := range r.Faces {
			if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO face_index (face_id, person_id, feature, created_at) VALUES (?, ?, ?, ?)
				ON CONFLICT (person_id, face_id) DO NOTHING`), f.FaceID, r.PersonID, f.Feature, now); err != nil {
				return fmt.Errorf("face index %s: %w", r.PersonID, err)
			}
		}
		for _, g := range r.PermissionGroupIDs {
			if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO permission_directory (person_id, permission_group_id, bound_at) VALUES (?, ?, ?)
				ON CONFLICT (person_id, permission_group_id) DO NOTHING`), r.PersonID, g, now); err != nil {
				return fmt.Errorf("permission directory %s: %w", r.PersonID, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	return nil
}

// Photo returns a stored registration photo; an error wrapping fs.ErrNotExist when there is none.
func (b *Builtin) Photo(personID, photoKey string) ([]byte, error) {
	photos, err := b.packed(personID)
	if err != nil {
		return nil, err
	}
	if i := slices.IndexFunc(photos, func(p photo) bool { return p.is(photoKey) }); i >= 0 {
		return photos[i].data, nil
	}
	legacy, err := b.legacyPhotoPath(personID, photoKey)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(legacy)
	if err != nil {
		return nil, fmt.Errorf("photo %s/%s: %w", personID, photoKey, err)
	}
	return data, nil
}

// RemoveFace removes one face's record and photo (a face deletion, not a person deletion).
func (b *Builtin) RemoveFace(ctx context.Context, personID, faceID, photoKey string) error {
	if _, err := b.db.ExecContext(ctx, b.db.Rebind(`DELETE FROM face_index WHERE face_id = ? AND person_id = ?`), faceID, personID); err != nil {
		return fmt.Errorf("remove face %s: %w", faceID, err)
	}
	legacy, err := b.legacyPhotoPath(personID, photoKey)
	if err != nil {
		return err
	}
	err = b.changePhotos(personID, true, func(photos []photo) ([]photo, bool) {
		kept := slices.DeleteFunc(photos, func(p photo) bool { return p.is(photoKey) })
		return kept, len(kept) != len(photos)
	})
	if err != nil {
		return fmt.Errorf("remove photo %s: %w", photoKey, err)
	}
	if err := os.Remove(legacy); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove photo %s: %w", photoKey, err)
	}
	return nil
}

// UnbindPermissionGroups removes every permission binding of the persons.
func (b *Builtin) UnbindPermissionGroups(ctx context.Context, personIDs []string) error {
	return b.deleteWhereIn(ctx, "DELETE FROM permission_directory WHERE person_id IN (?)", personIDs)
}

// PurgeFaces removes every face record of the persons.
func (b *Builtin) PurgeFaces(ctx context.Context, personIDs []string) error {
	return b.deleteWhereIn(ctx, "DELETE FROM face_index WHERE person_id IN (?)", personIDs)
}

// PurgePhotos removes every registration photo of the persons and syncs the photo directory,
// so the removals are on disk before the step is recorded: each person's pack, a temporary
// pack an interrupted write left, and a directory an earlier version wrote, whatever it holds
// (its expected keys are unlinked without listing it first).
func (b *Builtin) PurgePhotos(_ context.Context, photos []events.PersonPhotos) error {
	for _, p := range photos {
		// Names under photosDir are made of these IDs: one like ".." or "a/b" would reach outside it.
		if err := domain.ValidateID(p.PersonID); err != nil {
			return fmt.Errorf("purge photos of %q: %w", p.PersonID, err)
		}
		for _, k := range p.PhotoKeys {
			if err := domain.ValidateID(k); err != nil {
				return fmt.Errorf("purge photos of %s: key %q: %w", p.PersonID, k, err)
			}
		}
	}
	// Under the store's lock: a face's removal or addition rewriting a pack meanwhile would
	// otherwise rename back what it read before the unlink.
	unlock, err := lockStore(b.photosDir)
	if err != nil {
		return err
	}
	defer unlock()
	return removePhotos(b.photosDir, photos)
}

// Leftovers lists what the stores still hold of the given persons: "store:person" entries.
func (b *Builtin) Leftovers(ctx context.Context, personIDs []string) ([]string, error) {
	for _, id := range personIDs {
		// The photo check looks for names made of the id under photosDir: an id like ".." would
		// look outside the store.
		if err := domain.ValidateID(id); err != nil {
			return nil, fmt.Errorf("leftovers of %q: %w", id, err)
		}
	}
	var found []string
	for _, q := range []struct{ store, sql string }{
		{"face_index", "SELECT DISTINCT person_id FROM face_index WHERE person_id IN (?)"},
		{"permission_directory", "SELECT DISTINCT person_id FROM permission_directory WHERE person_id IN (?)"},
	} {
		for chunk := range chunks(personIDs, 500) {
			query, args, err := sqlx.In(q.sql, chunk)
			if err != nil {
				return nil, err
			}
			var ids []string
			if err := b.db.SelectContext(ctx, &ids, b.db.Rebind(query), args...); err != nil {
				return nil, fmt.Errorf("scan %s: %w", q.store, err)
			}
			for _, id := range ids {
				found = append(found, q.store+":"+id)
			}
		}
	}
	for _, id := range personIDs {
		for _, name := range append(packFiles(id), id) { // and a directory an earlier version wrote
			_, err := os.Lstat(filepath.Join(b.photosDir, name))
			if err == nil {
				found = append(found, "photo_store:"+id)
				break
			}
			if !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("leftovers of %s: %w", id, err) // could not look: not "clean"
			}
		}
	}
	return found, nil
}

// deleteWhereIn deletes in chunks of 500 IDs, all in one transaction: one commit (one fsync)
// for a whole batch of persons.
func (b *Builtin) deleteWhereIn(ctx context.Context, query string, personIDs []string) error {
	tx, err := b.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", query, err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	for chunk := range chunks(personIDs, 500) {
		q, args, err := sqlx.In(query, chunk)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(q), args...); err != nil {
			return fmt.Errorf("%s: %w", query, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", query, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

func chunks[T any](s []T, n int) func(func([]T) bool) {
	return func(yield func([]T) bool) {
		for i := 0; i < len(s); i += n {
			if !yield(s[i:min(i+n, len(s))]) {
				return
			}
		}
	}
}

// RegisterMany registers many persons in one transaction. Photos are written without an fsync
// each (one sync of the store at the end): the bulk seeding path.
func (b *Builtin) RegisterMany(ctx context.Context, regs []app.Registration) error {
	for _, r := range regs {
		if err := b.putPhotos(r.PersonID, photosOf(r.Faces), false); err != nil {
			return err
		}
	}
	if err := b.insertRegistrations(ctx, regs); err != nil {
		return err
	}
	return syncDir(b.photosDir)
}

var _ app.BulkRegistrar = (*Builtin)(nil)
