package webhooks

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/require"
)

// The intake retries a failing handler under the shared policy: intakeRetry's four calls, then
// the error goes back to the router (which naks the event, so it comes back later).
func TestIntakeRetrying(t *testing.T) {
	t.Parallel()
	errDB := errors.New("database is down")
	produced := []*message.Message{message.NewMessage("out", nil)}
	tests := []struct {
		name      string
		failures  int // the handler fails this many times, then succeeds
		wantErr   bool
		wantCalls int
	}{
		{"succeeds at once", 0, false, 1},
		{"succeeds on the last call", intakeRetry.Attempts - 1, false, intakeRetry.Attempts},
		{"fails every call: the error goes back", 100, true, intakeRetry.Attempts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &Service{logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			calls := 0
			h := s.retrying(func(*message.Message) ([]*message.Message, error) {
				calls++
				if calls <= tt.failures {
					return nil, errDB
				}
				return produced, nil
			})
			start := time.Now()
			out, err := h(message.NewMessage(watermill.NewUUID(), nil))
			if tt.wantErr {
				require.ErrorIs(t, err, errDB)
			} else {
				require.NoError(t, err)
				require.Equal(t, produced, out)
			}
			require.Equal(t, tt.wantCalls, calls)
			// Waits of at most 50+100+200ms: the budget stays under AckWait by far.
			require.Less(t, time.Since(start), 2*time.Second)
		})
	}
	t.Run("a cancelled message context stops the retries", func(t *testing.T) {
		t.Parallel()
		s := &Service{logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		ctx, cancel := context.WithCancel(context.Background())
		msg := message.NewMessage(watermill.NewUUID(), nil)
		msg.SetContext(ctx)
		calls := 0
		_, err := s.retrying(func(*message.Message) ([]*message.Message, error) {
			calls++
			cancel()
			return nil, errDB
		})(msg)
		require.ErrorIs(t, err, errDB)
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, 1, calls)
	})
}
