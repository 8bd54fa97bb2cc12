package eventlog

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/erasure-dev/erasure/events"
)

// Typed is where an event is stored and its type, read without its data.
type Typed struct {
	Aggregate, AggregateID string
	Type                   string // the registered name, without version
	Seq                    uint64
}

// ReadTypes reads the types of the events of an aggregate up to sequence to, oldest first, in
// batches of at most max, through a consumer that sends headers only: what a replay's first
// pass needs to know how each person's history ends, without decoding (or even receiving)
// every event's data.
func (s *Store) ReadTypes(ctx context.Context, aggregate string, to uint64, max int, fn func([]Typed) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cons, err := s.orderedConsumer(ctx, 1, []string{s.Subject(aggregate, "*")}, true)
	if err != nil {
		return fmt.Errorf("read types of %s: %w", aggregate, err)
	}
	defer func() {
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), consumerDeleteWait)
		defer dcancel()
		if ci := cons.CachedInfo(); ci != nil {
			_ = s.stream.DeleteConsumer(dctx, ci.Name) // best effort, as Follow's
		}
	}()
	if ci := cons.CachedInfo(); ci != nil && ci.NumPending == 0 {
		return nil
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(max), jetstream.PullHeartbeat(followHeartbeat))
	if err != nil {
		return fmt.Errorf("read types of %s: %w", aggregate, err)
	}
	defer it.Stop()
	prefix := s.cfg.Prefix + "." + aggregate + "."
	batch := make([]Typed, 0, max)
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if errors.Is(err, context.Canceled) && ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("read types of %s: %w", aggregate, err)
		}
		delivered.Add(1)
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("message metadata: %w", err)
		}
		seq := md.Sequence.Stream
		if seq > to {
			break
		}
		if id, ok := strings.CutPrefix(m.Subject(), prefix); ok { // as filtered
			name, _, err := events.SplitQualified(m.Headers().Get(events.HeaderType))
			if err != nil {
				return fmt.Errorf("message %d: %w", seq, err)
			}
			batch = append(batch, Typed{Aggregate: aggregate, AggregateID: id, Type: name, Seq: seq})
		}
		if len(batch) == max {
			if err := fn(batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
		if seq == to || md.NumPending == 0 {
			break
		}
	}
	if len(batch) > 0 {
		return fn(batch)
	}
	return nil
}
