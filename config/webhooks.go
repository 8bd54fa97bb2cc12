package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// DefaultWebhookRetrySchedule is ERASURE_WEBHOOK_RETRY_SCHEDULE's default: the waits before
// each retry of a webhook delivery (about a day and a half in all), then the dead letters.
var DefaultWebhookRetrySchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// DefaultWebhookTimeout bounds one webhook delivery attempt.
const DefaultWebhookTimeout = 10 * time.Second

func (c *Config) webhooksFromEnv() {
	c.WebhookRetrySchedule = DefaultWebhookRetrySchedule
	c.WebhookTimeout = DefaultWebhookTimeout
	// Unparsable values are kept as invalid (-1) so that Validate names them.
	if v, ok := os.LookupEnv("ERASURE_WEBHOOK_RETRY_SCHEDULE"); ok {
		s, err := ParseSchedule(v)
		if err != nil {
			s = []time.Duration{-1}
		}
		c.WebhookRetrySchedule = s
	}
	if v := os.Getenv("ERASURE_WEBHOOK_ALLOW_PRIVATE"); v != "" {
		b, err := strconv.ParseBool(v)
		c.WebhookAllowPrivate = b
		if err != nil {
			c.webhookAllowPrivateInvalid = v
		}
	}
	if v := os.Getenv("ERASURE_WEBHOOK_TIMEOUT"); v != "" {
		c.WebhookTimeout = -1
		if d, err := time.ParseDuration(v); err == nil {
			c.WebhookTimeout = d
		}
	}
}

// ParseSchedule reads a retry schedule: durations separated by commas, such as "5s,5m,30m". An
// empty one means a single attempt, then the dead letters.
func ParseSchedule(s string) ([]time.Duration, error) {
	out := []time.Duration{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%q is not a positive duration", part)
		}
		out = append(out, d)
	}
	return out, nil
}

func (c *Config) validateWebhooks() error {
	for _, d := range c.WebhookRetrySchedule {
		if d <= 0 {
			return fmt.Errorf("ERASURE_WEBHOOK_RETRY_SCHEDULE must be positive durations separated by commas, such as 5s,5m,30m,2h,5h,10h,10h")
		}
	}
	if len(c.WebhookRetrySchedule) > 50 {
		return fmt.Errorf("ERASURE_WEBHOOK_RETRY_SCHEDULE has %d retries; at most 50", len(c.WebhookRetrySchedule))
	}
	if c.webhookAllowPrivateInvalid != "" {
		return fmt.Errorf("ERASURE_WEBHOOK_ALLOW_PRIVATE must be true or false, got %q", c.webhookAllowPrivateInvalid)
	}
	if c.WebhookTimeout < 0 || c.WebhookTimeout > 5*time.Minute {
		return fmt.Errorf("ERASURE_WEBHOOK_TIMEOUT must be a duration of at most 5m, such as 10s (0 means the default, 10s)")
	}
	return nil
}
