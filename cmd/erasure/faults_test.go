package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"
	_ "modernc.org/sqlite"

	"github.com/erasure-dev/erasure/internal/pgtest"
	"github.com/erasure-dev/erasure/internal/sqldb"
)

// Fault tests: real `erasure serve` processes on loopback, broken on purpose mid-bulk. Each ends
// by asserting that every accepted ID has exactly one terminal outcome, that the downstream
// store (the test's own, an HTTP target that counts its effects) deleted each person exactly
// once, that `erasure verify` finds no remnant, and that a fresh replay equals the live read
// model.

// faultSize is the persons of a fault test's bulk: full under ERASURE_FAULT_FULL, smaller in CI
// (the assertions stay the same).
func faultSize(full, ci, quick int) int {
	switch {
	case os.Getenv("ERASURE_FAULT_FULL") != "":
		return full
	case os.Getenv("ERASURE_SOAK") != "":
		return ci
	}
	return quick
}

// countingStore is the downstream store of a fault test: an HTTP target holding the persons,
// counting each effective deletion (present, then gone) and every call. slow, when set, says
// whether a call is to hang past the caller's timeout; the call may or may not have deleted
// by then, as a real store's timed-out call.
type countingStore struct {
	mu      sync.Mutex
	present map[string]bool
	effects map[string]int
	calls   int
	hung    int
	slow    func() (hang, effectFirst bool)
	srv     *httptest.Server
}

func newCountingStore(t *testing.T, ids []string) *countingStore {
	c := &countingStore{present: map[string]bool{}, effects: map[string]int{}}
	for _, id := range ids {
		c.present[id] = true
	}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *countingStore) serve(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/people/")
	c.mu.Lock()
	c.calls++
	hang, effectFirst := false, false
	if c.slow != nil {
		hang, effectFirst = c.slow()
	}
	if hang {
		c.hung++
	}
	if !hang || effectFirst {
		if c.present[id] {
			delete(c.present, id)
			c.effects[id]++
		}
	}
	c.mu.Unlock()
	if hang {
		time.Sleep(1500 * time.Millisecond) // the target's timeout is 500ms
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// targetsFile writes a targets file naming the store.
func (c *countingStore) targetsFile(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "targets.yaml")
	yaml := fmt.Sprintf("targets:\n  - name: store\n    kind: http\n    url: %s/people/{person_id}\n    timeout: 500ms\n", c.srv.URL)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// requireExactlyOnce asserts that the store deleted every person exactly once and nobody else.
func (c *countingStore) requireExactlyOnce(t *testing.T, ids []string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.present) != 0 {
		t.Fatalf("%d persons left in the downstream store", len(c.present))
	}
	for _, id := range ids {
		if c.effects[id] != 1 {
			t.Fatalf("%s deleted %d times downstream", id, c.effects[id])
		}
	}
	if len(c.effects) != len(ids) {
		t.Fatalf("%d persons deleted downstream, %d requested", len(c.effects), len(ids))
	}
	t.Logf("downstream store: %d persons deleted once each in %d calls (%d hung past the timeout)", len(ids), c.calls, c.hung)
}

// seedPersons registers n persons (a photo and a permission group each) through the API.
func seedPersons(t *testing.T, s *server, prefix string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%06d", prefix, i)
	}
	b64 := pngPhoto(t, 3)
	work := make(chan string)
	errs := make(chan string, n)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				body := fmt.Sprintf(`{"person_id":%q,"name":"Fault Test","permission_group_ids":["gate"],"photos":[{"image_base64":%q}]}`, id, b64)
				// Eight writers bind one permission group: a 503 BUSY (contention on it) is
				// retried, as its Retry-After asks of any client.
				status, answer := s.do(http.MethodPost, "/v1/persons", body)
				for try := 1; status == http.StatusServiceUnavailable && try < 20; try++ {
					time.Sleep(time.Duration(50*try) * time.Millisecond)
					status, answer = s.do(http.MethodPost, "/v1/persons", body)
				}
				if status != http.StatusCreated {
					errs <- fmt.Sprintf("%s: %d %v", id, status, answer)
				}
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	return ids
}

