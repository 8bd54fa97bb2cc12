package stores

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/erasure-dev/erasure/domain"
)

// The photo store keeps a person's registration photos in one file, the person's photo pack
// (photosDir/<person>.pack), so that purging a person's photos is one unlink: a directory of
// one file per photo cost an unlink per photo and one of the directory, each a journaled
// change of a directory on the file system, and that was the slowest step of a bulk deletion
// (docs/adr/0006). Photos are written together at registration and read one at a time; a face
// added or removed later rewrites the pack.
//
// A store written by an earlier version holds a directory per person (photosDir/<person>/<key>):
// it is still read, and a purge or a face's removal removes it too. A person ID has no dot
// (domain.ValidateID), so no pack or temporary name is ever a person's directory.
//
// The format: packMagic, then for each photo its key and its bytes, each preceded by its
// length as an unsigned varint.
const packMagic = "ERASURE-PHOTOS-1\n"

// A pack's name, and those of the two files a pack is written through: a person's first pack
// is written aside as <person>.pack.tmp, a rewrite as <person>.pack.new.
const (
	packSuffix = ".pack"
	tmpSuffix  = ".pack.tmp"
	newSuffix  = ".pack.new"
)

// packFiles names every file of the person's pack under the photo directory: the pack and the
// two it is written through. A purge removes them all; Leftovers looks for each.
func packFiles(personID string) []string {
	return []string{personID + packSuffix, personID + tmpSuffix, personID + newSuffix}
}

// errCorruptPack means a pack did not parse: damage from outside, or a bulk registration
// (RegisterMany, which syncs the directory once, not each pack) cut short by a crash. It reads
// as an error, never as a photo, and a purge removes it like any pack.
var errCorruptPack = errors.New("corrupt photo pack")

// photo is one photo of a pack: its name is the photo key (a public ID, not a credential).
type photo struct {
	name string
	data []byte
}

// is reports whether p is the photo named name.
func (p photo) is(name string) bool { return p.name == name }

func encodePack(photos []photo) []byte {
	n := len(packMagic)
	for _, p := range photos {
		n += 2*binary.MaxVarintLen64 + len(p.name) + len(p.data)
	}
	b := make([]byte, 0, n)
	b = append(b, packMagic...)
	for _, p := range photos {
		b = binary.AppendUvarint(b, uint64(len(p.name)))
		b = append(b, p.name...)
		b = binary.AppendUvarint(b, uint64(len(p.data)))
		b = append(b, p.data...)
	}
	return b
}

func decodePack(b []byte) ([]photo, error) {
	rest, ok := bytes.CutPrefix(b, []byte(packMagic))
	if !ok {
		return nil, fmt.Errorf("%w: no header", errCorruptPack)
	}
	field := func() ([]byte, error) {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) {
			return nil, fmt.Errorf("%w: truncated", errCorruptPack)
		}
		f := rest[k : k+int(n)]
		rest = rest[k+int(n):]
		return f, nil
	}
	var photos []photo
	for len(rest) > 0 {
		key, err := field()
		if err != nil {
			return nil, err
		}
		data, err := field()
		if err != nil {
			return nil, err
		}
		photos = append(photos, photo{name: string(key), data: data})
	}
	return photos, nil
}

// packPath is the person's photo pack; the ID is validated, so the path stays in the store.
func (b *Builtin) packPath(personID string) (string, error) {
	if err := domain.ValidateID(personID); err != nil {
		return "", fmt.Errorf("photo pack: person %q: %w", personID, err)
	}
	return filepath.Join(b.photosDir, personID+packSuffix), nil
}

// legacyPhotoPath is where an earlier version kept one photo.
func (b *Builtin) legacyPhotoPath(personID, photoKey string) (string, error) {
	if err := domain.ValidateID(personID); err != nil {
		return "", fmt.Errorf("photo path: person %q: %w", personID, err)
	}
	if err := domain.ValidateID(photoKey); err != nil {
		return "", fmt.Errorf("photo path: key %q: %w", photoKey, err)
	}
	return filepath.Join(b.photosDir, personID, photoKey), nil
}

// packed returns the photos in the person's pack; none when there is no pack.
func (b *Builtin) packed(personID string) ([]photo, error) {
	path, err := b.packPath(personID)
	if err != nil {
		return nil, err
	}
	return readPack(path)
}

// readPack returns the photos of the pack at path; none when there is no pack.
func readPack(path string) ([]photo, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	photos, err := decodePack(data)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return photos, nil
}

// writePack replaces the pack at path with photos (none: removes it), through path+newSuffix.
// With durable, the new pack is synced before it is renamed into place (the caller syncs the
// directory after), so a crash leaves the old pack or the new one; without, the caller syncs
// the store once for many packs. The caller holds the store's lock.
func writePack(path string, photos []photo, durable bool) error {
	if len(photos) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", path, err)
		}
		return nil
	}
	next := path[:len(path)-len(packSuffix)] + newSuffix
	if err := writeFile(next, encodePack(photos), os.O_TRUNC, durable); err != nil {
		return err
	}
	if err := os.Rename(next, path); err != nil {
		_ = os.Remove(next)
		return fmt.Errorf("write photos %s: %w", path, err)
	}
	return nil
}

