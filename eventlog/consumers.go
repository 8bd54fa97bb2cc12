package eventlog

import (
	"context"
	"fmt"
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

// ConsumerBacklog returns, for each durable consumer of the log, how many messages it has still
// to receive or to acknowledge, by name: a consumer off the deletion's path (the webhook intake)
// may lag a burst by many seconds, and its share of the burst's cost comes only once it is 0.
func (s *Store) ConsumerBacklog(ctx context.Context) (map[string]uint64, error) {
	out := map[string]uint64{}
	l := s.stream.ListConsumers(ctx)
	for ci := range l.Info() {
		if ci.Config.Durable != "" {
			out[ci.Name] = ci.NumPending + uint64(ci.NumAckPending)
		}
	}
	if err := l.Err(); err != nil {
		return nil, fmt.Errorf("list consumers of %s: %w", s.cfg.Stream, err)
	}
	return out, nil
}
