package events

import (
	"context"
	"fmt"
)

// ConsumerDeliveries returns how many messages the server has delivered to each consumer of the
// log that exists now, redeliveries included, by consumer name. Follow's consumers are in it only
// while they last; Delivered counts those too.
func (s *Store) ConsumerDeliveries(ctx context.Context) (map[string]uint64, error) {
	out := map[string]uint64{}
	l := s.stream.ListConsumers(ctx)
	for ci := range l.Info() {
		out[ci.Name] = ci.Delivered.Consumer
	}
	if err := l.Err(); err != nil {
		return nil, fmt.Errorf("list consumers of %s: %w", s.cfg.Stream, err)
	}
	return out, nil
}
