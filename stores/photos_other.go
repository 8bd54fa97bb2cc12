//go:build !linux

package stores

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// removePhotoDirs removes each person's photo directory under root (it holds only files), then
// syncs root. Linux has a version in fewer system calls (photos_linux.go).
func removePhotoDirs(root string, ids []string) error {
	for _, id := range ids {
		if err := removePhotoDir(filepath.Join(root, id)); err != nil {
			return fmt.Errorf("purge photos of %s: %w", id, err)
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