// requestDeletion deletes the persons in one streamed bulk request and returns its id.
func requestDeletion(t *testing.T, s *server, ids []string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.base+"/v1/deletions", strings.NewReader(strings.Join(ids, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/plain")
	status, body := s.doRequest(req)
	if status != http.StatusAccepted {
		t.Fatalf("deletion: %d %v", status, body)
	}
	return body["deletion_id"].(string)
}

// deletionCounts returns a request's counters, or nil while the server cannot answer.
func deletionCounts(s *server, id string) map[string]any {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(s.base + "/v1/deletions/" + id)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	var d map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		return nil
	}
	return d
}

// waitCompleted waits until the request is completed and returns how long that took.
func waitCompleted(t *testing.T, s *server, id string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if d := deletionCounts(s, id); d != nil && d["state"] == "completed" {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("deletion %s not completed within %v: %v\nstderr tail:\n%s", id, timeout, deletionCounts(s, id), tail(s.stderr.String(), 3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// requireAllDeleted asserts every ID of the request has one terminal outcome, deleted.
func requireAllDeleted(t *testing.T, s *server, id string, ids []string) {
	t.Helper()
	seen := map[string]string{}
	after := ""
	for {
		path := "/v1/deletions/" + id + "/items?limit=1000"
		if after != "" {
			path += "&after=" + after
		}
		status, page := s.do(http.MethodGet, path, "")
		if status != http.StatusOK {
			t.Fatalf("items: %d %v", status, page)
		}
		for _, it := range page["items"].([]any) {
			item := it.(map[string]any)
			pid := item["person_id"].(string)
			if prev, dup := seen[pid]; dup {
				t.Fatalf("%s listed twice (%s, %s)", pid, prev, item["state"])
			}
			seen[pid] = item["state"].(string)
		}
		next, _ := page["next"].(string)
		if next == "" {
			break
		}
		after = next
	}
	if len(seen) != len(ids) {
		t.Fatalf("%d items, %d IDs requested", len(seen), len(ids))
	}
	for _, pid := range ids {
		if seen[pid] != "deleted" {
			t.Fatalf("%s ended %q", pid, seen[pid])
		}
	}
	d := deletionCounts(s, id)
	if d["deleted"] != float64(len(ids)) || d["failed"] != 0.0 || d["pending"] != 0.0 {
		t.Fatalf("counters %v for %d IDs", d, len(ids))
	}
}

// dumpReadModel returns every row of every read-model table (but the runner's own), sorted.
func dumpReadModel(t *testing.T, driver, dsn string) map[string][]string {
	t.Helper()
	db, err := sqlx.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables []string
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if driver == "postgres" {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	}
	if err := db.Select(&tables, q); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, table := range tables {
		if strings.HasPrefix(table, "goose") || strings.HasPrefix(table, "projection_") {
			continue
		}
		rows, err := db.Queryx("SELECT * FROM " + table)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals, err := rows.SliceScan()
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					vals[i] = string(b)
				}
				if tm, ok := v.(time.Time); ok {
					vals[i] = tm.UTC().Format(time.RFC3339Nano)
				}
			}
			out[table] = append(out[table], fmt.Sprint(vals...))
		}
		rows.Close()
		sort.Strings(out[table])
	}
	return out
}

// requireReplayEqualsLive rebuilds the stopped embedded server's read model from its log with
// `erasure replay` and compares it with the live one, row for row.
func requireReplayEqualsLive(t *testing.T, dir string) {
	t.Helper()
	dsn := "file:" + filepath.Join(dir, "readmodel.db") + "?mode=ro"
	before := dumpReadModel(t, "sqlite", dsn)
	must(t, runCmd(t, childEnv(), "replay", "--data", dir), 0, "replay")
	after := dumpReadModel(t, "sqlite", dsn)
	for table, rows := range before {
		if fmt.Sprint(rows) != fmt.Sprint(after[table]) {
			t.Fatalf("table %s: %d live rows, %d replayed, or they differ", table, len(rows), len(after[table]))
		}
	}
	if len(before) != len(after) {
		t.Fatalf("%d tables live, %d replayed", len(before), len(after))
	}
}

// waitSomeDeleted waits until the request has deleted its first person: the bulk is under way.
func waitSomeDeleted(t *testing.T, s *server, id string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if d := deletionCounts(s, id); d != nil && d["deleted"].(float64) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("deletion %s made no progress", id)
		}
	}
}

