package targets_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv"
	"github.com/erasure-dev/erasure/internal/testenv/leakcheck"
	"github.com/erasure-dev/erasure/sagas"
	"github.com/erasure-dev/erasure/service"
)

// The Tencent credential of the "cloud" erasure instance, and the environment the
// orchestrator's targets file names (secrets never sit in the file).
const (
	cloudID  = "AKIDtargetstest0000000000000000000"
	cloudKey = "targets-test-secret-key-0000000000"
)

func TestMain(m *testing.M) {
	os.Setenv("TARGETS_TEST_CLOUD_ID", cloudID)
	os.Setenv("TARGETS_TEST_CLOUD_KEY", cloudKey)
	os.Setenv("TARGETS_TEST_WRONG_KEY", "not-the-key-of-the-cloud-instance")
	leakcheck.Main(m)
}

func photo(t testing.TB, seed int) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range 64 {
		img.Set(i%8, i/8, color.RGBA{uint8(seed), uint8(seed >> 8), uint8(i), 255})
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// call sends body, if any, as JSON to the URL u.
func call(t testing.TB, method, u, body string) (int, map[string]any) {
	t.Helper()
	contentType := ""
	if body != "" {
		contentType = "application/json"
	}
	return testenv.Client{T: t}.Do(method, u, contentType, body)
}

// register creates the person, with a photo, in one erasure instance.
func register(t testing.TB, base, personID string, seed int) {
	t.Helper()
	status, body := call(t, "POST", base+"/v1/persons", fmt.Sprintf(`{"person_id":%q,"name":"Han Meimei","group_ids":[],
		"permission_group_ids":["door-1"],"photos":[{"image_base64":%q}]}`, personID, photo(t, seed)))
	require.Equal(t, http.StatusCreated, status, body)
}

// present reports whether an instance still holds the person.
func present(t testing.TB, base, personID string) bool {
	t.Helper()
	status, body := call(t, "GET", base+"/v1/persons/"+personID, "")
	return status == http.StatusOK && body["state"] != "deleted"
}

// startTarget starts an erasure instance that serves as a target (a Sophon box, a Tencent
// library): the same binary, its own data directory.
func startTarget(t *testing.T) *testenv.Env {
	cfg := testenv.Config(t, "sqlite")
	cfg.TencentSecretID, cfg.TencentSecretKey = cloudID, cloudKey
	return testenv.Start(t, cfg)
}

// startOrchestrator starts the instance whose deletions fan out to the targets file.
func startOrchestrator(t *testing.T, dialect, targetsYAML string) *testenv.Env {
	cfg := testenv.Config(t, dialect)
	cfg.TargetsFile = filepath.Join(t.TempDir(), "targets.yaml")
	require.NoError(t, os.WriteFile(cfg.TargetsFile, []byte(targetsYAML), 0o600))
	return testenv.Start(t, cfg, service.WithTargetRetry(sagas.Retry{Attempts: 40, Initial: 50 * time.Millisecond, Max: 250 * time.Millisecond}))
}

// deleteAndWait deletes the persons through the orchestrator and returns the items once every
// one is terminal.
func deleteAndWait(t *testing.T, base string, ids ...string) (string, []map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(map[string]any{"person_ids": ids})
	status, body := call(t, "POST", base+"/v1/deletions", string(raw))
	require.Equal(t, http.StatusAccepted, status, body)
	id := body["deletion_id"].(string)
	return id, waitItems(t, base, id)
}

func waitItems(t *testing.T, base, deletionID string) []map[string]any {
	t.Helper()
	var items []map[string]any
	require.Eventually(t, func() bool {
		_, body := call(t, "GET", base+"/v1/deletions/"+deletionID+"/items", "")
		items = items[:0]
		list, _ := body["items"].([]any)
		for _, it := range list {
			m := it.(map[string]any)
			if m["state"] == "pending" {
				return false
			}
			items = append(items, m)
		}
		return len(items) > 0
	}, 60*time.Second, 50*time.Millisecond)
	return items
}

// targetStates maps each target of an item to "state/attempts".
func targetStates(item map[string]any) map[string]string {
	out := map[string]string{}
	ts, _ := item["targets"].([]any)
	for _, x := range ts {
		m := x.(map[string]any)
		out[m["target"].(string)] = fmt.Sprintf("%s/%v", m["state"], m["attempts"])
	}
	return out
}

// A deletion through the orchestrator removes the person from two Sophon boxes and a Tencent
// library too, each with its outcome on the item; one box is down for a while and the deletion
// waits for it; the targets are listed without their secrets.
func TestFanOutToSophonBoxesAndTencent(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		siteA, siteB, cloud := startTarget(t), startTarget(t), startTarget(t)
		// Site B is behind a link that is down until the test brings it up.
		var up atomic.Bool
		var downCalls atomic.Int64
		bURL, err := url.Parse(siteB.HTTP.URL)
		require.NoError(t, err)
		proxy := httputil.NewSingleHostReverseProxy(bURL)
		link := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !up.Load() {
				downCalls.Add(1)
				http.Error(w, "bad gateway", http.StatusBadGateway)
				return
			}
			proxy.ServeHTTP(w, r)
		}))
		defer link.Close()

		orch := startOrchestrator(t, dialect, fmt.Sprintf(`
targets:
  - name: site-a
    kind: sophon
    url: %s
  - name: site-b
    kind: sophon
    url: %s
    batch_size: 2
  - name: cloud
    kind: tencent
    url: %s
    secret_id_env: TARGETS_TEST_CLOUD_ID
    secret_key_env: TARGETS_TEST_CLOUD_KEY
`, siteA.HTTP.URL, link.URL, cloud.HTTP.URL))

		status, listed := call(t, "GET", orch.HTTP.URL+"/v1/targets", "")
		require.Equal(t, http.StatusOK, status)
		raw, _ := json.Marshal(listed)
		require.Contains(t, string(raw), `"name":"site-a"`)
		require.Contains(t, string(raw), `"kind":"tencent"`)
		require.NotContains(t, string(raw), cloudKey, "no secret in the listing")

		ids := []string{"p-1", "p-2", "p-3"}
		for i, id := range ids {
			for _, env := range []*testenv.Env{orch, siteA, siteB, cloud} {
				register(t, env.HTTP.URL, id, i+1)
			}
		}
		register(t, siteA.HTTP.URL, "bystander", 9)

		raw, _ = json.Marshal(map[string]any{"person_ids": ids})
		status, body := call(t, "POST", orch.HTTP.URL+"/v1/deletions", string(raw))
		require.Equal(t, http.StatusAccepted, status, body)
		deletion := body["deletion_id"].(string)

		// While site B is down: A and the cloud confirm, the items wait.
		require.Eventually(t, func() bool {
			return !present(t, siteA.HTTP.URL, "p-3") && !present(t, cloud.HTTP.URL, "p-3") && downCalls.Load() >= 3
		}, 30*time.Second, 50*time.Millisecond)
		confirmedByAAndCloud := func() bool {
			_, body := call(t, "GET", orch.HTTP.URL+"/v1/deletions/"+deletion+"/items", "")
			for _, it := range body["items"].([]any) {
				states := targetStates(it.(map[string]any))
				if states["site-a"] != "deleted/1" || states["cloud"] != "deleted/1" {
					return false
				}
			}
			return true
		}
		require.Eventually(t, confirmedByAAndCloud, 10*time.Second, 20*time.Millisecond)
		time.Sleep(300 * time.Millisecond) // several of site B's retries
		_, body = call(t, "GET", orch.HTTP.URL+"/v1/deletions/"+deletion+"/items", "")
		for _, it := range body["items"].([]any) {
			item := it.(map[string]any)
			require.Equal(t, "pending", item["state"], "not deleted before every target confirmed")
			require.Equal(t, "pending/0", targetStates(item)["site-b"])
		}
		for _, id := range ids {
			require.True(t, present(t, siteB.HTTP.URL, id))
		}

		up.Store(true)
		items := waitItems(t, orch.HTTP.URL, deletion)
		require.Len(t, items, 3)
		for _, item := range items {
			require.Equal(t, "deleted", item["state"], item)
			states := targetStates(item)
			require.Equal(t, "deleted/1", states["site-a"])
			require.Equal(t, "deleted/1", states["cloud"])
			require.Regexp(t, `^deleted/([2-9]|\d\d)$`, states["site-b"], "site B took retries")
		}
		for _, id := range ids {
			for _, env := range []*testenv.Env{orch, siteA, siteB, cloud} {
				require.False(t, present(t, env.HTTP.URL, id), "%s still at %s", id, env.HTTP.URL)
			}
		}
		require.True(t, present(t, siteA.HTTP.URL, "bystander"), "nobody else is touched")

		// The receipt lists the targets' confirmations.
		status, rc := call(t, "GET", orch.HTTP.URL+"/v1/receipts/p-1", "")
		require.Equal(t, http.StatusOK, status, rc)
		rcRaw, _ := json.Marshal(rc)
		require.Contains(t, string(rcRaw), "delete_from_targets")
	})
}

