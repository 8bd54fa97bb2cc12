package webhooks_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv"
)

// A request's callback_url gets its deletion.completed in the shape it asked for: the standard
// body, or with "callback_format":"sophon" (and from Sophon's deleteidentities notify_path) the
// Sophon management platform's result.
func TestCallbackFormats(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := start(t, dialect, 50*time.Millisecond)
		c := client{t, env.HTTP.URL}
		recv := newReceiver(t)
		for _, p := range []string{"c1", "c2", "c3"} {
			c.createPerson(p)
		}
		status, body := c.post("/v1/deletions", `{"person_ids":["c1","nobody"],"callback_url":"`+recv.URL("/native-sophon")+`","callback_format":"sophon"}`)
		require.Equal(t, http.StatusAccepted, status, body)
		nativeID := body["deletion_id"].(string)
		status, body = c.post("/sophon/v2/face/deleteidentities", `{"identity_ids":["c2","c3"],"notify_path":"`+recv.URL("/sophon")+`"}`)
		require.Equal(t, http.StatusOK, status, body)
		sophonID := body["request_id"].(string)

		status, body = c.post("/v1/deletions", `{"person_ids":["c1"],"callback_format":"sophon"}`)
		require.Equal(t, http.StatusBadRequest, status, "a format without a callback_url: %v", body)
		status, body = c.post("/v1/deletions", `{"person_ids":["c1"],"callback_url":"`+recv.URL("/x")+`","callback_format":"xml"}`)
		require.Equal(t, http.StatusBadRequest, status, body)

		recv.waitFor(20*time.Second, func() bool { return len(recv.all()) == 2 }, "both callbacks")
		byPath := map[string]map[string]any{}
		for _, d := range recv.all() {
			var v map[string]any
			require.NoError(t, json.Unmarshal(d.Raw, &v))
			require.NotEmpty(t, d.ID)
			byPath[d.Path] = v
		}
		require.Equal(t, map[string]any{"result": true, "code": "EXECUTE_SUCCESS", "message": "execute success",
			"message_key": "deleteidentities", "request_id": nativeID,
			"ext_data": map[string]any{"success_identity_ids": []any{"c1"}, "failed_identity_ids": []any{"nobody"}}}, byPath["/native-sophon"])
		require.Equal(t, map[string]any{"result": true, "code": "EXECUTE_SUCCESS", "message": "execute success",
			"message_key": "deleteidentities", "request_id": sophonID,
			"ext_data": map[string]any{"success_identity_ids": []any{"c2", "c3"}, "failed_identity_ids": []any{}}}, byPath["/sophon"])
	})
}