// writeFile writes data to a new file at path (flag: os.O_TRUNC or os.O_EXCL), synced with
// durable. A file that could not be written whole is removed: photos outside a pack must not
// linger.
func writeFile(path string, data []byte, flag int, durable bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|flag, 0o600)
	if err != nil {
		return fmt.Errorf("write photos: %w", err)
	}
	_, err = f.Write(data)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("write photos %s: %w", path, err)
	}
	return nil
}

// changePhotos reads the person's pack, lets change edit its photos and, if it changed them,
// writes the result, under the store's lock: two writers (two faces added at once, through one
// replica or two sharing the photo directory) must not both rewrite the pack from the same old
// one, nor a purge remove it between a rewrite's read and its rename (which would bring back
// every photo the read saw). A first pack another writer is creating (<person>.pack.tmp) is
// removed: that writer then finds its file gone and comes here too; one a crash left would
// otherwise keep its photos outside any pack for as long as the person lives.
func (b *Builtin) changePhotos(personID string, durable bool, change func([]photo) ([]photo, bool)) error {
	path, err := b.packPath(personID)
	if err != nil {
		return err
	}
	unlock, err := lockStore(b.photosDir)
	if err != nil {
		return err
	}
	err = os.Remove(filepath.Join(b.photosDir, personID+tmpSuffix))
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	changed := err == nil
	if err == nil {
		var photos []photo
		if photos, err = readPack(path); err == nil {
			if photos, changed = change(photos); changed {
				err = writePack(path, photos, durable)
			}
		}
	}
	unlock()
	if err != nil || !changed || !durable {
		return err
	}
	return syncDir(b.photosDir)
}

// putPhotos stores photos of a person, replacing those with the same keys. A person's first
// photos (a registration: nearly every write) are written and synced outside the store's lock
// and renamed into place under it, so registrations through every replica proceed side by
// side; a pack that exists already is rewritten under the lock.
func (b *Builtin) putPhotos(personID string, add []photo, durable bool) error {
	if len(add) == 0 {
		return nil
	}
	for _, p := range add {
		if err := domain.ValidateID(p.name); err != nil {
			return fmt.Errorf("photo of %s: key %q: %w", personID, p.name, err)
		}
	}
	if durable {
		created, err := b.createPack(personID, add)
		if err != nil || created {
			return err
		}
	}
	return b.changePhotos(personID, durable, func(photos []photo) ([]photo, bool) {
		for _, p := range add {
			if i := slices.IndexFunc(photos, func(q photo) bool { return q.is(p.name) }); i >= 0 {
				photos[i] = p
			} else {
				photos = append(photos, p)
			}
		}
		return photos, true
	})
}

// createPack stores add as the person's pack if the person has none. False: it has one, or
// another writer is creating one, or removed this one's file meanwhile; the caller then
// rewrites the pack under the lock.
func (b *Builtin) createPack(personID string, add []photo) (bool, error) {
	path, err := b.packPath(personID)
	if err != nil {
		return false, err
	}
	if _, err := os.Lstat(path); err == nil {
		return false, nil // a face added later: the pack is rewritten
	}
	tmp := filepath.Join(b.photosDir, personID+tmpSuffix)
	if err := writeFile(tmp, encodePack(add), os.O_EXCL, true); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil // another writer's, or one a crash left: changePhotos removes it
		}
		return false, err
	}
	unlock, err := lockStore(b.photosDir)
	if err != nil {
		_ = os.Remove(tmp)
		return false, err
	}
	_, err = os.Lstat(path)
	created := errors.Is(err, fs.ErrNotExist)
	if created {
		err = os.Rename(tmp, path)
	} else {
		err = os.Remove(tmp)
	}
	unlock()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil // a rewrite under the lock removed it first
	case err != nil:
		_ = os.Remove(tmp) // the photos must not stay outside a pack
		return false, fmt.Errorf("write photos %s: %w", path, err)
	case !created:
		return false, nil
	}
	return true, syncDir(b.photosDir)
}

// PhotoKeys lists the keys of the photos the store holds for a person, in its pack and in a
// directory an earlier version wrote.
func (b *Builtin) PhotoKeys(personID string) ([]string, error) {
	photos, err := b.packed(personID)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, p := range photos {
		keys = append(keys, p.name)
	}
	entries, err := os.ReadDir(filepath.Join(b.photosDir, personID))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("photos of %s: %w", personID, err)
	}
	for _, e := range entries {
		keys = append(keys, e.Name())
	}
	slices.Sort(keys)
	return keys, nil
}
