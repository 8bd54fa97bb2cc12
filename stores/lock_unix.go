//go:build unix

package stores

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// lockFile is the photo store's lock file. Its name has a dot, so it is no person's.
const lockFile = ".lock"

// storeLock orders this process's writers before they take the file's lock: on a file system
// that emulates flock with byte-range locks (Linux NFS), two descriptors of one process do not
// exclude each other.
var storeLock sync.Mutex

// lockStore takes the photo store's lock: an exclusive flock of a regular file in the photo
// directory, opened for writing (NFS's emulation needs it), held by whoever rewrites or
// removes packs, in this process and in other replicas sharing the directory.
func lockStore(dir string) (unlock func(), err error) {
	storeLock.Lock()
	path := filepath.Join(dir, lockFile)
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		storeLock.Unlock()
		return nil, fmt.Errorf("lock photo store: %w", &os.PathError{Op: "open", Path: path, Err: err})
	}
	for {
		if err = unix.Flock(fd, unix.LOCK_EX); err != unix.EINTR {
			break
		}
	}
	if err != nil {
		_ = unix.Close(fd)
		storeLock.Unlock()
		return nil, fmt.Errorf("lock photo store: %w", &os.PathError{Op: "flock", Path: path, Err: err})
	}
	return func() {
		_ = unix.Close(fd) // closing the only descriptor releases the lock
		storeLock.Unlock()
	}, nil
}
