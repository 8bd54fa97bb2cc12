package native_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv"
)

func (c client) createPerson(id string, seed int) {
	c.t.Helper()
	status, body := c.post("/v1/persons", fmt.Sprintf(`{"person_id":%q,"name":"Name %s","permission_group_ids":["door"],"photos":[{"image_base64":%q}]}`, id, id, photo(c.t, seed)))
	require.Equal(c.t, http.StatusCreated, status, body)
}

func (c client) waitCompleted(id string) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, d := c.get("/v1/deletions/" + id)
		require.Equal(c.t, http.StatusOK, status, d)
		if d["state"] == "completed" {
			return d
		}
		require.True(c.t, time.Now().Before(deadline), "deletion %s not completed: %v", id, d)
		time.Sleep(20 * time.Millisecond)
	}
}

type outcome struct{ state, code string }

func (c client) outcomes(id string) []outcome {
	c.t.Helper()
	status, body := c.get("/v1/deletions/" + id + "/items?limit=1000")
	require.Equal(c.t, http.StatusOK, status, body)
	var out []outcome
	for _, it := range body["items"].([]any) {
		item := it.(map[string]any)
		o := outcome{state: item["state"].(string)}
		if e, ok := item["error"].(map[string]any); ok {
			o.code = e["code"].(string)
		}
		out = append(out, o)
	}
	return out
}

func TestDeletionOutcomesPerID(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := testenv.Start(t, testenv.Config(t, dialect))
		c := client{t, env.HTTP.URL}
		for i, id := range []string{"a1", "a2", "a3", "a4"} {
			c.createPerson(id, i)
		}
		tests := []struct {
			name, ctype, body string
			want              []outcome
		}{
			{"json mix", "application/json", `{"person_ids":["a1","ghost","a1","bad id","` + strings.Repeat("x", 65) + `"]}`,
				[]outcome{{"deleted", ""}, {"failed", "ID_NOT_FOUND"}, {"failed", "DUPLICATE_ID"}, {"failed", "INVALID_ID"}, {"failed", "INVALID_ID"}}},
			{"text plain", "text/plain", "a2\r\n\n   a3  \nghost\na2\n",
				[]outcome{{"deleted", ""}, {"deleted", ""}, {"failed", "ID_NOT_FOUND"}, {"failed", "DUPLICATE_ID"}}},
			{"ndjson", "application/x-ndjson", "\"a4\"\n{\"person_id\":\"a1\"}\nnot json\n",
				[]outcome{{"deleted", ""}, {"failed", "ID_NOT_FOUND"}, {"failed", "INVALID_ID"}}},
		}
		for _, tt := range tests {
			status, body := c.do(http.MethodPost, "/v1/deletions", tt.ctype, tt.body)
			require.Equal(t, http.StatusAccepted, status, "%s: %v", tt.name, body)
			id := body["deletion_id"].(string)
			require.Equal(t, "/v1/deletions/"+id, body["status_url"])
			d := c.waitCompleted(id)
			require.Equal(t, tt.want, c.outcomes(id), tt.name)
			deleted := 0
			for _, o := range tt.want {
				if o.state == "deleted" {
					deleted++
				}
			}
			require.Equal(t, float64(len(tt.want)), d["total"], tt.name)
			require.Equal(t, float64(deleted), d["deleted"], tt.name)
			require.Equal(t, float64(len(tt.want)-deleted), d["failed"], tt.name)
			require.Equal(t, 0.0, d["pending"], tt.name)
			require.NotNil(t, d["completed_at"], tt.name)
		}
		for _, id := range []string{"a1", "a2", "a3", "a4"} {
			status, _ := c.get("/v1/persons/" + id)
			require.Equal(t, http.StatusNotFound, status, id)
		}
	})
}

