package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWebhookSettingsFromEnv(t *testing.T) {
	c := FromEnv()
	require.Equal(t, DefaultWebhookRetrySchedule, c.WebhookRetrySchedule)
	require.False(t, c.WebhookAllowPrivate)
	require.Equal(t, 10*time.Second, c.WebhookTimeout)

	t.Setenv("ERASURE_WEBHOOK_RETRY_SCHEDULE", " 1s, 2m ,3h")
	t.Setenv("ERASURE_WEBHOOK_ALLOW_PRIVATE", "true")
	t.Setenv("ERASURE_WEBHOOK_TIMEOUT", "3s")
	c = FromEnv()
	require.Equal(t, []time.Duration{time.Second, 2 * time.Minute, 3 * time.Hour}, c.WebhookRetrySchedule)
	require.True(t, c.WebhookAllowPrivate)
	require.Equal(t, 3*time.Second, c.WebhookTimeout)
	require.NoError(t, c.validateWebhooks())

	t.Setenv("ERASURE_WEBHOOK_RETRY_SCHEDULE", "")
	require.Empty(t, FromEnv().WebhookRetrySchedule, "empty: a single attempt")

	for name, value := range map[string]string{
		"ERASURE_WEBHOOK_RETRY_SCHEDULE": "5s,soon",
		"ERASURE_WEBHOOK_ALLOW_PRIVATE":  "yes please",
		"ERASURE_WEBHOOK_TIMEOUT":        "forever",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, value)
			c := FromEnv()
			err := c.validateWebhooks()
			require.Error(t, err)
			require.Contains(t, err.Error(), name)
		})
	}
}
