package eventlog

import (
	"context"
	"errors"
	"fmt"

	"github.com/erasure-dev/erasure/events"
	"github.com/nats-io/nats.go/jetstream"
)

// First returns an aggregate instance's first event, and false when it has none: one round trip,
// where Load reads the whole history (a bulk deletion request has thousands of chunk events, and
// its first one names the request's group).
func (s *Store) First(ctx context.Context, aggregate, id string) (events.Recorded, bool, error) {
	subject := s.Subject(aggregate, id)
	raw, err := s.stream.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(subject))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return events.Recorded{}, false, nil
	}
	if err != nil {
		return events.Recorded{}, false, fmt.Errorf("first of %s: %w", subject, err)
	}
	r, err := DecodeMsg(raw.Subject, raw.Header, raw.Data, raw.Sequence)
	if err != nil {
		return events.Recorded{}, false, fmt.Errorf("first of %s: %w", subject, err)
	}
	return r, true, nil
}

// HasAfter reports whether an aggregate instance has an event after sequence seq: one round
// trip that reads no event, where Load reads and decodes the whole history to learn its last
// sequence.
func (s *Store) HasAfter(ctx context.Context, aggregate, id string, seq uint64) (bool, error) {
	subject := s.Subject(aggregate, id)
	_, err := s.stream.GetMsg(ctx, seq+1, jetstream.WithGetMsgSubject(subject))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("after %d on %s: %w", seq, subject, err)
	}
	return true, nil
}

// Last returns the sequence of an aggregate instance's last event, 0 when it has none: one
// round trip, where Load reads every event (a bulk request's history is spread over the whole
// log, and reading it loads every block of the log that holds one of its events).
func (s *Store) Last(ctx context.Context, aggregate, id string) (uint64, error) {
	subject := s.Subject(aggregate, id)
	raw, err := s.stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("last of %s: %w", subject, err)
	}
	return raw.Sequence, nil
}
