package eventlog_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
)

// TestDeliveredCountsEveryConsumer: the benchmark's deliveries_per_person adds up what the durable
// consumers and the followers received; the server's count per durable consumer agrees.
// Not parallel: the counter is the process's.
func TestDeliveredCountsEveryConsumer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := newStore(t)
	const n = 20
	appendPersons(ctx, t, s, n)
	before := eventlog.Delivered()

	followCtx, stopFollow := context.WithCancel(ctx)
	followed := 0
	err := s.Follow(followCtx, 1, 8, func(_ context.Context, batch []events.Recorded) error {
		if followed += len(batch); followed == n {
			stopFollow()
		}
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, uint64(n), eventlog.Delivered()-before, "a follower's deliveries")

	consumeCtx, stopConsume := context.WithCancel(ctx)
	acked := make(chan int, n)
	go func() {
		_ = s.Consume(consumeCtx, eventlog.DurableConfig{Name: "counted", Filter: events.AggregatePerson + ".>", BatchSize: 4},
			func(_ context.Context, batch []eventlog.Delivery) {
				for _, d := range batch {
					_ = d.Msg.Ack()
				}
				acked <- len(batch)
			})
	}()
	for got := 0; got < n; got += <-acked {
	}
	stopConsume()
	require.Equal(t, uint64(2*n), eventlog.Delivered()-before, "and a durable consumer's")
	byConsumer, err := s.ConsumerDeliveries(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]uint64{"counted": n}, byConsumer, "the server counts the same for the durable consumer; followers are gone")

}

// TestConsumeAsksForSeveralMessages: a durable consumer handed one event at a time (the batch
// saga, the dispatcher) still asks the server for two a worker. Asking for one, nats.go could be
// left with no request outstanding until two heartbeats were missed (consume.go explains how):
// the batch saga stood still for two seconds now and then.
func TestConsumeAsksForSeveralMessages(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js := newJetStream(t)
	s := newStoreOn(t, js, eventlog.StoreConfig{})
	requests := make(chan *nats.Msg, 64)
	sub, err := js.Conn().ChanSubscribe("$JS.API.CONSUMER.MSG.NEXT.>", requests)
	require.NoError(t, err)
	defer sub.Unsubscribe() //nolint:errcheck // the connection closes with the test
	_, err = s.Append(ctx, 0, mustEvent(t, "one", events.PersonCreated{PersonID: "one"}))
	require.NoError(t, err)

	consumeCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- s.Consume(consumeCtx, eventlog.DurableConfig{Name: "one-at-a-time", Filter: events.AggregatePerson + ".>", BatchSize: 1, Workers: 4},
			func(_ context.Context, batch []eventlog.Delivery) {
				for _, d := range batch {
					_ = d.Msg.Ack()
				}
				stop()
			})
	}()
	select {
	case m := <-requests:
		var req struct {
			Batch int `json:"batch"`
		}
		require.NoError(t, json.Unmarshal(m.Data, &req), "%s", m.Data)
		require.Equal(t, 8, req.Batch, "two messages for each of the four workers: %s", m.Data)
	case <-ctx.Done():
		t.Fatal("no pull request seen")
	}
	require.ErrorIs(t, <-done, context.Canceled)
}

// TestConsumerBacklog: the benchmark measures a burst's cost once every durable consumer has
// received and acknowledged what the burst appended; the backlog counts both.
func TestConsumerBacklog(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := newStore(t)
	const n = 12
	appendPersons(ctx, t, s, n)
	backlog := func() uint64 {
		b, err := s.ConsumerBacklog(ctx)
		require.NoError(t, err)
		return b["lagging"]
	}
	release, received := make(chan struct{}), make(chan struct{}, 1)
	consumeCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		_ = s.Consume(consumeCtx, eventlog.DurableConfig{Name: "lagging", Filter: events.AggregatePerson + ".>", BatchSize: 4},
			func(ctx context.Context, batch []eventlog.Delivery) {
				select {
				case received <- struct{}{}:
				default:
				}
				select {
				case <-release: // acknowledged only once the test lets it
				case <-ctx.Done():
					return
				}
				for _, d := range batch {
					_ = d.Msg.Ack()
				}
			})
	}()
	select {
	case <-received:
	case <-ctx.Done():
		t.Fatal("nothing received")
	}
	require.Equal(t, uint64(n), backlog(), "received or not, nothing is acknowledged: all %d are backlog", n)
	close(release)
	require.Eventually(t, func() bool { return backlog() == 0 }, 10*time.Second, 20*time.Millisecond, "all acknowledged")
}
