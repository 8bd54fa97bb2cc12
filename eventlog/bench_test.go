package eventlog_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/testenv/jstest"
)

func benchStore(b *testing.B, atomic bool) *eventlog.Store {
	b.Helper()
	return jstest.Store(b, jstest.New(b, jstest.Options{Durable: true}), eventlog.StoreConfig{Atomic: atomic})
}

func pendingBatch(b *testing.B, round, n int) []eventlog.Pending {
	batch := make([]eventlog.Pending, n)
	for i := range batch {
		id := fmt.Sprintf("p%d-%d", round, i)
		e, err := events.New(events.AggregatePerson, id, events.PersonDeleted{PersonID: id, DeletionID: "d"}, events.Meta{})
		require.NoError(b, err)
		batch[i] = eventlog.Pending{Event: e}
	}
	return batch
}

// BenchmarkAppend measures the durable (fsync-always) append paths per event: one at a time,
// asynchronous publishes, and atomic batches of 500.
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	b.Run("single", func(b *testing.B) {
		s := benchStore(b, false)
		batch := pendingBatch(b, 0, b.N)
		b.ResetTimer()
		for i := range b.N {
			if _, err := s.Append(ctx, 0, batch[i].Event); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, mode := range []struct {
		name   string
		atomic bool
	}{{"async", false}, {"atomic", true}} {
		b.Run(mode.name, func(b *testing.B) {
			s := benchStore(b, mode.atomic)
			const size = 500
			rounds := (b.N + size - 1) / size
			batches := make([][]eventlog.Pending, rounds)
			for r := range batches {
				batches[r] = pendingBatch(b, r, size)
			}
			b.ResetTimer()
			for _, batch := range batches {
				_, errs := s.AppendBatch(ctx, batch)
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(rounds*size)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
