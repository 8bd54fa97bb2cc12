package storeerr

import (
	"context"
	"errors"
	"time"

	"github.com/erasure-dev/erasure/internal/retry"
)

// WaitUp calls try until it succeeds, fails for a reason other than a store that is down
// (Down), or within has passed, waiting between calls as the shared retry policy does (a random
// wait of up to 100 ms, doubling to 2 s). A JetStream cluster electing its leaders answers
// "temporarily unavailable" for a while (a node restarted, a healed partition): opening the log,
// a follower or a key-value bucket waits for it this way, and the jitter keeps the replicas that
// restarted together from asking at the same moments. A call that timed out on its own deadline,
// while ctx is still alive, is the same unavailability seen from the client. It returns try's
// last error, joined with ctx's when ctx ended the wait.
func WaitUp(ctx context.Context, within time.Duration, try func() error) error {
	p := retry.Policy{Initial: 100 * time.Millisecond, Max: 2 * time.Second, Multiplier: 2, MaxElapsed: within}
	return retry.Do(ctx, p, func(ctx context.Context) error {
		err := try()
		if err != nil && !Down(err) && !(errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil) {
			return retry.Permanent(err)
		}
		return err
	})
}
