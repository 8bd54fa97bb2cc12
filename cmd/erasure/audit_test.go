package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/erasure-dev/erasure/internal/pgtest"
)

func pngPhoto(t *testing.T, seed int) string {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 4, 4))
	for i := range img.Pix {
		img.Pix[i] = byte(seed*7 + i)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func (s *server) createPerson(id string, seed int) {
	s.t.Helper()
	code, body := s.do(http.MethodPost, "/v1/persons", fmt.Sprintf(`{"person_id":%q,"name":"Name %s","group_ids":["g"],"permission_group_ids":["door"],"photos":[{"image_base64":%q}]}`,
		id, id, pngPhoto(s.t, seed)))
	if code != http.StatusCreated {
		s.t.Fatalf("POST /v1/persons: %d %v", code, body)
	}
}

// lastJSON decodes the last line of out.
func lastJSON(t *testing.T, out string, v any) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), v); err != nil {
		t.Fatalf("last line of output is not JSON: %v\n%s", err, out)
	}
}

func must(t *testing.T, r result, code int, what string) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", what, r.code, code, r.stdout, r.stderr)
	}
	return r
}

// TestAuditorSession is the auditor's session of docs/operations.md: export a deletion request's
// audit trail, verify it, fetch and verify its receipt offline; then an offline replay of the read
// model.
func TestAuditorSession(t *testing.T) {
	t.Parallel()
	dir, work := t.TempDir(), t.TempDir()
	env := childEnv()
	s := startServer(t, dir, env)
	s.createGroup("g", "G")
	for i, id := range []string{"p1", "p2", "p3"} {
		s.createPerson(id, i)
	}
	registered := time.Now().UTC().Format(time.RFC3339Nano)
	r := must(t, runCmd(t, env, "delete", "--server", s.base, "p1", "p2"), 0, "delete")
	var st struct {
		DeletionID string `json:"deletion_id"`
		Deleted    int    `json:"deleted"`
	}
	lastJSON(t, r.stdout, &st)
	if st.Deleted != 2 {
		t.Fatalf("delete: %s", r.stdout)
	}

	// Export the request's trail and verify it against the log.
	r = must(t, runCmd(t, env, "audit", "--server", s.base, "--request", st.DeletionID), 0, "audit --request")
	trail := filepath.Join(work, "trail.jsonl")
	if err := os.WriteFile(trail, []byte(r.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(r.stdout, "\n"); n < 12 || !strings.Contains(r.stdout, `"action":"PersonDeleted"`) || strings.Contains(r.stdout, "Name p") {
		t.Fatalf("audit trail of %s (%d lines):\n%s", st.DeletionID, n, r.stdout)
	}
	r = must(t, runCmd(t, env, "audit", "verify", "--server", s.base, "--file", trail), 0, "audit verify --file")
	if !strings.Contains(r.stdout, `"ok": true`) {
		t.Fatalf("audit verify: %s", r.stdout)
	}
	csv := must(t, runCmd(t, env, "audit", "--server", s.base, "--person", "p1", "--format", "csv"), 0, "audit --format csv")
	if !strings.HasPrefix(csv.stdout, "seq,time,event_id,actor,action,") || !strings.Contains(csv.stdout, ",PersonCreated,") {
		t.Fatalf("csv: %s", csv.stdout)
	}
	// A tampered export is caught, offline.
	tampered := filepath.Join(work, "tampered.jsonl")
	data, _ := os.ReadFile(trail)
	if err := os.WriteFile(tampered, []byte(strings.Replace(string(data), `"person_ids":["p2"]`, `"person_ids":["p9"]`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	r = must(t, runCmd(t, env, "audit", "verify", "--offline", "--file", tampered), 1, "audit verify of a tampered file")
	if !strings.Contains(r.stdout, "first_break") {
		t.Fatalf("no break reported: %s", r.stdout)
	}

	// What the registry held for p1 before its deletion; its name is erased.
	r = must(t, runCmd(t, env, "audit", "--server", s.base, "--as-of", registered, "--person", "p1"), 0, "audit --as-of")
	var then map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &then); err != nil || then["state"] != "active" || then["name_erased"] != true || then["face_count"] != 1.0 {
		t.Fatalf("as-of: %v %s", err, r.stdout)
	}

	// The receipt, verified offline with the server's public key; a changed byte fails.
	rc := must(t, runCmd(t, env, "receipt", "get", "p1", "--server", s.base), 0, "receipt get")
	key := must(t, runCmd(t, env, "receipt", "public-key", "--server", s.base), 0, "receipt public-key")
	receiptFile, keyFile := filepath.Join(work, "p1.receipt.json"), filepath.Join(work, "key.json")
	_ = os.WriteFile(receiptFile, []byte(rc.stdout), 0o600)
	_ = os.WriteFile(keyFile, []byte(key.stdout), 0o600)
	r = must(t, runCmd(t, env, "receipt", "verify", receiptFile, "--public-key", keyFile), 0, "receipt verify")
	if !strings.Contains(r.stdout, `"valid":true`) || !strings.Contains(r.stdout, st.DeletionID) {
		t.Fatalf("receipt verify: %s", r.stdout)
	}
	altered := filepath.Join(work, "altered.json")
	_ = os.WriteFile(altered, []byte(strings.Replace(rc.stdout, "purge_faces", "purge_facez", 1)), 0o600)
	must(t, runCmd(t, env, "receipt", "verify", altered), 1, "receipt verify of an altered file")

	// An offline replay: refused while the server holds the data directory, then done.
	r = must(t, runCmd(t, env, "replay", "--data", dir), 2, "replay beside the server")
	if !strings.Contains(r.stderr, "in use") {
		t.Fatalf("replay did not say the data directory is in use: %s", r.stderr)
	}
	_, before := s.do(http.MethodGet, "/v1/persons?limit=100", "")
	s.stop(syscall.SIGTERM)
	r = must(t, runCmd(t, env, "replay", "--data", dir), 0, "replay")
	var sum struct {
		Events     uint64  `json:"events"`
		Seconds    float64 `json:"seconds"`
		EventsPerS float64 `json:"events_per_s"`
		Swap       string  `json:"swap"`
	}
	lastJSON(t, r.stdout, &sum)
	if sum.Events < 15 || sum.EventsPerS <= 0 || sum.Swap != "file" {
		t.Fatalf("replay summary: %s", r.stdout)
	}
	must(t, runCmd(t, env, "replay", "--data", dir, "--projection", "audit,registry"), 0, "replay --projection")
	r = must(t, runCmd(t, env, "replay", "--data", dir, "--projection", "nosuch"), 2, "replay --projection nosuch")
	if !strings.Contains(r.stderr, "unknown projection") {
		t.Fatalf("replay --projection nosuch: %s", r.stderr)
	}
	s = startServer(t, dir, env)
	if _, after := s.do(http.MethodGet, "/v1/persons?limit=100", ""); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("persons after replay %v, before %v", after, before)
	}
	must(t, runCmd(t, env, "audit", "verify", "--server", s.base), 0, "audit verify after replay")
	s.stop(syscall.SIGTERM)
}

// TestReplayBesideRunningServer rebuilds a PostgreSQL read model while a server keeps answering
// from it: the replay reaches the log through the server's NATS listener.
func TestReplayBesideRunningServer(t *testing.T) {
	t.Parallel()
	dsn := pgtest.New(t)
	natsAddr := freeAddr(t)
	env := childEnv("DATABASE_URL="+dsn, "ERASURE_NATS_LISTEN="+natsAddr)
	s := startServer(t, t.TempDir(), env)
	s.createGroup("g", "G")
	for i := range 5 {
		s.createPerson(fmt.Sprintf("q%d", i), i)
	}
	_, before := s.do(http.MethodGet, "/v1/persons?limit=100", "")
	replayEnv := childEnv("DATABASE_URL="+dsn, "NATS_URL=nats://"+natsAddr)
	r := must(t, runCmd(t, replayEnv, "replay", "--data", t.TempDir()), 0, "replay beside the server")
	var sum struct {
		Swap string `json:"swap"`
	}
	lastJSON(t, r.stdout, &sum)
	if sum.Swap != "schema" {
		t.Fatalf("replay summary: %s", r.stdout)
	}
	if _, after := s.do(http.MethodGet, "/v1/persons?limit=100", ""); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("persons after replay %v, before %v", after, before)
	}
	// The server goes on writing into the swapped-in model and reads its writes.
	s.createPerson("late", 9)
	if code, p := s.do(http.MethodGet, "/v1/persons/late", ""); code != http.StatusOK {
		t.Fatalf("GET /v1/persons/late after replay: %d %v", code, p)
	}
	s.stop(syscall.SIGTERM)
}

func TestAuditCommandsHelpAndMisuse(t *testing.T) {
	t.Parallel()
	env := childEnv()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"replay", "--help"}, 0, "-projection"},
		{[]string{"audit", "--help"}, 0, "-as-of"},
		{[]string{"audit", "verify", "--help"}, 0, "-file"},
		{[]string{"receipt", "--help"}, 0, "receipt verify FILE"},
		{[]string{"receipt", "verify", "--help"}, 0, "-public-key"},
		{[]string{"receipt"}, 2, "subcommand"},
		{[]string{"receipt", "verify"}, 2, "one receipt file"},
		{[]string{"receipt", "verify", "/nonexistent"}, 2, "no such file"},
		{[]string{"audit", "--as-of", "2025-01-01"}, 2, "--as-of needs --person"},
		{[]string{"audit", "--format", "xml", "--server", "http://127.0.0.1:1"}, 2, "jsonl or csv"},
		{[]string{"audit", "--server", "http://127.0.0.1:1"}, 2, "is `erasure serve` running"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			r := runCmd(t, env, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s%s", r.code, tc.code, tc.want, r.stdout, r.stderr)
			}
		})
	}
}
