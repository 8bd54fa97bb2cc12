package native_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv"
)

func TestWebhookSubscriptionsAPI(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		cfg := testenv.Config(t, dialect)
		cfg.WebhookAllowPrivate = true
		env := testenv.Start(t, cfg)
		c := client{t, env.HTTP.URL}

		code := func(body map[string]any) any { return body["error"].(map[string]any)["code"] }
		for _, tt := range []struct{ body, code string }{
			{`{"url":`, "INVALID_JSON"},
			{`{"event_types":["person.deleted"]}`, "MISSING_ARGUMENT"},
			{`{"url":"http://127.0.0.1:9/x","event_types":["person.created"]}`, "UNKNOWN_EVENT_TYPE"},
			{`{"url":"http://127.0.0.1:9/x","secret":"mine"}`, "UNKNOWN_FIELD"},
			{`{"url":"mailto:a@b.c"}`, "INVALID_URL"},
		} {
			status, body := c.post("/v1/webhooks", tt.body)
			require.Equal(t, http.StatusBadRequest, status, "%s: %v", tt.body, body)
			require.Equal(t, tt.code, code(body), tt.body)
		}

		status, created := c.post("/v1/webhooks", `{"url":"http://127.0.0.1:9/x","event_types":["group.deleted","group.deleted"]}`)
		require.Equal(t, http.StatusCreated, status, created)
		id := created["id"].(string)
		require.Equal(t, []any{"group.deleted"}, created["event_types"])
		require.Equal(t, "active", created["state"])

		status, got := c.get("/v1/webhooks/" + id)
		require.Equal(t, http.StatusOK, status)
		require.NotContains(t, got, "secret")

		status, body := c.get("/v1/webhooks/" + id + "/deliveries?state=lost")
		require.Equal(t, http.StatusBadRequest, status, body)
		status, body = c.get("/v1/webhooks/" + id + "/deliveries")
		require.Equal(t, http.StatusOK, status, body)
		require.Empty(t, body["deliveries"])
		status, body = c.post("/v1/webhooks/"+id+"/rotate", `{"overlap_seconds":0}`)
		require.Equal(t, http.StatusBadRequest, status, body)
		status, body = c.post("/v1/webhooks/"+id+"/rotate", `{"overlap_seconds":60}`)
		require.Equal(t, http.StatusOK, status, body)
		require.NotEqual(t, created["secret"], body["secret"])

		req, err := http.NewRequest(http.MethodDelete, env.HTTP.URL+"/v1/webhooks/"+id, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		for _, r := range []struct{ method, path string }{
			{http.MethodGet, "/v1/webhooks/" + id},
			{http.MethodDelete, "/v1/webhooks/" + id},
			{http.MethodPost, "/v1/webhooks/" + id + "/rotate"},
			{http.MethodGet, "/v1/webhooks/" + id + "/deliveries"},
			{http.MethodPost, "/v1/webhooks/" + id + "/deliveries/1/redeliver"},
		} {
			status, body := c.do(r.method, r.path, "", "")
			require.Equal(t, http.StatusNotFound, status, "%s %s: %v", r.method, r.path, body)
			require.Equal(t, "NOT_FOUND", code(body))
		}
		_, list := c.get("/v1/webhooks")
		require.Empty(t, list["webhooks"])
	})
}
