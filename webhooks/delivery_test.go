package webhooks_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv"
)

// Every outcome reaches a subscriber once per webhook-id, signed so that an independent
// implementation verifies it, with IDs, codes and counts and never a name; a request's own
// callback_url gets its deletion.completed; after a rotation both secrets verify.
func TestOutcomesAreDeliveredSigned(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := start(t, dialect, 50*time.Millisecond)
		c := client{t, env.HTTP.URL}
		recv := newReceiver(t)
		id, secret := c.subscribe(recv.URL("/hook"))
		require.True(t, strings.HasPrefix(secret, "whsec_"), secret)
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		require.NoError(t, err)
		require.Len(t, key, 32)

		// The secret is shown once.
		status, list := c.get("/v1/webhooks")
		require.Equal(t, http.StatusOK, status)
		require.Len(t, list["webhooks"], 1)
		listed := list["webhooks"].([]any)[0].(map[string]any)
		require.Equal(t, id, listed["id"])
		require.NotContains(t, listed, "secret")
		require.ElementsMatch(t, []any{"person.deleted", "person.deletion_failed", "deletion.completed", "group.deleted"}, listed["event_types"])

		status, _ = c.post("/v1/groups", `{"group_id":"g1","name":"Staff"}`)
		require.Equal(t, http.StatusCreated, status)
		for _, p := range []string{"p1", "p2"} {
			c.createPerson(p)
		}
		c.createPerson("p3", "g1")
		status, body := c.post("/v1/deletions", `{"person_ids":["p1","p2","ghost"],"callback_url":"`+recv.URL("/callback")+`"}`)
		require.Equal(t, http.StatusAccepted, status, body)
		deletionID := body["deletion_id"].(string)
		status, body = c.do(http.MethodDelete, "/v1/groups/g1", "")
		require.Equal(t, http.StatusAccepted, status, body)
		groupDeletion := body["deletion_id"].(string)

		recv.waitFor(20*time.Second, func() bool {
			return len(recv.ofType("person.deleted")) == 3 && len(recv.ofType("deletion.completed")) == 3 &&
				len(recv.ofType("group.deleted")) == 1 && len(recv.ofType("person.deletion_failed")) == 1
		}, "every outcome delivered")

		for _, d := range recv.byID() {
			require.NotContains(t, string(d.Raw), "Secret Name", "no name in a webhook body")
			require.False(t, d.Body.Timestamp.IsZero(), string(d.Raw))
			if d.Path == "/callback" {
				require.Empty(t, d.Signature, "a per-request callback has no shared secret")
				continue
			}
			require.NoError(t, verifySignature(secret, d), string(d.Raw))
		}
		deleted := map[any]any{}
		for _, d := range recv.ofType("person.deleted") {
			deleted[d.Body.Data["person_id"]] = d.Body.Data["deletion_id"]
		}
		require.Equal(t, map[any]any{"p1": deletionID, "p2": deletionID, "p3": groupDeletion}, deleted)
		for _, d := range recv.ofType("person.deletion_failed") {
			require.Equal(t, map[string]any{"person_id": "ghost", "deletion_id": deletionID, "code": "ID_NOT_FOUND"}, d.Body.Data)
		}
		for _, d := range recv.ofType("group.deleted") {
			require.Equal(t, map[string]any{"group_id": "g1", "deletion_id": groupDeletion}, d.Body.Data)
		}
		var callbacks []delivered
		for _, d := range recv.ofType("deletion.completed") {
			if d.Path == "/callback" {
				callbacks = append(callbacks, d)
			}
		}
		require.Len(t, callbacks, 1)
		require.Equal(t, map[string]any{"deletion_id": deletionID, "total": 3.0, "deleted": 2.0, "failed": 1.0, "cancelled": 0.0},
			callbacks[0].Body.Data)

		// Every delivery is listed as delivered, with its webhook-id: once the sender recorded the
		// last answer, which may come a moment after the receiver saw it.
		var ds []map[string]any
		require.Eventually(t, func() bool {
			ds = c.deliveries(id, "")
			for _, d := range ds {
				if d["state"] != "delivered" {
					return false
				}
			}
			return len(ds) == 7
		}, 10*time.Second, 20*time.Millisecond, "deliveries recorded as delivered: %v", ds)
		for _, d := range ds {
			require.Equal(t, "delivered", d["state"], d)
			require.Equal(t, 1.0, d["attempts"], d)
			require.Contains(t, recv.byID(), "/hook "+d["webhook_id"].(string))
		}

		// Rotation: during the overlap both the new and the old secret verify.
		status, rotated := c.post("/v1/webhooks/"+id+"/rotate", "")
		require.Equal(t, http.StatusOK, status, rotated)
		newSecret := rotated["secret"].(string)
		require.NotEqual(t, secret, newSecret)
		require.NotEmpty(t, rotated["previous_secret_expires_at"])
		c.createPerson("p4")
		c.deleteAll("p4")
		recv.waitFor(20*time.Second, func() bool { return len(recv.ofType("person.deleted")) == 4 }, "p4 delivered")
		for _, d := range recv.ofType("person.deleted") {
			if d.Body.Data["person_id"] == "p4" {
				require.Len(t, strings.Fields(d.Signature), 2, d.Signature)
				require.NoError(t, verifySignature(newSecret, d))
				require.NoError(t, verifySignature(secret, d))
			}
		}
	})
}
