package eventlog

import (
	"context"
	"errors"
	"fmt"

	"github.com/erasure-dev/erasure/events"
)

// ErrBusy means an aggregate kept changing under a command for every attempt.
var ErrBusy = errors.New("too many concurrent changes to one aggregate")

// maxExecuteAttempts bounds the reload-decide-append loop on optimistic-concurrency conflicts.
const maxExecuteAttempts = 8

// Decide is a command handler: given an aggregate's history, the events to append (none: the
// command is already satisfied) or why the command is refused.
type Decide func(history []any) ([]any, error)

// Execute loads an aggregate, decides, and appends the decided events with the expected
// sequence, reloading and deciding again when another writer got there first. It returns the
// sequence of the last event appended, or of the aggregate's last event when nothing was.
func (s *Store) Execute(ctx context.Context, meta events.Meta, aggregate, id string, decide Decide) (uint64, error) {
	for range maxExecuteAttempts {
		history, last, err := s.Load(ctx, aggregate, id)
		if err != nil {
			return 0, err
		}
		data := make([]any, len(history))
		for i, r := range history {
			data[i] = r.Data
		}
		decided, err := decide(data)
		if err != nil {
			return 0, err
		}
		seq, err := s.appendChain(ctx, meta, aggregate, id, last, decided)
		if errors.Is(err, ErrConcurrency) {
			continue
		}
		return seq, err
	}
	return 0, fmt.Errorf("%s %s: %w", aggregate, id, ErrBusy)
}

// AppendDecided appends what was decided on an aggregate instance as its state at sequence
// expected (a read model's snapshot, say), in order, without reading its history: one round
// trip a decided event. ErrConcurrency: the instance has moved on since expected, and the
// decision must be taken again on its history (Execute).
func (s *Store) AppendDecided(ctx context.Context, meta events.Meta, aggregate, id string, expected uint64, decided []any) (uint64, error) {
	return s.appendChain(ctx, meta, aggregate, id, expected, decided)
}

func (s *Store) appendChain(ctx context.Context, meta events.Meta, aggregate, id string, expected uint64, decided []any) (uint64, error) {
	for _, d := range decided {
		e, err := events.New(aggregate, id, d, meta)
		if err != nil {
			return 0, err
		}
		if expected, err = s.Append(ctx, expected, e); err != nil {
			return 0, err
		}
	}
	return expected, nil
}
