package service_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/internal/testenv"
	"github.com/erasure-dev/erasure/service"
)

func ids(prefix string, n int) func(func(string) bool) error {
	return func(yield func(string) bool) error {
		for i := range n {
			if !yield(fmt.Sprintf("%s-%06d", prefix, i)) {
				break
			}
		}
		return nil
	}
}

// While the sagas fall behind (here: the dispatcher does not run), a bulk intake that would push
// the backlog over ERASURE_MAX_PENDING waits before recording more of its IDs; once the backlog
// shrinks (the first request is cancelled), it goes on and is accepted whole.
func TestBulkIntakeWaitsWhileTheBacklogIsOverItsBound(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		cfg := testenv.Config(t, dialect)
		cfg.MaxPending = 9_000
		env := testenv.Start(t, cfg, service.Without("deletion-dispatcher"))
		ctx := context.Background()
		caller := app.Caller{RequestID: "t", Actor: "test"}
		first, _, err := env.Svc.App.RequestDeletion(ctx, caller, app.DeletionInput{IDs: ids("a", 2_000)})
		require.NoError(t, err)

		done := make(chan error, 1)
		var second string
		go func() {
			var err error
			second, _, err = env.Svc.App.RequestDeletion(ctx, caller, app.DeletionInput{IDs: ids("b", 10_000)})
			done <- err
		}()
		select {
		case err := <-done:
			t.Fatalf("the intake did not wait for room (err %v)", err)
		case <-time.After(1500 * time.Millisecond):
		}
		d, err := env.Svc.App.GetDeletion(ctx, first)
		require.NoError(t, err)
		require.Equal(t, 2_000, d.Pending)

		require.NoError(t, env.Svc.App.CancelDeletion(ctx, caller, first))
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(20 * time.Second):
			t.Fatal("the intake did not go on once the backlog shrank")
		}
		d, err = env.Svc.App.GetDeletion(ctx, second)
		require.NoError(t, err)
		require.Equal(t, 10_000, d.Total, "accepted whole")
	})
}
