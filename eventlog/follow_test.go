package eventlog_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/events"
)

// A follower that gives up (fn fails) while the log still has a backlog must not leave its
// fetching goroutine behind: a projection runner follows again on the same long-lived context
// every time another replica moves the checkpoint.
//
// Not parallel: it counts every Follow goroutine of the test binary, so no other test may run.
func TestFollowLeavesNoGoroutineWhenFnFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := newStore(t)
	appendPersons(ctx, t, s, 100)
	for range 10 {
		err := s.Follow(ctx, 1, 2, func(context.Context, []events.Recorded) error {
			time.Sleep(20 * time.Millisecond) // let the fetcher fill its buffer
			return errStop
		})
		require.ErrorIs(t, err, errStop)
	}
	require.Eventually(t, func() bool { return followGoroutines() == 0 }, 5*time.Second, 20*time.Millisecond,
		"%d goroutines of Follow left", followGoroutines())
}

// followGoroutines counts the goroutines started by Store.Follow.
func followGoroutines() int {
	buf := make([]byte, 8<<20)
	n := runtime.Stack(buf, true)
	count := 0
	for _, g := range strings.Split(string(buf[:n]), "\n\n") {
		if strings.Contains(g, "events.(*Store).Follow.func") {
			count++
		}
	}
	return count
}
