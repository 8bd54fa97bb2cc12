package native_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv"
	"github.com/erasure-dev/erasure/sagas"
	"github.com/erasure-dev/erasure/service"
)

// downstream is an external HTTP target (kind http, DELETE /persons/{person_id}) that refuses
// the persons a test names with 403 (permanent) and, while held, keeps every call waiting.
type downstream struct {
	mu     sync.Mutex
	refuse map[string]bool
	hold   chan struct{} // nil: answer at once
	calls  int
}

func (d *downstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/persons/")
	d.mu.Lock()
	d.calls++
	refused, hold := d.refuse[id], d.hold
	d.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	if refused {
		http.Error(w, "person "+id+" is locked", http.StatusForbidden)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (d *downstream) set(refuse map[string]bool, hold chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.refuse, d.hold = refuse, hold
}

func (d *downstream) callCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls
}

// startWithDownstreams starts erasure with the two downstreams as targets edge-1 and edge-2.
func startWithDownstreams(t *testing.T, dialect string, edge1, edge2 *downstream) client {
	var urls []string
	for _, d := range []*downstream{edge1, edge2} {
		srv := httptest.NewServer(d)
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	cfg := testenv.Config(t, dialect)
	cfg.TargetsFile = filepath.Join(t.TempDir(), "targets.yaml")
	require.NoError(t, os.WriteFile(cfg.TargetsFile, []byte(fmt.Sprintf(`
targets:
  - name: edge-1
    kind: http
    url: %s/persons/{person_id}
  - name: edge-2
    kind: http
    url: %s/persons/{person_id}
`, urls[0], urls[1])), 0o600))
	env := testenv.Start(t, cfg, service.WithTargetRetry(sagas.Retry{Attempts: 1, Initial: time.Millisecond, Max: time.Millisecond}))
	return client{t, env.HTTP.URL}
}

// itemIDs returns a page's person IDs and its next cursor ("" on the last page).
func (c client) itemIDs(path string) ([]string, string) {
	c.t.Helper()
	status, body := c.get(path)
	require.Equal(c.t, http.StatusOK, status, body)
	ids := []string{}
	for _, it := range body["items"].([]any) {
		ids = append(ids, it.(map[string]any)["person_id"].(string))
	}
	next, _ := body["next"].(string)
	return ids, next
}

// targetFigures returns GET /v1/targets' entries by name, and the names in their order.
func (c client) targetFigures() (map[string]map[string]any, []string) {
	c.t.Helper()
	status, body := c.get("/v1/targets")
	require.Equal(c.t, http.StatusOK, status, body)
	byName := map[string]map[string]any{}
	var names []string
	for _, x := range body["targets"].([]any) {
		m := x.(map[string]any)
		byName[m["name"].(string)] = m
		names = append(names, m["name"].(string))
	}
	return byName, names
}

// The items of a request filter by error code and by the external target that refused them,
// alone, together and with the state, and page through the filtered list.
func TestDeletionItemsFilterByCodeAndTarget(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		edge1, edge2 := &downstream{}, &downstream{}
		edge2.set(map[string]bool{"r1": true, "r2": true, "r3": true}, nil)
		c := startWithDownstreams(t, dialect, edge1, edge2)
		for i, id := range []string{"ok1", "r1", "r2", "r3"} {
			c.createPerson(id, 1100+i)
		}
		status, body := c.post("/v1/deletions", `{"person_ids":["r1","ghost-1","ok1","r2","ghost-2","r3"]}`)
		require.Equal(t, http.StatusAccepted, status, body)
		id := body["deletion_id"].(string)
		d := c.waitCompleted(id)
		require.Equal(t, 5.0, d["failed"], d)
		require.Equal(t, 1.0, d["deleted"], d)

		items := "/v1/deletions/" + id + "/items"
		for _, tc := range []struct {
			query string
			want  []string
		}{
			{"", []string{"r1", "ghost-1", "ok1", "r2", "ghost-2", "r3"}},
			{"?code=STEP_FAILED", []string{"r1", "r2", "r3"}},
			{"?code=ID_NOT_FOUND", []string{"ghost-1", "ghost-2"}},
			{"?state=failed&code=ID_NOT_FOUND", []string{"ghost-1", "ghost-2"}},
			{"?state=deleted&code=ID_NOT_FOUND", []string{}},
			{"?code=NO_SUCH_CODE", []string{}},
			{"?target=edge-2", []string{"r1", "r2", "r3"}},
			{"?state=failed&code=STEP_FAILED&target=edge-2", []string{"r1", "r2", "r3"}},
			{"?target=edge-1", []string{}}, // it confirmed every person
			{"?target=nowhere", []string{}},
			{"?code=ID_NOT_FOUND&target=edge-2", []string{}},
			{"?state=deleted", []string{"ok1"}},
		} {
			got, next := c.itemIDs(items + tc.query)
			require.Equal(t, tc.want, got, tc.query)
			require.Empty(t, next, tc.query)
		}

		// The failed item names its step, and the target it refused shows in its outcomes.
		status, body = c.get(items + "?code=STEP_FAILED&target=edge-2&limit=1")
		require.Equal(t, http.StatusOK, status, body)
		first := body["items"].([]any)[0].(map[string]any)
		require.Equal(t, "delete_from_targets", first["error"].(map[string]any)["step"], first)
		outcomes := map[string]any{}
		for _, x := range first["targets"].([]any) {
			o := x.(map[string]any)
			outcomes[o["target"].(string)] = o["state"]
		}
		require.Equal(t, map[string]any{"edge-1": "deleted", "edge-2": "failed"}, outcomes, first)

		// Pages of a filtered list: together exactly the list, no more.
		for _, size := range []int{1, 2} {
			var paged []string
			after := ""
			for pages := 0; ; pages++ {
				require.Less(t, pages, 5)
				got, next := c.itemIDs(fmt.Sprintf("%s?state=failed&code=STEP_FAILED&target=edge-2&limit=%d&after=%s", items, size, after))
				require.LessOrEqual(t, len(got), size)
				paged = append(paged, got...)
				if next == "" {
					break
				}
				after = next
			}
			require.Equal(t, []string{"r1", "r2", "r3"}, paged, "limit %d", size)
		}
		got, _ := c.itemIDs(items + "?code=ID_NOT_FOUND&limit=1")
		require.Equal(t, []string{"ghost-1"}, got)

		for _, q := range []string{"?state=done&code=STEP_FAILED", "?code=STEP_FAILED&limit=0", "?target=edge-2&after=x"} {
			status, body := c.get(items + q)
			requireCode(t, status, body, http.StatusBadRequest, "INVALID_ARGUMENT")
		}
		status, body = c.get("/v1/deletions/nope/items?code=STEP_FAILED")
		requireCode(t, status, body, http.StatusNotFound, "NOT_FOUND")
	})
}

