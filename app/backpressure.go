package app

import (
	"context"
	"fmt"
	"time"
)

// Backpressure bounds the work a bulk intake may pile up ahead of the sagas and projections:
// past it, the intake waits before recording its next chunk, so the client's upload slows
// (TCP pushes back) instead of the backlog growing without bound. Zero fields: the defaults.
type Backpressure struct {
	// MaxPendingItems bounds the items of running deletions not yet terminal (default 2,000,000).
	MaxPendingItems int
	// MaxProjectionLag bounds the events the read model has not applied yet (default 200,000).
	MaxProjectionLag uint64
	// Poll is how often a waiting intake looks again (default 200ms).
	Poll time.Duration
}

// SetBackpressure sets the bounds of bulk intakes.
func (del *Deletions) SetBackpressure(b Backpressure) {
	if b.MaxPendingItems <= 0 {
		b.MaxPendingItems = 2_000_000
	}
	if b.MaxProjectionLag == 0 {
		b.MaxProjectionLag = 200_000
	}
	if b.Poll <= 0 {
		b.Poll = 200 * time.Millisecond
	}
	del.backpressure = b
}

// waitForRoom returns once the backlog, with the own request's pending items (of own recorded),
// is under the bounds, or ctx ends. A request larger than the bound goes on as its own items
// end, so it never waits for itself.
func (del *Deletions) waitForRoom(ctx context.Context, deletionID string, own int) error {
	b := del.backpressure
	if b.MaxPendingItems <= 0 {
		return nil
	}
	logged := false
	for {
		over, why, err := del.overloaded(ctx, b, deletionID, own)
		if err != nil || !over {
			return err
		}
		if !logged {
			del.logger.Warn("bulk intake waits: the backlog is over its bound", "why", why)
			logged = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the backlog to shrink (%s): %w", why, ctx.Err())
		case <-time.After(b.Poll):
		}
	}
}

func (del *Deletions) overloaded(ctx context.Context, b Backpressure, deletionID string, own int) (bool, string, error) {
	// Other running requests' pending items, and what of this one's the read model shows ended
	// (its own pending: what it recorded, less that).
	pending, ended, err := del.reads.Backlog(ctx, deletionID)
	if err != nil {
		return false, "", err
	}
	pending += max(0, own-ended)
	if pending > b.MaxPendingItems {
		return true, fmt.Sprintf("%d items pending, bound %d", pending, b.MaxPendingItems), nil
	}
	if del.projection == nil {
		return false, "", nil
	}
	applied, err := del.projection.Checkpoint(ctx)
	if err != nil {
		return false, "", err
	}
	last, err := del.log.LastSequence(ctx)
	if err != nil {
		return false, "", err
	}
	if last > applied && last-applied > b.MaxProjectionLag {
		return true, fmt.Sprintf("read model %d events behind, bound %d", last-applied, b.MaxProjectionLag), nil
	}
	return false, "", nil
}
