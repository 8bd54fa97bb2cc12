package testenv

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/events"
)

// LastSeq returns the log's last stream sequence.
func (e *Env) LastSeq(t testing.TB) uint64 {
	t.Helper()
	seq, err := e.Svc.Log.LastSequence(context.Background())
	require.NoError(t, err)
	return seq
}

// EventsSince returns the events the log holds after seq, as far as the log reaches now.
func (e *Env) EventsSince(t testing.TB, seq uint64) []events.Recorded {
	t.Helper()
	last := e.LastSeq(t)
	if last <= seq {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []events.Recorded
	errDone := errors.New("done")
	err := e.Svc.Log.Follow(ctx, seq+1, 500, func(_ context.Context, batch []events.Recorded) error {
		out = append(out, batch...)
		if batch[len(batch)-1].Seq >= last {
			return errDone
		}
		return nil
	})
	require.ErrorIs(t, err, errDone)
	return out
}

// RequireNothingRecorded fails the test when an event after seq was caused by the request with
// the given id (X-Request-Id): every event a request leads to, its sagas' included, carries it as
// the correlation id, so this holds however busy the log is with other work.
func (e *Env) RequireNothingRecorded(t testing.TB, seq uint64, requestID string) {
	t.Helper()
	for _, r := range e.EventsSince(t, seq) {
		require.NotEqual(t, requestID, r.CorrelationID, "a refused request recorded %s on %s/%s", r.Type, r.Aggregate, r.AggregateID)
	}
}
