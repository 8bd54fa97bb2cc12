package service

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// warnLooseDataDir logs a warning for the data directory, the photo directory, and every file
// directly in the data directory that users other than erasure's own may read or enter. erasure
// creates its files 0600 and its directories 0700, but a directory that existed before (the
// Dockerfile's `mkdir -p /data` is 0755) keeps its mode, and files an older version created keep
// theirs (0644): the key store, webhook secrets and read model would be readable by anyone on the
// host. It warns rather than changes modes that the operator set.
func warnLooseDataDir(logger *slog.Logger, dataDir, photoDir string) {
	for _, dir := range []string{dataDir, photoDir} {
		if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o077 != 0 {
			logger.Warn(fmt.Sprintf("directory under --data is open to other users; erasure creates its files 0600, but tighten it: chmod 700 %s", dir),
				"path", dir, "mode", fmt.Sprintf("%04o", fi.Mode().Perm()))
		}
	}
	entries, err := os.ReadDir(dataDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		path := filepath.Join(dataDir, e.Name())
		logger.Warn(fmt.Sprintf("file under --data is readable by other users (created by an older erasure?): chmod 600 %s", path),
			"path", path, "mode", fmt.Sprintf("%04o", fi.Mode().Perm()))
	}
}
