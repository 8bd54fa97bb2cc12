package webhooks_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv"
)

// Without ERASURE_WEBHOOK_ALLOW_PRIVATE, targets on loopback, link-local and private addresses
// are refused, for subscriptions and for a deletion's callback_url alike; a refused request
// records nothing.
func TestPrivateTargetsAreRefused(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		cfg := testenv.Config(t, dialect)
		cfg.WebhookAllowPrivate = false
		env := testenv.Start(t, cfg)
		c := client{t, env.HTTP.URL}
		recv := newReceiver(t)
		for _, url := range []string{
			recv.URL("/hook"),
			"http://localhost:8080/hook",
			"http://[::1]/hook",
			"http://10.1.2.3/hook",
			"http://172.16.0.1/hook",
			"http://192.168.1.10:8443/hook",
			"http://169.254.169.254/latest/meta-data",
			"https://[fe80::1]/hook",
			"http://[::ffff:127.0.0.1]/hook",
			"http://0.0.0.0/hook",
			"http://100.64.0.1/hook",
		} {
			status, body := c.post("/v1/webhooks", `{"url":"`+url+`","event_types":["person.deleted"]}`)
			require.Equal(t, http.StatusBadRequest, status, "%s: %v", url, body)
			require.Equal(t, "URL_NOT_ALLOWED", body["error"].(map[string]any)["code"], "%s: %v", url, body)
		}
		for _, url := range []string{"ftp://example.com/x", "example.com/hook", "http://user:pw@example.com/hook", "http:///nohost"} {
			status, body := c.post("/v1/webhooks", `{"url":"`+url+`"}`)
			require.Equal(t, http.StatusBadRequest, status, "%s: %v", url, body)
			require.Equal(t, "INVALID_URL", body["error"].(map[string]any)["code"], "%s: %v", url, body)
		}
		_, list := c.get("/v1/webhooks")
		require.Empty(t, list["webhooks"])

		c.createPerson("v1")
		status, body := c.post("/v1/deletions", `{"person_ids":["v1"],"callback_url":"`+recv.URL("/cb")+`"}`)
		require.Equal(t, http.StatusBadRequest, status, body)
		require.Equal(t, "URL_NOT_ALLOWED", body["error"].(map[string]any)["code"], body)
		_, p := c.get("/v1/persons/v1")
		require.Equal(t, "active", p["state"], "a refused request deletes nothing")

		status, body = c.post("/sophon/v2/face/deleteidentities", `{"identity_ids":["v1"],"notify_path":"`+recv.URL("/cb")+`"}`)
		require.Equal(t, http.StatusBadRequest, status, body)
		require.Equal(t, "INVALID_ARGUMENTS", body["error"].(map[string]any)["code"], body)
		_, p = c.get("/v1/persons/v1")
		require.Equal(t, "active", p["state"], "a refused Sophon request deletes nothing")
		require.Empty(t, recv.all())
	})
}
