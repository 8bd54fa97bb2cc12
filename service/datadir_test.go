package service_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	"image/png"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv"
	"github.com/erasure-dev/erasure/service"
)

// logBuffer is a log destination safe for the service's goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// requirePrivate fails unless every file under dir is 0600 and every directory 0700 (dir itself
// excepted: it is the operator's), and returns the names it saw.
func requirePrivate(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		fi, err := d.Info()
		if os.IsNotExist(err) {
			return nil // a file SQLite or JetStream removed as the walk went
		}
		require.NoError(t, err)
		want := os.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700
		}
		assert.Equal(t, want, fi.Mode().Perm(), "%s is %v", path, fi.Mode().Perm())
		names = append(names, filepath.Base(path))
		return nil
	}))
	return names
}

// Files under --data hold the master key, the key store, webhook secrets and photos: each is
// created 0600 (directories 0700) even in an existing directory that others can read, as the
// Dockerfile's `mkdir -p /data` makes, and the server warns about that directory at start. The
// SQLite write-ahead files, the photos and a read model swapped in by a replay included.
func TestFilesUnderTheDataDirectoryArePrivate(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.Chmod(dir, 0o755)) // whatever the umask
	cfg := testenv.Config(t, "sqlite")
	cfg.DataDir = dir
	var logs logBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))

	ctx := context.Background()
	svc, err := service.Open(ctx, cfg, logger)
	require.NoError(t, err)
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, svc.WaitCaughtUp(waitCtx))
	srv := httptest.NewServer(svc.Handler())
	var img bytes.Buffer
	require.NoError(t, png.Encode(&img, image.NewGray(image.Rect(0, 0, 4, 4))))
	body := fmt.Sprintf(`{"person_id":"p1","name":"Li Lei","photos":[{"image_base64":%q}]}`, base64.StdEncoding.EncodeToString(img.Bytes()))
	resp, err := http.Post(srv.URL+"/v1/persons", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	resp, err = http.Post(srv.URL+"/v1/webhooks", "application/json", strings.NewReader(`{"url":"https://93.184.216.34/hook"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)

	// While it runs: the databases with their -wal and -shm files, the keys, the photo.
	names := requirePrivate(t, dir)
	for _, want := range []string{"readmodel.db", "readmodel.db-wal", "readmodel.db-shm", "keys.db", "keys.db-wal",
		"stores.db", "stores.db-wal", "LOCK", "photos", "jetstream"} {
		require.Contains(t, names, want)
	}
	require.Contains(t, names, "p1.pack", "the photo pack is among the files checked")
	warning := ""
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, dir) {
			warning = line
		}
	}
	require.Contains(t, warning, "chmod 700 "+dir, "the start warns about the loose data directory and says how to fix it:\n%s", logs.String())
	srv.Close()
	svc.Close()

	// A replay builds a new read model beside the live one and renames it over readmodel.db.
	_, err = service.Replay(ctx, cfg, logger, nil)
	require.NoError(t, err)
	requirePrivate(t, dir)

	// Once the directory is tightened, no warning.
	require.NoError(t, os.Chmod(dir, 0o700))
	logs = logBuffer{}
	svc, err = service.Open(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	svc.Close()
	require.NotContains(t, logs.String(), "chmod")
}

// TestStartRemovesLeftoverRebuilds: a rebuild's fresh file that a crash left in the data
// directory (a copy of the read model, rows of persons deleted since among them) is removed
// when a server next takes the directory; the live read model is not.
func TestStartRemovesLeftoverRebuilds(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.Mkdir(dir, 0o700))
	leftovers := []string{"readmodel.replay-0123456789ab.db", "readmodel.replay-0123456789ab.db-wal", "readmodel.replay-0123456789ab.db-journal"}
	for _, name := range leftovers {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("a deleted person's row"), 0o600))
	}
	cfg := testenv.Config(t, "sqlite")
	cfg.DataDir = dir
	svc, err := service.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer svc.Close()
	for _, name := range leftovers {
		require.NoFileExists(t, filepath.Join(dir, name))
	}
	require.FileExists(t, filepath.Join(dir, "readmodel.db"))
}
