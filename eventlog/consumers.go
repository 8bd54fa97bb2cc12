package eventlog

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// ConsumerDeliveries returns how many messages the server has delivered to each durable consumer
// of the log, redeliveries included, by name. Follow's consumers are left out: they come and go,
// so their counts do not add up across a phase (Delivered counts them in the client).
func (s *Store) ConsumerDeliveries(ctx context.Context) (map[string]uint64, error) {
	out := map[string]uint64{}
	l := s.stream.ListConsumers(ctx)
	for ci := range l.Info() {
		if ci.Config.Durable != "" {
			out[ci.Name] = ci.Delivered.Consumer
		}
	}
	if err := l.Err(); err != nil {
		return nil, fmt.Errorf("list consumers of %s: %w", s.cfg.Stream, err)
	}
	return out, nil
}

// Aggregates returns how many instances of aggregate (AggregatePerson, ...) have events in the
// log: the number of its subjects.
func (s *Store) Aggregates(ctx context.Context, aggregate string) (int, error) {
	info, err := s.stream.Info(ctx, jetstream.WithSubjectFilter(s.Subject(aggregate, ">")))
	if err != nil {
		return 0, fmt.Errorf("count %s subjects of %s: %w", aggregate, s.cfg.Stream, err)
	}
	return len(info.State.Subjects), nil
}