// fakeBox is a Sophon box that refuses to delete some IDs it holds (a per-ID failure), until
// it is repaired.
type fakeBox struct {
	mu       sync.Mutex
	refuse   map[string]bool
	held     map[string]bool
	requests int
}

func (b *fakeBox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.requests++
	var req struct {
		IdentityIDs []string `json:"identity_ids"`
		IdentityID  string   `json:"identity_id"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/sophon/v2/face/deleteidentities":
		ok, failed := []string{}, []string{}
		for _, id := range req.IdentityIDs {
			if b.refuse[id] || !b.held[id] {
				failed = append(failed, id)
				continue
			}
			delete(b.held, id)
			ok = append(ok, id)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"success_identity_ids": ok, "failed_identity_ids": failed})
	case "/sophon/v2/face/getidentity":
		if !b.held[req.IdentityID] {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":{"code":"ID_NOT_FOUND","message":"identity_id"}}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"identity_id": req.IdentityID})
	default:
		http.NotFound(w, r)
	}
}

// A box that reports per-ID failures fails those items at the targets step, naming the box,
// while the others end deleted; an ID the box no longer holds counts as deleted; after the box
// is repaired, an operator's retry runs only the targets still pending and ends deleted. Wrong
// Tencent keys are a clear failure, not retried.
func TestPerIDFailuresAndWrongKeys(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		cloud := startTarget(t)
		box := &fakeBox{refuse: map[string]bool{"p-bad": true}, held: map[string]bool{"p-ok": true, "p-bad": true}}
		boxSrv := httptest.NewServer(box)
		defer boxSrv.Close()
		orch := startOrchestrator(t, dialect, fmt.Sprintf(`
targets:
  - name: edge
    kind: sophon
    url: %s
  - name: cloud
    kind: tencent
    url: %s
    secret_id_env: TARGETS_TEST_CLOUD_ID
    secret_key_env: TARGETS_TEST_CLOUD_KEY
`, boxSrv.URL, cloud.HTTP.URL))
		for i, id := range []string{"p-ok", "p-bad", "p-gone"} {
			register(t, orch.HTTP.URL, id, i+1)
			register(t, cloud.HTTP.URL, id, i+1)
		}

		deletion, items := deleteAndWait(t, orch.HTTP.URL, "p-ok", "p-bad", "p-gone")
		byID := map[string]map[string]any{}
		for _, it := range items {
			byID[it["person_id"].(string)] = it
		}
		require.Equal(t, "deleted", byID["p-ok"]["state"])
		require.Equal(t, "deleted", byID["p-gone"]["state"], "an ID the box does not hold is not a failure")
		bad := byID["p-bad"]
		require.Equal(t, "failed", bad["state"])
		e := bad["error"].(map[string]any)
		require.Equal(t, "STEP_FAILED", e["code"])
		require.Equal(t, "delete_from_targets", e["step"])
		require.Contains(t, e["message"], "target edge")
		states := targetStates(bad)
		require.Equal(t, "deleted/1", states["cloud"], "the other target is not held back")
		require.Regexp(t, `^failed/\d+$`, states["edge"])
		require.True(t, present(t, orch.HTTP.URL, "p-bad"), "a failed item keeps the person deleting, not deleted")

		box.mu.Lock()
		box.refuse = map[string]bool{}
		box.mu.Unlock()
		status, body := call(t, "POST", orch.HTTP.URL+"/v1/deletions/"+deletion+"/retry", "")
		require.Equal(t, http.StatusAccepted, status, body)
		require.Eventually(t, func() bool {
			_, body := call(t, "GET", orch.HTTP.URL+"/v1/deletions/"+deletion+"/items?state=deleted", "")
			return len(body["items"].([]any)) == 3
		}, 30*time.Second, 50*time.Millisecond)
		_, body = call(t, "GET", orch.HTTP.URL+"/v1/deletions/"+deletion+"/items", "")
		for _, it := range body["items"].([]any) {
			item := it.(map[string]any)
			if item["person_id"] == "p-bad" {
				require.Equal(t, "deleted/1", targetStates(item)["cloud"], "the retry did not call the cloud again")
				require.Regexp(t, `^deleted/\d+$`, targetStates(item)["edge"])
			}
		}

		// Wrong keys: refused at the first call, not retried, the cause in the item.
		wrong := startOrchestrator(t, dialect, fmt.Sprintf(`
targets:
  - name: cloud
    kind: tencent
    url: %s
    secret_id_env: TARGETS_TEST_CLOUD_ID
    secret_key_env: TARGETS_TEST_WRONG_KEY
`, cloud.HTTP.URL))
		register(t, wrong.HTTP.URL, "p-w", 7)
		register(t, cloud.HTTP.URL, "p-w", 7)
		_, items = deleteAndWait(t, wrong.HTTP.URL, "p-w")
		require.Equal(t, "failed", items[0]["state"])
		require.Contains(t, items[0]["error"].(map[string]any)["message"], "AuthFailure.SignatureFailure")
		require.Equal(t, "failed/1", targetStates(items[0])["cloud"], "a permanent refusal is not retried")
		require.True(t, present(t, cloud.HTTP.URL, "p-w"))
	})
}
