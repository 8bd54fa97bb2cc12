//go:build linux

package stores

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/erasure-dev/erasure/events"
)

// removePhotos removes each person's photos under root, then syncs root. It works relative to
// the open root: an unlinkat of each of the person's pack files (packFiles: a name lookup for
// each that is not there), and an fstatat for a directory an earlier version wrote (one photo a
// file). Such a directory is removed with the photo keys the person is expected to
// hold, an unlinkat each and one of the directory; without them, or when the directory holds
// more, with one openat, one getdents, an unlinkat per file, one of the directory and a close.
// Anything unexpected (a subdirectory, a symbolic link, a race) falls back to os.RemoveAll.
func removePhotos(root string, photos []events.PersonPhotos) error {
	rootFD, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open photo store %s: %w", root, &os.PathError{Op: "open", Path: root, Err: err})
	}
	defer unix.Close(rootFD) //nolint:errcheck // read-only descriptor
	buf := make([]byte, 8192)
	for _, p := range photos {
		for _, name := range packFiles(p.PersonID) {
			if err := unix.Unlinkat(rootFD, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("purge photos of %s: %w", p.PersonID, &os.PathError{Op: "unlink", Path: filepath.Join(root, name), Err: err})
			}
		}
		if err := removeExpectedAt(rootFD, p, buf); err != nil {
			if err := os.RemoveAll(filepath.Join(root, p.PersonID)); err != nil {
				return fmt.Errorf("purge photos of %s: %w", p.PersonID, err)
			}
		}
	}
	if err := unix.Fsync(rootFD); err != nil {
		return fmt.Errorf("sync %s: %w", root, err)
	}
	return nil
}

// errNotADirectory: a person's photo path is something else (the fallback removes it whole).
var errNotADirectory = errors.New("not a directory")

// removeExpectedAt removes the person's photo directory, as an earlier version wrote it, under
// dirFD, unlinking the expected photos first and listing the directory only if something else
// is left in it. The fstatat finds most persons without a directory, and keeps "person/key"
// from resolving through a symbolic link named like the person (the store's directory is the
// server's own, mode 0700: nothing swaps it meanwhile).
func removeExpectedAt(dirFD int, p events.PersonPhotos, buf []byte) error {
	if len(p.PhotoKeys) == 0 {
		return removeDirAt(dirFD, p.PersonID, buf)
	}
	var st unix.Stat_t
	err := unix.Fstatat(dirFD, p.PersonID, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return errNotADirectory
	}
	for _, k := range p.PhotoKeys {
		if err := unix.Unlinkat(dirFD, p.PersonID+"/"+k, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return err
		}
	}
	err = unix.Unlinkat(dirFD, p.PersonID, unix.AT_REMOVEDIR)
	switch {
	case err == nil || errors.Is(err, unix.ENOENT):
		return nil
	case errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST):
		return removeDirAt(dirFD, p.PersonID, buf) // more than the expected photos
	}
	return err
}

// removeDirAt removes the directory name under dirFD and the files in it. A directory whose
// entries do not fit one read is read again after the first ones are gone: the directory's
// removal fails until it is empty.
func removeDirAt(dirFD int, name string, buf []byte) error {
	fd, err := unix.Openat(dirFD, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil // nothing stored, or removed by an earlier attempt
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd) //nolint:errcheck // read-only descriptor
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil {
			return err
		}
		_, _, names := unix.ParseDirent(buf[:n], -1, nil) // without "." and ".."
		for _, f := range names {
			if err := unix.Unlinkat(fd, f, 0); err != nil && !errors.Is(err, unix.ENOENT) {
				return err
			}
		}
		err = unix.Unlinkat(dirFD, name, unix.AT_REMOVEDIR)
		switch {
		case err == nil || errors.Is(err, unix.ENOENT):
			return nil
		case n == 0 || !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EEXIST):
			return err // read to the end and still not empty, or another failure
		}
	}
}
