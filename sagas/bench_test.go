package sagas_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/testenv"
	"github.com/erasure-dev/erasure/internal/testenv/jstest"
	"github.com/erasure-dev/erasure/sagas"
)

// nopTarget is a downstream that removes nothing and never fails: the benchmark measures the
// saga's own cost (consume, decide, atomic-batch record, acknowledge).
type nopTarget struct{}

func (nopTarget) UnbindPermissionGroups(context.Context, []string) error   { return nil }
func (nopTarget) PurgeFaces(context.Context, []string) error               { return nil }
func (nopTarget) PurgePhotos(context.Context, []events.PersonPhotos) error { return nil }

type countingShredder struct{ n atomic.Int64 }

func (c *countingShredder) Destroy(_ context.Context, ids ...string) error {
	c.n.Add(int64(len(ids)))
	return nil
}

// BenchmarkSagaSteps drives b.N persons from PersonDeletionRequested to PersonDeleted (four
// recorded steps each) on a real embedded JetStream with fsync on every write.
func BenchmarkSagaSteps(b *testing.B) {
	ctx := context.Background()
	log := jstest.Store(b, jstest.New(b, jstest.Options{Durable: true}), eventlog.StoreConfig{Atomic: true})

	var batch []eventlog.Pending
	for i := range b.N {
		id := fmt.Sprintf("p%d", i)
		created, err := events.New(events.AggregatePerson, id, events.PersonCreated{PersonID: id, Faces: []events.Face{{FaceID: "f" + id, PhotoKey: "k" + id}}}, events.Meta{})
		require.NoError(b, err)
		batch = append(batch, eventlog.Pending{Event: created})
	}
	seqs, errs := log.AppendBatch(ctx, batch)
	for _, err := range errs {
		require.NoError(b, err)
	}
	shredder := &countingShredder{}
	saga := sagas.NewPersonDeletionSaga(log, nopTarget{}, shredder, sagas.PersonDeletionConfig{Logger: testenv.Logger()})
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = saga.Run(runCtx) }()

	b.ResetTimer()
	requests := make([]eventlog.Pending, b.N)
	for i := range b.N {
		id := fmt.Sprintf("p%d", i)
		e, err := events.New(events.AggregatePerson, id, events.PersonDeletionRequested{PersonID: id, DeletionID: "d",
			Faces: []events.Face{{FaceID: "f" + id, PhotoKey: "k" + id}}}, events.Meta{})
		require.NoError(b, err)
		requests[i] = eventlog.Pending{Expected: seqs[i], Event: e}
	}
	_, errs = log.AppendBatch(ctx, requests)
	for _, err := range errs {
		require.NoError(b, err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for shredder.n.Load() < int64(b.N) {
		require.True(b, time.Now().Before(deadline), "saga stalled at %d of %d", shredder.n.Load(), b.N)
		time.Sleep(time.Millisecond)
	}
	// The last step appends right after destroying the keys; wait for it to be in the log.
	want, err := log.LastSequence(ctx)
	require.NoError(b, err)
	for want < uint64(6*b.N) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
		want, _ = log.LastSequence(ctx)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "persons/s")
}
