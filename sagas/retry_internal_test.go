package sagas

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRetryBudget checks that Retry keeps its budget on the shared policy: Attempts calls for a
// refusal, none spent while a store is down, alive before every wait, and ctx ending the wait.
func TestRetryBudget(t *testing.T) {
	t.Parallel()
	errRefused := errors.New("refused")
	errDown := syscall.ECONNREFUSED // storeerr.Down: the store is not reachable
	r := Retry{Attempts: 3, Initial: time.Millisecond, Max: 2 * time.Millisecond}
	tests := []struct {
		name       string
		results    []error // per call; the last repeats
		wantErr    error
		wantCalls  int
		wantAlives int
	}{
		{"success", []error{nil}, nil, 1, 0},
		{"refusals spend the attempts", []error{errRefused}, errRefused, 3, 2},
		{"an outage spends none", []error{errDown, errDown, errDown, errDown, errRefused, nil}, nil, 6, 5},
		{"an outage then refusals", []error{errDown, errDown, errRefused}, errRefused, 5, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			calls, alives := 0, 0
			err := r.doAlive(context.Background(), func() error {
				calls++
				return tt.results[min(calls, len(tt.results))-1]
			}, func() { alives++ })
			if tt.wantErr == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tt.wantErr)
			}
			require.Equal(t, tt.wantCalls, calls)
			require.Equal(t, tt.wantAlives, alives)
		})
	}
	t.Run("ctx ends an outage's wait", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		slow := Retry{Attempts: 3, Initial: time.Hour, Max: time.Hour}
		calls := 0
		start := time.Now()
		err := slow.doAlive(ctx, func() error { calls++; return errDown }, cancel)
		require.Less(t, time.Since(start), 5*time.Second)
		require.ErrorIs(t, err, errDown)
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, 1, calls)
	})
}
