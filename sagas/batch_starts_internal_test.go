package sagas

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/events"
)

func startOf(persons int) events.Recorded {
	ps := make([]events.BatchPerson, persons)
	for i := range ps {
		ps[i].PersonID = fmt.Sprintf("p-%d", i)
	}
	return events.Recorded{Envelope: events.Envelope{Data: events.DeletionBatchStarted{Persons: ps}}}
}

// The kept starts never hold more persons than the bound: the oldest go first, a completed
// batch's start goes at once, and a start larger than the bound is not kept at all.
func TestBatchStartsStayBounded(t *testing.T) {
	c := newBatchStarts(10)
	c.put("a", startOf(4))
	c.put("b", startOf(4))
	c.put("c", startOf(4)) // evicts a
	_, ok := c.get("a")
	require.False(t, ok)
	for _, k := range []string{"b", "c"} {
		_, ok := c.get(k)
		require.True(t, ok, k)
	}
	require.Equal(t, 8, c.persons)

	c.forget("b")
	require.Equal(t, 4, c.persons)
	c.put("d", startOf(6))
	require.Equal(t, 10, c.persons)
	c.put("huge", startOf(11))
	_, ok = c.get("huge")
	require.False(t, ok)

	c.forget("c")
	c.forget("d")
	require.Zero(t, c.persons)
	require.Zero(t, c.order.Len(), "the eviction order does not outgrow the kept starts")
}

// A start kept long (its batch stuck, or ended by another replica) does not let the eviction
// order grow with every batch that completes behind it.
func TestBatchStartsOrderStaysBoundedBehindAStuckBatch(t *testing.T) {
	c := newBatchStarts(1_000_000)
	c.put("stuck", startOf(1))
	for i := range 10_000 {
		b := fmt.Sprintf("b-%d", i)
		c.put(b, startOf(1))
		c.forget(b)
	}
	require.Equal(t, len(c.byBatch), c.order.Len())
	_, ok := c.get("stuck")
	require.True(t, ok)
}
