package storeerr_test

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/storeerr"
)

func TestWaitUp(t *testing.T) {
	t.Parallel()
	errRefused := errors.New("stream name already in use")
	down := syscall.ECONNREFUSED
	tests := []struct {
		name      string
		within    time.Duration
		results   []error // per call; the last repeats
		wantErr   error
		wantCalls int // exact; 0: at least 2
	}{
		{"up at once", time.Minute, []error{nil}, nil, 1},
		{"up after an outage", time.Minute, []error{down, down, nil}, nil, 3},
		{"a call timed out on its own deadline: the same outage", time.Minute,
			[]error{context.DeadlineExceeded, nil}, nil, 2},
		{"a refusal ends it at once", time.Minute, []error{down, errRefused}, errRefused, 2},
		{"down for longer than within: the last error", 300 * time.Millisecond, []error{down}, down, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			calls := 0
			start := time.Now()
			err := storeerr.WaitUp(context.Background(), tt.within, func() error {
				calls++
				return tt.results[min(calls, len(tt.results))-1]
			})
			if tt.wantErr == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tt.wantErr)
			}
			if tt.wantCalls == 0 {
				require.GreaterOrEqual(t, calls, 2)
				// The last wait ends at within, not a full 2s wait past it.
				require.Less(t, time.Since(start), tt.within+time.Second)
			} else {
				require.Equal(t, tt.wantCalls, calls)
			}
		})
	}
	t.Run("ctx ends the wait", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err := storeerr.WaitUp(ctx, time.Hour, func() error { return down })
		require.ErrorIs(t, err, down)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
}
