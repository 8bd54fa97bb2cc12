package webhooks

import (
	"errors"
	"fmt"
	"time"

	"github.com/erasure-dev/erasure/internal/retry"
)

// DefaultRetrySchedule is the wait before each retry of a failed delivery (Standard Webhooks'
// reference schedule, about a day and a half in all); after the last retry fails the delivery is
// dead-lettered.
var DefaultRetrySchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// Config tunes the dispatcher. The zero value is the production default.
type Config struct {
	// RetrySchedule (ERASURE_WEBHOOK_RETRY_SCHEDULE) is the wait before each retry; each wait is
	// jittered by up to a fifth either way so that endpoints coming back are not hit in step.
	RetrySchedule []time.Duration
	// AllowPrivate (ERASURE_WEBHOOK_ALLOW_PRIVATE) lets URLs reach loopback, link-local and private
	// addresses. Off, they are refused at subscription and again at every connection, so a name
	// that resolves to a public address when subscribed and to 127.0.0.1 later gets nowhere.
	AllowPrivate bool
	// Timeout (ERASURE_WEBHOOK_TIMEOUT, default 10s) bounds one attempt, connection included.
	Timeout time.Duration
	// Concurrency is how many deliveries one endpoint may have in flight (default 4).
	Concurrency int
	// Poll is how often the scheduler looks for due deliveries that another replica queued
	// (default 1s); deliveries queued in this process are sent at once.
	Poll time.Duration
	// Settle is how long a new subscription waits before it takes effect (default Poll): the time
	// every replica needs to see it, so that none skips an event the subscription should get.
	Settle time.Duration
	// RotationOverlap is how long a rotated-out secret keeps signing beside the new one
	// (default 24h), so receivers can switch without dropping a delivery.
	RotationOverlap time.Duration
	// AckWait is how long the intake may hold a log event before JetStream hands it out again
	// (default 1m); it is far above the intake's own retry budget (under a second).
	AckWait time.Duration
}

// Limits.
const (
	maxResponseBody = 4 << 10 // read from a receiver's answer, to reuse the connection; the rest is dropped
	maxURLLength    = 2048
	maxRetryAfter   = 24 * time.Hour
)

// scheduleJitter is how far, as a fraction, a wait of the retry schedule is moved either way: a
// configured wait is kept as the mean (an operator who wrote 5m expects about five minutes), and
// a fifth either way still spreads endpoints that failed together over minutes to hours.
const scheduleJitter = 0.2

// intakeRetry is the intake's retry of a handler that failed (the database is down): four calls,
// waits of up to 50ms doubling to 500ms (well under a second in all); then the event comes back
// from JetStream after a second, as often as it takes.
var intakeRetry = retry.Policy{Attempts: 4, Initial: 50 * time.Millisecond, Max: 500 * time.Millisecond, Multiplier: 2}

func (c *Config) setDefaults() {
	if c.RetrySchedule == nil {
		c.RetrySchedule = DefaultRetrySchedule
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.Settle <= 0 {
		c.Settle = c.Poll
	}
	if c.RotationOverlap <= 0 {
		c.RotationOverlap = 24 * time.Hour
	}
	if c.AckWait <= 0 {
		c.AckWait = time.Minute
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	for _, d := range c.RetrySchedule {
		if d <= 0 {
			return errors.New("ERASURE_WEBHOOK_RETRY_SCHEDULE must be positive durations separated by commas, such as 5s,5m,30m,2h,5h,10h,10h")
		}
	}
	if c.Timeout > 5*time.Minute {
		return fmt.Errorf("ERASURE_WEBHOOK_TIMEOUT must be at most 5m, got %s", c.Timeout)
	}
	return nil
}
