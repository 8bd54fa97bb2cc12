//go:build linux

package stores

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// removePhotoDirs removes each person's photo directory under root (it holds only files), then
// syncs root. It works relative to open directories: per person one openat, one getdents, an
// unlinkat per photo, one unlinkat of the directory and a close, which is what removing a
// directory of files needs and no more. Photos were the costliest step of a bulk deletion in
// system calls: os.Open and Readdirnames add a poller registration attempt and a second
// getdents that only says the end was reached, and every call resolved the whole path again.
// Anything unexpected (a subdirectory, a symbolic link, a race) falls back to os.RemoveAll.
func removePhotoDirs(root string, ids []string) error {
	rootFD, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open photo store %s: %w", root, &os.PathError{Op: "open", Path: root, Err: err})
	}
	defer unix.Close(rootFD) //nolint:errcheck // read-only descriptor
	buf := make([]byte, 8192)
	for _, id := range ids {
		if err := removeDirAt(rootFD, id, buf); err != nil {
			if err := os.RemoveAll(filepath.Join(root, id)); err != nil {
				return fmt.Errorf("purge photos of %s: %w", id, err)
			}
		}
	}
	if err := unix.Fsync(rootFD); err != nil {
		return fmt.Errorf("sync %s: %w", root, err)
	}
	return nil
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
