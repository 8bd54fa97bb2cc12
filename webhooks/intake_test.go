package webhooks

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/sqldb"
	"github.com/erasure-dev/erasure/internal/testenv/jstest"
)

// The intake's durable consumer outlives a shutdown, with its position: otherwise every start
// would read the whole log again.
func TestIntakeConsumerSurvivesShutdown(t *testing.T) {
	js := jstest.New(t, jstest.Options{})
	log := jstest.Store(t, js, eventlog.StoreConfig{Memory: true})
	ctx := context.Background()
	dbs, err := sqldb.OpenSQLite(t.TempDir())
	require.NoError(t, err)
	defer dbs.Close()
	require.NoError(t, dbs.Migrate(ctx))

	svc, err := New(Config{AllowPrivate: true, Poll: 50 * time.Millisecond}, Deps{DB: dbs.Stores, Log: log, JS: js, Stream: "ERASURE",
		Exclusive: true})
	require.NoError(t, err)
	e, err := events.New(events.AggregatePerson, "p1", events.PersonDeleted{PersonID: "p1", DeletionID: "d1"}, events.Meta{})
	require.NoError(t, err)
	seq, err := log.Append(ctx, 0, e)
	require.NoError(t, err)

	ackFloor := func() uint64 {
		c, err := js.Consumer(ctx, "ERASURE", intakeDurable)
		if err != nil {
			return 0
		}
		info, err := c.Info(ctx)
		if err != nil {
			return 0
		}
		return info.AckFloor.Stream
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	require.Eventually(t, func() bool { return ackFloor() >= seq }, 10*time.Second, 20*time.Millisecond, "the intake acknowledged the event")
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the dispatcher did not stop")
	}
	require.GreaterOrEqual(t, ackFloor(), seq, "the consumer and its position are still there after the shutdown")
}
