package main

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestKillDuringBulkDeletion kills `erasure serve` with SIGKILL in the middle of a bulk deletion,
// restarts it, and requires every item to end deleted with nothing left on disk.
func TestKillDuringBulkDeletion(t *testing.T) {
	t.Parallel()
	n := 300
	if os.Getenv("ERASURE_SOAK") != "" {
		n = 2000
	}
	dir := t.TempDir()
	// A short ack wait: the killed server's unacknowledged steps come back quickly.
	env := childEnv("ERASURE_SAGA_ACK_WAIT=2s")
	s := startServer(t, dir, env)

	ids := seedPersons(t, s, "crash", n)

	id := requestDeletion(t, s, ids)

	// Kill once some, but not all, persons are deleted.
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, d := s.do(http.MethodGet, "/v1/deletions/"+id, "")
		deleted := d["deleted"].(float64)
		if deleted > 0 && deleted < float64(n) {
			break
		}
		if deleted >= float64(n) {
			t.Logf("the deletion finished before the kill; the restart still has to hold")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no progress: %v", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.kill()

	s = startServer(t, dir, env)
	deadline = time.Now().Add(120 * time.Second)
	var d map[string]any
	for {
		_, d = s.do(http.MethodGet, "/v1/deletions/"+id, "")
		if d["state"] == "completed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deletion not completed after restart: %v\nthe restarted server's log, its end:\n%s", d, tail(s.stderr.String(), 16<<10))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if d["deleted"] != float64(n) || d["failed"] != 0.0 {
		t.Fatalf("want %d deleted and none failed, got %v", n, d)
	}
	s.stop(os.Interrupt)
	requireOneEndPerPerson(t, dir, ids)

	res := runCmd(t, childEnv(), "verify", "--data", dir)
	if res.code != 0 {
		t.Fatalf("verify exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	if left := photosLeft(t, filepath.Join(dir, "photos")); len(left) > 0 {
		t.Fatalf("left behind in the photo store: %v", left)
	}
}

// photosLeft lists what the photo store at dir holds, its lock file aside (it holds nothing).
func photosLeft(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		if e.Name() != ".lock" {
			left = append(left, e.Name())
		}
	}
	return left
}
