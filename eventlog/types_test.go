package eventlog_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
)

// ReadTypes reads an aggregate's events' types and places, oldest first, up to a sequence, in
// batches of at most max, and nothing of other aggregates.
func TestReadTypes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	read := func(to uint64, max int) ([]eventlog.Typed, int) {
		var got []eventlog.Typed
		batches := 0
		require.NoError(t, s.ReadTypes(ctx, events.AggregatePerson, to, max, func(ts []eventlog.Typed) error {
			require.LessOrEqual(t, len(ts), max)
			batches++
			got = append(got, ts...)
			return nil
		}))
		return got, batches
	}
	got, _ := read(100, 10)
	require.Empty(t, got, "an empty log")

	seqs := appendPersons(ctx, t, s, 3) // p0, p1, p2 created: 1, 2, 3
	group, err := events.New(events.AggregateGroup, "g", events.GroupCreated{GroupID: "g"}, events.Meta{})
	require.NoError(t, err)
	_, err = s.Append(ctx, 0, group)
	require.NoError(t, err)
	deleted, err := s.Append(ctx, seqs[1], mustEvent(t, "p1", events.PersonDeleted{PersonID: "p1", DeletionID: "d"}))
	require.NoError(t, err)

	want := []eventlog.Typed{
		{AggregateID: "p0", Type: "PersonCreated", Seq: seqs[0]},
		{AggregateID: "p1", Type: "PersonCreated", Seq: seqs[1]},
		{AggregateID: "p2", Type: "PersonCreated", Seq: seqs[2]},
		{AggregateID: "p1", Type: "PersonDeleted", Seq: deleted},
	}
	got, batches := read(deleted, 2)
	require.Equal(t, want, got)
	require.GreaterOrEqual(t, batches, 2, "at most 2 a batch")
	got, _ = read(deleted+100, 3)
	require.Equal(t, want, got, "to beyond the end: up to the last")
	got, _ = read(seqs[1], 10)
	require.Equal(t, want[:2], got, "up to to, inclusive")
}
