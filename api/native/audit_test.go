package native_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv"
	"github.com/erasure-dev/erasure/receipts"
)

func actions(t *testing.T, body map[string]any) []string {
	t.Helper()
	var out []string
	for _, e := range body["entries"].([]any) {
		out = append(out, e.(map[string]any)["action"].(string))
	}
	return out
}

func TestAuditTrailAndReceipts(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := testenv.Start(t, testenv.Config(t, dialect))
		c := client{t, env.HTTP.URL}
		status, _ := c.post("/v1/groups", `{"group_id":"g","name":"Secret Group Name"}`)
		require.Equal(t, http.StatusCreated, status)
		for i, id := range []string{"a1", "a2"} {
			status, body := c.post("/v1/persons", fmt.Sprintf(`{"person_id":%q,"name":"Name %s","group_ids":["g"],"permission_group_ids":["door"],"photos":[{"image_base64":%q}]}`, id, id, photo(t, i)))
			require.Equal(t, http.StatusCreated, status, body)
		}
		registered := time.Now().UTC()
		asOf := func(id string, at time.Time) map[string]any {
			status, body := c.get("/v1/audit/as-of?" + url.Values{"person_id": {id}, "time": {at.Format(time.RFC3339Nano)}}.Encode())
			require.Equal(t, http.StatusOK, status, body)
			return body
		}
		before := asOf("a1", registered)
		require.Equal(t, "active", before["state"])
		require.Equal(t, []any{"g"}, before["group_ids"])
		require.Equal(t, []any{"door"}, before["permission_group_ids"])
		require.Equal(t, 1.0, before["face_count"])
		require.Equal(t, "Name a1", before["name"], "a living person's name is read with its key")
		require.Equal(t, false, before["name_erased"])
		require.Equal(t, "absent", asOf("a1", registered.Add(-time.Hour))["state"])

		status, d := c.post("/v1/deletions", `{"person_ids":["a1"]}`)
		require.Equal(t, http.StatusAccepted, status, d)
		deletionID := d["deletion_id"].(string)
		c.waitCompleted(deletionID)

		// The request's trail, oldest first, page by page.
		var got []string
		next := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, 20)
			q := url.Values{"request_id": {deletionID}, "limit": {"2"}}
			if next != "" {
				q.Set("after", next)
			}
			status, body := c.get("/v1/audit?" + q.Encode())
			require.Equal(t, http.StatusOK, status, body)
			got = append(got, actions(t, body)...)
			n, _ := body["next"].(string)
			if n == "" {
				break
			}
			next = n
		}
		require.Equal(t, "DeletionRequested", got[0])
		for _, want := range []string{"PersonDeletionRequested", "PermissionGroupsUnbound", "FacesPurged", "PhotosPurged", "PersonDeleted", "DeletionCompleted"} {
			require.Contains(t, got, want)
		}
		status, mine := c.get("/v1/audit?person_id=a1")
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "PersonCreated", actions(t, mine)[0])
		require.NotContains(t, actions(t, mine), "GroupCreated")
		// The deletion ran as a batch (docs/adr/0003): its steps are the batch's entries, found
		// by the person they name.
		require.Equal(t, []string{"PersonCreated", "DeletionRequested", "PersonDeletionRequested", "DeletionBatchStarted",
			"PermissionGroupsUnbound", "FacesPurged", "PhotosPurged", "PersonDeleted"}, actions(t, mine))
		stepSeqs := map[string]float64{}
		for _, e := range mine["entries"].([]any) {
			e := e.(map[string]any)
			require.Contains(t, e["person_ids"], "a1")
			stepSeqs[e["action"].(string)] = e["seq"].(float64)
		}

		// No names anywhere in the trail.
		resp, err := http.Get(env.HTTP.URL + "/v1/audit?limit=1000")
		require.NoError(t, err)
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, name := range []string{"Name a1", "Name a2", "Secret Group Name"} {
			require.NotContains(t, string(raw), name)
		}

		status, v := c.get("/v1/audit/verify")
		require.Equal(t, http.StatusOK, status, v)
		require.Equal(t, true, v["ok"])
		require.Positive(t, v["entries"])

		// What the registry held then, now that a1 is deleted: the same, with the name erased.
		then := asOf("a1", registered)
		require.Equal(t, "active", then["state"])
		require.Equal(t, 1.0, then["face_count"])
		require.Nil(t, then["name"])
		require.Equal(t, true, then["name_erased"])
		require.Equal(t, "deleted", asOf("a1", time.Now().Add(time.Minute))["state"])

		// The signed receipt verifies with the server's key, and names the request.
		status, key := c.get("/v1/receipts/public-key")
		require.Equal(t, http.StatusOK, status)
		pub, err := receipts.ParsePublicKey(key["public_key"].(string))
		require.NoError(t, err)
		resp, err = http.Get(env.HTTP.URL + "/v1/receipts/a1")
		require.NoError(t, err)
		file, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, string(file))
		rc, err := receipts.Verify(file, pub)
		require.NoError(t, err)
		require.Equal(t, "a1", rc.PersonID)
		require.Equal(t, deletionID, rc.DeletionID)
		require.True(t, rc.KeyDestruction.Destroyed)
		var steps []string
		for _, st := range rc.Steps {
			steps = append(steps, st.Step)
			require.Equal(t, stepSeqs[st.Event], float64(st.Seq), "%s: the receipt cites the event of the trail", st.Step)
		}
		require.Equal(t, []string{"requested", "unbind_permission_groups", "purge_faces", "purge_photos", "delete_person"}, steps)
		// What each step removed of a1: one permission group, one face, one photo.
		for _, st := range rc.Steps[1:4] {
			require.NotNil(t, st.Count, st.Step)
			require.Equal(t, 1, *st.Count, st.Step)
		}
		require.NotContains(t, string(file), "Name a1")
		altered := strings.Replace(string(file), `"a1"`, `"a3"`, 1)
		_, err = receipts.Verify([]byte(altered), pub)
		require.ErrorIs(t, err, receipts.ErrBadSignature)

		for _, tt := range []struct {
			path   string
			status int
			code   string
		}{
			{"/v1/receipts/a2", http.StatusNotFound, "NO_RECEIPT"},
			{"/v1/receipts/bad%20id", http.StatusBadRequest, "INVALID_ID"},
			{"/v1/audit?since=yesterday", http.StatusBadRequest, "INVALID_ARGUMENT"},
			{"/v1/audit?after=x", http.StatusBadRequest, "INVALID_ARGUMENT"},
			{"/v1/audit?limit=0", http.StatusBadRequest, "INVALID_ARGUMENT"},
			{"/v1/audit/as-of?person_id=a1", http.StatusBadRequest, "MISSING_ARGUMENT"},
		} {
			status, body := c.get(tt.path)
			require.Equal(t, tt.status, status, "%s: %v", tt.path, body)
			require.Equal(t, tt.code, body["error"].(map[string]any)["code"], tt.path)
		}
	})
}
