package eventlog

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/erasure-dev/erasure/events"
)

// Typed is an event of an aggregate instance read without its data: its type and sequence.
type Typed struct {
	AggregateID string
	Type        string // the registered name, without version
	Seq         uint64
}

// errReadEnough ends ReadTypes' reading once it passed its last sequence.
var errReadEnough = errors.New("read enough")

// ReadTypes reads the types of an aggregate's events up to sequence to (or the log's end),
// oldest first, in batches of at most max, through a consumer that sends headers only: what a
// replay's first pass needs to know how each person's history ends, without receiving, let
// alone decoding, every event's data.
func (s *Store) ReadTypes(ctx context.Context, aggregate string, to uint64, max int, fn func([]Typed) error) error {
	o := followOptions{subjects: []string{s.Subject(aggregate, "*")}, headersOnly: true, toEnd: true}
	batch := make([]Typed, 0, max)
	err := s.pull(ctx, 1, max, o, func(_ context.Context, ms []jetstream.Msg) error {
		batch = batch[:0]
		end := false
		for _, m := range ms {
			md, err := m.Metadata()
			if err != nil {
				return fmt.Errorf("message metadata: %w", err)
			}
			seq := md.Sequence.Stream
			if end = seq >= to; seq > to {
				break
			}
			name, _, err := events.SplitQualified(m.Headers().Get(events.HeaderType))
			if err != nil {
				return fmt.Errorf("message %d: %w", seq, err)
			}
			_, id := splitSubject(m.Subject())
			batch = append(batch, Typed{AggregateID: id, Type: name, Seq: seq})
			if end {
				break
			}
		}
		if len(batch) > 0 {
			if err := fn(batch); err != nil {
				return err
			}
		}
		if end {
			return errReadEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errReadEnough) {
		return fmt.Errorf("read types of %s: %w", aggregate, err)
	}
	return nil
}
