package wmjs_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv/jstest"
	"github.com/erasure-dev/erasure/internal/testenv/leakcheck"
	"github.com/erasure-dev/erasure/internal/wmjs"
)

// The subscriber's fetch and ack goroutines must end with its context or Close.
func TestMain(m *testing.M) { leakcheck.Main(m) }

func setup(t *testing.T, n int) jetstream.Consumer {
	t.Helper()
	js := jstest.New(t, jstest.Options{})
	ctx := context.Background()
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Storage: jetstream.MemoryStorage})
	require.NoError(t, err)
	for i := range n {
		_, err := js.Publish(ctx, "s.x", fmt.Appendf(nil, "m%d", i))
		require.NoError(t, err)
	}
	c, err := js.CreateOrUpdateConsumer(ctx, "S", jetstream.ConsumerConfig{Durable: "d", AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: 2 * time.Second})
	require.NoError(t, err)
	return c
}

func unmarshal(m jetstream.Msg) (*message.Message, error) {
	return message.NewMessage(string(m.Data()), m.Data()), nil
}

// subscribe starts a subscriber of cfg until the test ends.
func subscribe(t *testing.T, cfg wmjs.Config) (*wmjs.Subscriber, <-chan *message.Message) {
	t.Helper()
	sub, err := wmjs.New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	out, err := sub.Subscribe(ctx, "ignored")
	require.NoError(t, err)
	return sub, out
}

func ackFloor(t *testing.T, c jetstream.Consumer) uint64 {
	info, err := c.Info(context.Background())
	require.NoError(t, err)
	return info.AckFloor.Stream
}

// Messages arrive in order; a nacked one comes back after the nak delay; acked ones move the
// durable's ack floor; Delivered counts the redelivery too.
func TestDeliversInOrderAndRedeliversNacked(t *testing.T) {
	c := setup(t, 5)
	delivered := wmjs.Delivered()
	sub, out := subscribe(t, wmjs.Config{Consumer: c, Unmarshal: unmarshal})

	var got []string
	nacked := false
	for len(got) < 5 {
		select {
		case m := <-out:
			if m.UUID == "m2" && !nacked {
				nacked = true
				m.Nack()
				continue
			}
			got = append(got, m.UUID)
			m.Ack()
		case <-time.After(10 * time.Second):
			t.Fatalf("only %v arrived", got)
		}
	}
	require.Equal(t, []string{"m0", "m1", "m3", "m4", "m2"}, got, "in order; the nacked one after its delay")
	require.Equal(t, uint64(6), wmjs.Delivered()-delivered, "five messages and one redelivery")
	require.Eventually(t, func() bool { return ackFloor(t, c) == 5 }, 5*time.Second, 20*time.Millisecond)
	require.NoError(t, sub.Close())
	_, open := <-out
	require.False(t, open, "Close closes the output")
}

// Shutting down with a message handed out and not yet acknowledged neither races nor loses
// it: the output closes once, and the message comes back to the next subscriber (so do those
// pulled ahead, after AckWait).
func TestShutdownWithMessageInFlight(t *testing.T) {
	c := setup(t, 3)
	sub, err := wmjs.New(wmjs.Config{Consumer: c, Unmarshal: unmarshal})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	out, err := sub.Subscribe(ctx, "")
	require.NoError(t, err)
	m := <-out
	require.Equal(t, "m0", m.UUID)
	m.Ack()
	held := <-out // handed out, never settled
	require.Equal(t, "m1", held.UUID)
	cancel()
	require.NoError(t, sub.Close())
	for range out { // closed
	}
	require.Eventually(t, func() bool { return ackFloor(t, c) == 1 }, 5*time.Second, 10*time.Millisecond)

	sub, err = wmjs.New(wmjs.Config{Consumer: c, Unmarshal: unmarshal})
	require.NoError(t, err)
	defer sub.Close()
	out, err = sub.Subscribe(context.Background(), "")
	require.NoError(t, err)
	got := map[string]bool{}
	for len(got) < 2 {
		select {
		case m := <-out:
			got[m.UUID] = true
			m.Ack()
		case <-time.After(10 * time.Second):
			t.Fatalf("only %v came back", got)
		}
	}
	require.Equal(t, map[string]bool{"m1": true, "m2": true}, got)
	require.Eventually(t, func() bool { return ackFloor(t, c) == 3 }, 5*time.Second, 10*time.Millisecond)
}

// TestSkipAcknowledgesUnread: what Skip names is acknowledged without reaching the handler;
// the rest arrives in order, and the durable's ack floor passes both.
func TestSkipAcknowledgesUnread(t *testing.T) {
	c := setup(t, 6)
	delivered := wmjs.Delivered()
	sub, out := subscribe(t, wmjs.Config{Consumer: c, Unmarshal: unmarshal, Skip: func(_ context.Context, m jetstream.Msg) bool {
		return string(m.Data()) != "m1" && string(m.Data()) != "m4"
	}})
	var got []string
	for len(got) < 2 {
		select {
		case m := <-out:
			got = append(got, m.UUID)
			m.Ack()
		case <-time.After(10 * time.Second):
			t.Fatalf("only %v arrived", got)
		}
	}
	require.Equal(t, []string{"m1", "m4"}, got)
	require.Eventually(t, func() bool { return ackFloor(t, c) == 6 }, 5*time.Second, 20*time.Millisecond, "the skipped ones are acknowledged")
	require.Equal(t, uint64(6), wmjs.Delivered()-delivered, "skipped or not, each was delivered")
	require.NoError(t, sub.Close())
}
