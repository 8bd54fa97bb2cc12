package storeerr

import (
	"context"
	"errors"
	"time"
)

// WaitUp calls try until it succeeds, fails for a reason other than a store that is down
// (Down), or within has passed, waiting between calls (100 ms, doubling to 2 s). A JetStream
// cluster electing its leaders answers "temporarily unavailable" for a while (a node restarted, a
// healed partition): opening the log, a follower or a key-value bucket waits for it this way. A
// call that timed out on its own deadline, while ctx is still alive, is the same unavailability
// seen from the client. It returns try's last error, joined with ctx's when ctx ended the wait.
func WaitUp(ctx context.Context, within time.Duration, try func() error) error {
	deadline := time.Now().Add(within)
	delay := 100 * time.Millisecond
	for {
		err := try()
		retryable := Down(err) || errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil
		if err == nil || !retryable || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}
