//go:build !unix

package stores

import "sync"

var storeLock sync.Mutex

// lockStore serializes pack rewrites within this process; without flock, replicas must not
// share a photo directory on this system.
func lockStore(string) (unlock func(), err error) {
	storeLock.Lock()
	return storeLock.Unlock, nil
}
