//go:build !linux

package stores

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/erasure-dev/erasure/events"
)

// removePhotos removes each person's photo pack, a temporary pack an interrupted write left, and
// a photo directory an earlier version wrote under root, then syncs root. Linux has a version
// in fewer system calls (photos_linux.go), which also uses the expected photo keys.
func removePhotos(root string, photos []events.PersonPhotos) error {
	for _, p := range photos {
		for _, name := range packFiles(p.PersonID) {
			if err := os.Remove(filepath.Join(root, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("purge photos of %s: %w", p.PersonID, err)
			}
		}
		if err := removePhotoDir(filepath.Join(root, p.PersonID)); err != nil {
			return fmt.Errorf("purge photos of %s: %w", p.PersonID, err)
		}
	}
	return syncDir(root)
}

// removePhotoDir removes a person's photo directory: open, list, unlink each file, close, rmdir.
// Anything unexpected (a subdirectory, a race) falls back to os.RemoveAll.
func removePhotoDir(dir string) error {
	d, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return os.RemoveAll(dir)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return os.RemoveAll(dir)
	}
	for _, n := range names {
		if err := syscall.Unlink(filepath.Join(dir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return os.RemoveAll(dir)
		}
	}
	if err := syscall.Rmdir(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return os.RemoveAll(dir)
	}
	return nil
}
