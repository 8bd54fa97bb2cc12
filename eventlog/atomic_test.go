package eventlog_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
)

// AppendAtomic stores all or nothing: one stale subject refuses the whole batch (as a
// conflict), and nothing of it is stored; a batch within its checks is stored contiguously.
func TestAppendAtomic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	js := newJetStream(t)
	s := newStoreOn(t, js, eventlog.StoreConfig{Atomic: true})

	existing, err := s.Append(ctx, 0, mustEvent(t, "old", events.PersonCreated{PersonID: "old"}))
	require.NoError(t, err)
	stale := []eventlog.Pending{
		{Expected: 0, Event: mustEvent(t, "n1", events.PersonCreated{PersonID: "n1"})},
		{Expected: existing - 1, Event: mustEvent(t, "old", events.PersonAddedToGroup{PersonID: "old", GroupID: "g"})},
	}
	_, err = s.AppendAtomic(ctx, stale)
	require.ErrorIs(t, err, eventlog.ErrConcurrency)
	history, _, err := s.Load(ctx, events.AggregatePerson, "n1")
	require.NoError(t, err)
	require.Empty(t, history, "nothing of a refused atomic batch is stored")

	ok := []eventlog.Pending{
		{Expected: 0, Event: mustEvent(t, "n1", events.PersonCreated{PersonID: "n1"})},
		{Expected: existing, Event: mustEvent(t, "old", events.PersonAddedToGroup{PersonID: "old", GroupID: "g"})},
	}
	seqs, err := s.AppendAtomic(ctx, ok)
	require.NoError(t, err)
	require.Equal(t, []uint64{existing + 1, existing + 2}, seqs)

	_, err = s.AppendAtomic(ctx, append(ok, ok[0]))
	require.Error(t, err, "one subject twice in one atomic batch")

	plain := eventlog.NewStore(js, eventlog.StoreConfig{Stream: "PLAIN", Prefix: "plain"})
	_, err = plain.AppendAtomic(ctx, ok)
	require.ErrorIs(t, err, eventlog.ErrNotAtomic)
}
