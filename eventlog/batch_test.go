package eventlog_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
)

func TestAppendBatch(t *testing.T) {
	for _, atomic := range []bool{true, false} {
		t.Run(map[bool]string{true: "atomic", false: "async"}[atomic], func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := newStoreOn(t, newJetStream(t), eventlog.StoreConfig{Atomic: atomic})

			existing, err := s.Append(ctx, 0, mustEvent(t, "old", events.PersonCreated{PersonID: "old"}))
			require.NoError(t, err)
			batch := []eventlog.Pending{
				{Expected: 0, Event: mustEvent(t, "n1", events.PersonCreated{PersonID: "n1"})},
				{Expected: existing, Event: mustEvent(t, "old", events.PersonAddedToGroup{PersonID: "old", GroupID: "g"})},
				{Expected: 0, Event: mustEvent(t, "n2", events.PersonCreated{PersonID: "n2"})},
			}
			seqs, errs := s.AppendBatch(ctx, batch)
			for _, err := range errs {
				require.NoError(t, err)
			}
			for i, p := range batch {
				raw, _, err := s.Load(ctx, p.Event.Aggregate, p.Event.AggregateID)
				require.NoError(t, err)
				require.Equal(t, seqs[i], raw[len(raw)-1].Seq, "append %d got the sequence it was stored at", i)
				require.Equal(t, p.Event.ID, raw[len(raw)-1].ID)
			}

			// One stale aggregate: it alone fails; the others in the batch are stored.
			stale := []eventlog.Pending{
				{Expected: 0, Event: mustEvent(t, "n3", events.PersonCreated{PersonID: "n3"})},
				{Expected: existing, Event: mustEvent(t, "old", events.PersonAddedToGroup{PersonID: "old", GroupID: "h"})},
				{Expected: 0, Event: mustEvent(t, "n4", events.PersonCreated{PersonID: "n4"})},
			}
			_, errs = s.AppendBatch(ctx, stale)
			require.NoError(t, errs[0])
			require.ErrorIs(t, errs[1], eventlog.ErrConcurrency)
			require.NoError(t, errs[2])

			// A retried batch (same event ids) is stored once.
			seqs2, errs := s.AppendBatch(ctx, batch)
			for _, err := range errs {
				require.NoError(t, err)
			}
			require.Equal(t, seqs, seqs2)
			history, _, err := s.Load(ctx, events.AggregatePerson, "n1")
			require.NoError(t, err)
			require.Len(t, history, 1)
		})
	}
}
