package eventlog

import (
	"context"
	"fmt"
	"time"

	"github.com/erasure-dev/erasure/events"
)

// TimeAt returns the time of the event stored at stream sequence seq, from its header alone:
// what the projection-lag metric needs without decoding the event.
func (s *Store) TimeAt(ctx context.Context, seq uint64) (time.Time, error) {
	raw, err := s.stream.GetMsg(ctx, seq)
	if err != nil {
		return time.Time{}, fmt.Errorf("get message %d: %w", seq, err)
	}
	t, err := time.Parse(time.RFC3339Nano, raw.Header.Get(events.HeaderTime))
	if err != nil {
		return time.Time{}, fmt.Errorf("message %d: bad %s: %w", seq, events.HeaderTime, err)
	}
	return t, nil
}