// requireRetryLater posts a registration and requires 503 with Retry-After.
func requireRetryLater(t *testing.T, s *server, body, when string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.base+"/v1/persons", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 90 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a write %s: %d, Retry-After %q; want 503 with Retry-After", when, resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// requirePostgresReplayEqualsLive rebuilds a PostgreSQL read model with `erasure replay` (env
// names the database and the log) and compares it with the live one, row for row.
func requirePostgresReplayEqualsLive(t *testing.T, env []string, dsn, dir string) {
	t.Helper()
	rm := dsn + "&search_path=" + sqldb.SchemaReadModel
	before := dumpReadModel(t, "postgres", rm)
	must(t, runCmd(t, env, "replay", "--data", dir), 0, "replay")
	if after := dumpReadModel(t, "postgres", rm); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("the replayed read model differs from the live one")
	}
}

// requireCleanEnd makes the assertions every embedded fault test ends with, and stops s.
func requireCleanEnd(t *testing.T, s *server, dir, id string, ids []string, store *countingStore) {
	t.Helper()
	requireAllDeleted(t, s, id, ids)
	store.requireExactlyOnce(t, ids)
	s.stop(os.Interrupt)
	must(t, runCmd(t, childEnv(), "verify", "--data", dir), 0, "verify finds no remnant")
	requireReplayEqualsLive(t, dir)
}

// 1. Embedded mode: kill -9 of `erasure serve` at random moments during a bulk deletion, five
// times; every restart goes on where the log says.
func TestFaultKillNineFiveTimes(t *testing.T) {
	t.Parallel()
	n := faultSize(20_000, 2_000, 300)
	dir := t.TempDir()
	s := startServer(t, dir, childEnv())
	ids := seedPersons(t, s, "k9", n)
	s.stop(os.Interrupt)
	store := newCountingStore(t, ids)
	// A short ack wait: a killed server's unacknowledged steps come back quickly.
	env := childEnv("ERASURE_SAGA_ACK_WAIT=2s", "ERASURE_TARGETS="+store.targetsFile(t))
	s = startServer(t, dir, env)
	id := requestDeletion(t, s, ids)
	start := time.Now()
	for kill := 1; kill <= 5; kill++ {
		// Spread over the bulk: the k-th kill once about k/6 of it is done (or after a while),
		// at a random moment after that.
		for wait := time.Now(); time.Since(wait) < 20*time.Second; time.Sleep(20 * time.Millisecond) {
			if d := deletionCounts(s, id); d != nil && d["deleted"].(float64) >= float64(kill*n/6) {
				break
			}
		}
		time.Sleep(time.Duration(rand.IntN(400)) * time.Millisecond)
		d := deletionCounts(s, id)
		s.kill()
		t.Logf("kill %d at %v: %v", kill, time.Since(start).Round(time.Millisecond), d)
		restart := time.Now()
		s = startServer(t, dir, env)
		t.Logf("restart %d ready after %v", kill, time.Since(restart).Round(time.Millisecond))
	}
	// And a graceful stop under load: SIGTERM releases the in-flight steps within the bound.
	time.Sleep(300 * time.Millisecond)
	t.Logf("SIGTERM at %v", deletionCounts(s, id))
	s.stop(syscall.SIGTERM)
	s = startServer(t, dir, env)
	took := waitCompleted(t, s, id, 5*time.Minute)
	t.Logf("completed %v after the last restart", took.Round(time.Millisecond))
	requireCleanEnd(t, s, dir, id, ids, store)
}

