package eventlog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/erasure-dev/erasure/events"
	"github.com/nats-io/nats.go/jetstream"
)

// delivered counts the messages that this process's consumers of the log (Consume's durable
// ones and Follow's ordered ones) have taken from JetStream.
var delivered atomic.Uint64

// Delivered returns how many messages the log's consumers in this process have received since it
// started, redeliveries included: the benchmark's deliveries_per_person. It is counted here, in
// the client, because Follow's consumers come and go (one per follower, and nats.go replaces an
// ordered consumer after a gap), so the server's per-consumer counts of those are gone by the
// time a phase ends.
func Delivered() uint64 { return delivered.Load() }

// Delivery is one event delivered by a durable consumer, to be acknowledged once handled.
type Delivery struct {
	events.Recorded
	Msg jetstream.Msg
}

// DurableConfig configures a durable consumer shared by every replica.
type DurableConfig struct {
	Name      string        // durable name
	Filter    string        // subject filter below the prefix, e.g. "person.>"
	AckWait   time.Duration // default 2m: longer than any step's retry budget
	BatchSize int           // default 256
	// Workers handle batches concurrently (default 1). Only for handlers whose events for one
	// aggregate are never in flight together, such as a saga that appends each step's trigger.
	Workers int
	// Types are the event types (names without version) fn is given; any other is acknowledged
	// unread, told by its type header without decoding it. None: every type.
	Types []string
}

// Consume delivers the filtered events to fn in batches, through a durable pull consumer that
// replicas share: each event goes to one of them, and comes back if it is not acknowledged
// within AckWait (a crashed replica's work is redelivered). fn acknowledges what it handled.
func (s *Store) Consume(ctx context.Context, cfg DurableConfig, fn func(context.Context, []Delivery)) error {
	if cfg.AckWait <= 0 {
		cfg.AckWait = 2 * time.Minute
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 256
	}
	cons, err := s.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       cfg.Name,
		FilterSubject: s.cfg.Prefix + "." + cfg.Filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    -1,
		// Bounded so that nothing waits in the client longer than a couple of batches: a message
		// held past AckWait would be redelivered and handled twice.
		MaxAckPending: 2 * max(1, cfg.Workers) * cfg.BatchSize,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("consumer %s: %w", cfg.Name, err)
	}
	// A short heartbeat, as Follow's: nats.go's iterator now and then stops pulling until it
	// notices two missed heartbeats, 30 s with the default; a batch saga step waiting that long
	// stalled a whole bulk (measured: 30 s gaps in erasure bench).
	// Missing heartbeats (seen a few times in a million-person bulk) are the iterator's to
	// recover from by pulling again, not an end of the consumption: nats.go's default reports
	// them from Next.
	//
	// Never fewer than two messages a worker: nats.go asks for more from Next, and only while no
	// earlier request is still being sent. Asking for one message at a time, the answer could
	// come (in-process, under load) before that earlier send was marked done, and then no
	// request was outstanding until two heartbeats were missed: the batch saga (one event a
	// pull) stood still for two seconds now and then (measured: no step handled for 1.9 s, then
	// a burst of steps whose triggers had waited as long). With several asked for, a request stays
	// outstanding while any of its messages is still to come, and each arrival runs the check
	// again: the stall would need all of them to arrive within that instant. The server holds
	// back what is over MaxAckPending anyway.
	it, err := cons.Messages(jetstream.PullMaxMessages(max(cfg.BatchSize, 2*max(1, cfg.Workers))), jetstream.PullHeartbeat(followHeartbeat),
		jetstream.WithMessagesErrOnMissingHeartbeat(false))
	if err != nil {
		return fmt.Errorf("consumer %s: %w", cfg.Name, err)
	}
	defer it.Stop()
	msgs := make(chan jetstream.Msg, cfg.BatchSize)
	go func() {
		defer close(msgs)
		for {
			m, err := it.Next()
			if err != nil {
				return
			}
			delivered.Add(1)
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { <-ctx.Done(); it.Stop() }()
	wanted := wantedTypes(cfg.Types)
	workers := make(chan struct{}, max(1, cfg.Workers))
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		var batch []Delivery
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m, ok := <-msgs:
			if !ok {
				return ctx.Err()
			}
			batch = appendDelivery(batch, m, wanted)
		}
	drain:
		for len(batch) < cfg.BatchSize {
			select {
			case m, ok := <-msgs:
				if !ok {
					break drain
				}
				batch = appendDelivery(batch, m, wanted)
			default:
				break drain
			}
		}
		if len(batch) > 0 {
			workers <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-workers; wg.Done() }()
				fn(ctx, batch)
			}()
		}
	}
}

// wantedTypes returns whether a type header names one of types (all: none given).
func wantedTypes(types []string) func(header string) bool {
	if len(types) == 0 {
		return func(string) bool { return true }
	}
	set := make(map[string]bool, len(types))
	for _, t := range types {
		set[t] = true
	}
	return func(header string) bool {
		name, _, err := events.SplitQualified(header)
		return err != nil || set[name] // an unreadable type is decoded, to be terminated there
	}
}

// appendDelivery decodes m when its type is wanted and acknowledges it unread otherwise; an
// undecodable event is terminated, never retried forever, since no redelivery can make it
// decodable (a newer binary's type, say).
func appendDelivery(batch []Delivery, m jetstream.Msg, wanted func(string) bool) []Delivery {
	if !wanted(m.Headers().Get(events.HeaderType)) {
		_ = m.Ack()
		return batch
	}
	r, err := decodeJS(m)
	if err != nil {
		if errors.Is(err, events.ErrUnknownType) {
			_ = m.Ack()
		} else {
			_ = m.Term()
		}
		return batch
	}
	return append(batch, Delivery{Recorded: r, Msg: m})
}

// AppendOnce stores e without an expected-sequence check, deduplicated by its ID within the
// Duplicates window: for records that any number of writers may make, each meaning the same.
func (s *Store) AppendOnce(ctx context.Context, e events.Envelope) (uint64, error) {
	subject := s.Subject(e.Aggregate, e.AggregateID)
	m, err := Encode(subject, e)
	if err != nil {
		return 0, err
	}
	ack, err := s.js.PublishMsg(ctx, m)
	if err != nil {
		return 0, fmt.Errorf("append %s to %s: %w", e.Type, subject, err)
	}
	return ack.Sequence, nil
}

// KeepInProgress tells JetStream every third of ackWait that the deliveries are still being
// worked on, so that work outlasting AckWait (a slow target, a chunk dispatched person by person)
// is not handed to another worker meanwhile, until the returned stop is called; stop returns
// once the heartbeats have ended. A heartbeat on a delivery already acknowledged does nothing.
func KeepInProgress(ds []Delivery, ackWait time.Duration) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(max(ackWait/3, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				for _, d := range ds {
					_ = d.Msg.InProgress()
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}
