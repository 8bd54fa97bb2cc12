package native_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv"
	"github.com/erasure-dev/erasure/service"
)

func TestCancelDeletion(t *testing.T) {
	for _, tc := range []struct {
		name string
		// held are the stages that do not run until the cancel is in
		held []string
		// cancelled is how many items end cancelled: before dispatch the unknown id too
		cancelled float64
	}{
		{"before dispatch", []string{"deletion-dispatcher"}, 3},
		// The first step is the batch saga's (docs/adr/0003), or the per-person saga's for a
		// person that could not join a batch.
		{"before the first step", []string{"person-deletion-saga", "batch-deletion-saga"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
				cfg := testenv.Config(t, dialect)
				env := testenv.Start(t, cfg, service.Without(tc.held...))
				c := client{t, env.HTTP.URL}
				c.createPerson("keep-1", 1)
				c.createPerson("keep-2", 2)
				status, body := c.post("/v1/deletions", `{"person_ids":["keep-1","keep-2","ghost"]}`)
				require.Equal(t, http.StatusAccepted, status, body)
				id := body["deletion_id"].(string)
				if tc.held[0] == "person-deletion-saga" {
					require.Eventually(t, func() bool {
						_, p := c.get("/v1/persons/keep-1")
						_, q := c.get("/v1/persons/keep-2")
						return p["state"] == "deleting" && q["state"] == "deleting"
					}, 10*time.Second, 10*time.Millisecond)
				}
				status, d := c.post("/v1/deletions/"+id+"/cancel", "")
				require.Equal(t, http.StatusOK, status, d)
				require.Equal(t, "cancelled", d["state"])

				env.Stop()
				env.Options = nil
				env.Restart()
				c = client{t, env.HTTP.URL}
				require.Eventually(t, func() bool {
					_, d = c.get("/v1/deletions/" + id)
					return d["completed_at"] != nil
				}, 20*time.Second, 20*time.Millisecond, "never completed: %v", d)
				require.Equal(t, "cancelled", d["state"])
				require.Equal(t, tc.cancelled, d["cancelled"], d)
				require.Equal(t, 0.0, d["deleted"], d)
				for _, o := range c.outcomes(id) {
					if o.state == "cancelled" {
						require.Equal(t, "CANCELLED", o.code)
					}
				}
				for _, p := range []string{"keep-1", "keep-2"} {
					status, person := c.get("/v1/persons/" + p)
					require.Equal(t, http.StatusOK, status)
					require.Equal(t, "active", person["state"])
					require.Equal(t, []any{"door"}, person["permission_group_ids"], "nothing was removed")
					require.Len(t, person["face_ids"], 1)
				}
				// Cancelling again is harmless; a person can be deleted later all the same.
				status, _ = c.post("/v1/deletions/"+id+"/cancel", "")
				require.Equal(t, http.StatusOK, status)
				status, body = c.post("/v1/deletions", `{"person_ids":["keep-1"]}`)
				require.Equal(t, http.StatusAccepted, status, body)
				done := c.waitCompleted(body["deletion_id"].(string))
				require.Equal(t, 1.0, done["deleted"])
				status, body = c.post("/v1/deletions/"+body["deletion_id"].(string)+"/cancel", "")
				require.Equal(t, http.StatusConflict, status, body)
				require.Equal(t, "DELETION_FINISHED", body["error"].(map[string]any)["code"])
				status, _ = c.post("/v1/deletions/nope/cancel", "")
				require.Equal(t, http.StatusNotFound, status)
			})
		})
	}
}