func TestDeletionRequestRules(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := testenv.Start(t, testenv.Config(t, dialect))
		c := client{t, env.HTTP.URL}
		c.createPerson("keep", 1)

		// The same idempotency key returns the first deletion id.
		status, first := c.post("/v1/deletions", `{"person_ids":["nobody"],"idempotency_key":"batch-7","callback_url":"https://93.184.216.34/hook"}`)
		require.Equal(t, http.StatusAccepted, status, first)
		status, again := c.post("/v1/deletions", `{"person_ids":["keep"],"idempotency_key":"batch-7"}`)
		require.Less(t, status, 300, again)
		require.Equal(t, first["deletion_id"], again["deletion_id"])
		c.waitCompleted(first["deletion_id"].(string))
		status, _ = c.get("/v1/persons/keep")
		require.Equal(t, http.StatusOK, status, "the repeat must not delete what the first request did not name")

		for _, tt := range []struct {
			name, ctype, body string
			status            int
			code              string
		}{
			{"no ids", "application/json", `{"person_ids":[]}`, 400, "MISSING_ARGUMENT"},
			{"empty text", "text/plain", "\n\n", 400, "MISSING_ARGUMENT"},
			{"not json", "application/json", `{"person_ids":`, 400, "INVALID_JSON"},
			{"unknown field", "application/json", `{"person_ids":["a"],"force":true}`, 400, "UNKNOWN_FIELD"},
			{"wrong type", "application/json", `{"person_ids":"a"}`, 400, "INVALID_ARGUMENT"},
			{"media type", "application/xml", `<ids/>`, 415, "UNSUPPORTED_MEDIA_TYPE"},
			{"bad callback", "application/json", `{"person_ids":["a"],"callback_url":"ftp://x"}`, 400, "INVALID_ARGUMENT"},
			{"unknown group", "application/json", `{"person_ids":["a"],"group_id":"nope"}`, 404, "GROUP_NOT_FOUND"},
		} {
			status, body := c.do(http.MethodPost, "/v1/deletions", tt.ctype, tt.body)
			require.Equal(t, tt.status, status, "%s: %v", tt.name, body)
			require.Equal(t, tt.code, body["error"].(map[string]any)["code"], tt.name)
		}
		status, body := c.get("/v1/deletions/nope")
		require.Equal(t, http.StatusNotFound, status, body)
		status, _ = c.get("/v1/persons/keep")
		require.Equal(t, http.StatusOK, status, "a refused request deletes nothing")
	})
}

func TestDeletionItemsPagination(t *testing.T) {
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	c := client{t, env.HTTP.URL}
	c.createPerson("real", 3)
	var ids []string
	for i := range 25 {
		ids = append(ids, fmt.Sprintf("missing-%02d", i))
	}
	ids = append(ids, "real")
	status, body := c.do(http.MethodPost, "/v1/deletions", "text/plain", strings.Join(ids, "\n"))
	require.Equal(t, http.StatusAccepted, status, body)
	id := body["deletion_id"].(string)
	c.waitCompleted(id)

	var seen []string
	next := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		path := "/v1/deletions/" + id + "/items?state=failed&limit=10"
		if next != "" {
			path += "&after=" + next
		}
		status, page := c.get(path)
		require.Equal(t, http.StatusOK, status, page)
		for _, it := range page["items"].([]any) {
			item := it.(map[string]any)
			require.Equal(t, "failed", item["state"])
			seen = append(seen, item["person_id"].(string))
		}
		n, ok := page["next"].(string)
		if !ok {
			break
		}
		next = n
	}
	require.Equal(t, ids[:25], seen)
	status, page := c.get("/v1/deletions/" + id + "/items?state=deleted")
	require.Equal(t, http.StatusOK, status)
	require.Len(t, page["items"], 1)
	status, bad := c.get("/v1/deletions/" + id + "/items?state=gone")
	require.Equal(t, http.StatusBadRequest, status, bad)
}

// TestForensicNothingLeftOnDisk deletes a person and searches every file under the data
// directory for its name and its photo's bytes.
func TestForensicNothingLeftOnDisk(t *testing.T) {
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	c := client{t, env.HTTP.URL}
	const name = "Forensic Ouyang Zhenhua"
	img := photo(t, 4242)
	raw, err := base64.StdEncoding.DecodeString(img)
	require.NoError(t, err)
	status, body := c.post("/v1/persons", fmt.Sprintf(`{"person_id":"victim","name":%q,"permission_group_ids":["lab"],"photos":[{"image_base64":%q}]}`, name, img))
	require.Equal(t, http.StatusCreated, status, body)
	status, body = c.post("/v1/deletions", `{"person_ids":["victim"]}`)
	require.Equal(t, http.StatusAccepted, status, body)
	d := c.waitCompleted(body["deletion_id"].(string))
	require.Equal(t, 1.0, d["deleted"])
	env.Stop()

	var scanned int
	require.NoError(t, filepath.WalkDir(env.Config.DataDir, func(path string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		scanned++
		require.False(t, bytes.Contains(data, []byte(name)), "name found in %s", path)
		require.False(t, bytes.Contains(data, []byte("Zhenhua")), "name found in %s", path)
		require.False(t, bytes.Contains(data, raw), "photo bytes found in %s", path)
		require.False(t, bytes.Contains(data, []byte(img[:64])), "photo base64 found in %s", path)
		return nil
	}))
	require.Greater(t, scanned, 5)
}