// 4. A downstream store that times out for 30% of calls for a while (half of those after
// deleting, as a real store's lost answer): the retries delete every person once.
func TestFaultDownstreamTimeouts(t *testing.T) {
	t.Parallel()
	n := faultSize(5_000, 1_000, 200)
	window := 60 * time.Second
	if os.Getenv("ERASURE_FAULT_FULL") == "" {
		window = 15 * time.Second
	}
	dir := t.TempDir()
	s := startServer(t, dir, childEnv())
	ids := seedPersons(t, s, "to", n)
	s.stop(os.Interrupt)
	store := newCountingStore(t, ids)
	var until time.Time
	store.slow = func() (bool, bool) {
		if time.Now().After(until) {
			return false, false
		}
		return rand.Float64() < 0.3, rand.IntN(2) == 0
	}
	s = startServer(t, dir, childEnv("ERASURE_TARGETS="+store.targetsFile(t)))
	store.mu.Lock()
	until = time.Now().Add(window)
	store.mu.Unlock()
	id := requestDeletion(t, s, ids)
	took := waitCompleted(t, s, id, window+5*time.Minute)
	t.Logf("completed after %v (timeouts for the first %v)", took.Round(time.Millisecond), window)
	requireCleanEnd(t, s, dir, id, ids, store)
}

// 3. PostgreSQL unavailable for 15 s mid-bulk (a server of the test's own, stopped at once and
// started again): requests meanwhile get 503 with Retry-After, nothing accepted is lost, the
// saga steps wait for the database instead of failing items, and the deletion completes once
// it is back.
func TestFaultPostgresOutage(t *testing.T) {
	t.Parallel()
	n := faultSize(5_000, 1_000, 200)
	pg := pgtest.Own(t)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("pg-%06d", i)
	}
	store := newCountingStore(t, ids)
	dir := t.TempDir()
	env := childEnv("DATABASE_URL="+pg.URL(), "ERASURE_TARGETS="+store.targetsFile(t), "ERASURE_SAGA_ACK_WAIT=5s")
	s := startServer(t, dir, env)
	seedPersons(t, s, "pg", n)
	id := requestDeletion(t, s, ids)
	waitSomeDeleted(t, s, id)
	pg.Kill()
	down := time.Now()
	// While the database is down, a write is refused as retryable, not half-done.
	requireRetryLater(t, s, `{"person_id":"during-outage","name":"N"}`, "during the outage")
	time.Sleep(15*time.Second - time.Since(down))
	pg.Start()
	took := waitCompleted(t, s, id, 5*time.Minute)
	d := deletionCounts(s, id)
	t.Logf("completed %v after PostgreSQL came back: %v", took.Round(time.Millisecond), d)
	if d["failed"] != 0.0 {
		t.Fatalf("%v items failed over the outage: steps must wait for the database, not give up", d["failed"])
	}
	requireAllDeleted(t, s, id, ids)
	store.requireExactlyOnce(t, ids)
	if code, _ := s.do(http.MethodGet, "/v1/persons/during-outage", ""); code != http.StatusNotFound {
		t.Fatalf("the refused write was half-done: GET answers %d", code)
	}
	s.stop(os.Interrupt)
	must(t, runCmd(t, childEnv("DATABASE_URL="+pg.URL()), "verify", "--data", dir), 0, "verify finds no remnant")
	requirePostgresReplayEqualsLive(t, childEnv("DATABASE_URL="+pg.URL()), pg.URL(), dir)
}
