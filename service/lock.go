package service

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ErrDataLocked means another erasure process holds the data directory.
var ErrDataLocked = errors.New("data directory is in use by another erasure process")

// lockData takes an exclusive flock on dir/LOCK. The kernel drops it when the process dies, so a
// killed server leaves nothing stale.
func lockData(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s): stop the running server first", ErrDataLocked, dir)
		}
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}
