//go:build unix

package stores

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// lockStore takes the photo store's lock, an exclusive flock of the photo directory, held by
// whoever rewrites a pack: goroutines of this process and other replicas sharing the directory
// alike (each call opens the directory anew, and a flock excludes other open descriptions).
func lockStore(dir string) (unlock func(), err error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("lock photo store: %w", &os.PathError{Op: "open", Path: dir, Err: err})
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("lock photo store: %w", &os.PathError{Op: "flock", Path: dir, Err: err})
	}
	return func() { _ = unix.Close(fd) }, nil // closing the only descriptor releases the lock
}