// GET /v1/targets shows each configured target, in configuration order, with the persons
// waiting on it, confirmed and refused by it and its latest refusal (no person's ID in it);
// a retry that succeeds moves the refused persons to pending, then to confirmed.
func TestTargetFigures(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		edge1, edge2 := &downstream{}, &downstream{}
		edge2.set(map[string]bool{"tf-2": true, "tf-3": true}, nil)
		c := startWithDownstreams(t, dialect, edge1, edge2)

		figures, names := c.targetFigures()
		require.Equal(t, []string{"edge-1", "edge-2"}, names)
		for _, n := range names {
			f := figures[n]
			require.Equal(t, "http", f["kind"], f)
			require.Equal(t, []any{0.0, 0.0, 0.0, nil, nil}, []any{f["pending"], f["confirmed"], f["failed"], f["last_error"], f["last_error_at"]}, f)
		}

		for i, id := range []string{"tf-1", "tf-2", "tf-3"} {
			c.createPerson(id, 1200+i)
		}
		start := time.Now().UTC().Add(-time.Second)
		status, body := c.post("/v1/deletions", `{"person_ids":["tf-1","tf-2","tf-3","tf-ghost"]}`)
		require.Equal(t, http.StatusAccepted, status, body)
		id := body["deletion_id"].(string)
		d := c.waitCompleted(id)
		require.Equal(t, 3.0, d["failed"], d)

		figures, _ = c.targetFigures()
		e1, e2 := figures["edge-1"], figures["edge-2"]
		require.Equal(t, []any{0.0, 3.0, 0.0, nil, nil}, []any{e1["pending"], e1["confirmed"], e1["failed"], e1["last_error"], e1["last_error_at"]}, e1)
		require.Equal(t, []any{0.0, 1.0, 2.0}, []any{e2["pending"], e2["confirmed"], e2["failed"]}, e2)
		lastErr := e2["last_error"].(map[string]any)
		require.Equal(t, "STEP_FAILED", lastErr["code"])
		require.Equal(t, "permanent: edge-2 answered 403 person {person_id} is locked", lastErr["message"], "the target's part, without the person's ID")
		at, err := time.Parse(time.RFC3339Nano, e2["last_error_at"].(string))
		require.NoError(t, err)
		require.WithinRange(t, at, start, time.Now().UTC().Add(time.Second))

		// The retry: edge-2 now deletes, but holds its answers until released.
		release := make(chan struct{})
		t.Cleanup(func() {
			select {
			case <-release:
			default:
				close(release)
			}
		})
		calls := edge2.callCount()
		edge2.set(nil, release)
		status, body = c.post("/v1/deletions/"+id+"/retry", `{"code":"STEP_FAILED","target":"edge-2"}`)
		require.Equal(t, http.StatusAccepted, status, body)
		require.Equal(t, 2.0, body["retried"], body)
		figures, _ = c.targetFigures()
		e2 = figures["edge-2"]
		require.Equal(t, []any{2.0, 1.0, 0.0, nil, nil}, []any{e2["pending"], e2["confirmed"], e2["failed"], e2["last_error"], e2["last_error_at"]}, e2)
		require.Eventually(t, func() bool { return edge2.callCount() >= calls+2 }, 30*time.Second, 10*time.Millisecond,
			"edge-2 was never asked again")
		close(release)

		require.Eventually(t, func() bool {
			_, d = c.get("/v1/deletions/" + id)
			return d["deleted"] == 3.0 && d["pending"] == 0.0
		}, 30*time.Second, 20*time.Millisecond, "the retry never deleted them: %v", d)
		figures, _ = c.targetFigures()
		e1, e2 = figures["edge-1"], figures["edge-2"]
		require.Equal(t, []any{0.0, 3.0, 0.0, nil, nil}, []any{e1["pending"], e1["confirmed"], e1["failed"], e1["last_error"], e1["last_error_at"]}, e1)
		require.Equal(t, []any{0.0, 3.0, 0.0, nil, nil}, []any{e2["pending"], e2["confirmed"], e2["failed"], e2["last_error"], e2["last_error_at"]}, e2)
		got, _ := c.itemIDs("/v1/deletions/" + id + "/items?target=edge-2")
		require.Empty(t, got, "edge-2 refuses nobody now")
	})
}

// Without --targets the list is empty, not absent.
func TestTargetFiguresWithoutTargets(t *testing.T) {
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	status, body := client{t, env.HTTP.URL}.get("/v1/targets")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, []any{}, body["targets"])
}
