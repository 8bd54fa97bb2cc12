package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/projections"
)

// writes is what the capabilities that change something share (Registry, Deletions; App holds
// it too, for readiness and WriteTimeout): the log their commands append to, and the read
// model's runner they wait on, so that a caller's next read sees its write. One value serves
// them all, so WriteTimeout set on App bounds every capability's waits.
type writes struct {
	log        *eventlog.Store
	projection *projections.Runner
	// WriteTimeout bounds how long a write waits for the read model to show it.
	WriteTimeout time.Duration
}

// decider is an aggregate rebuilt from history that decides commands.
type decider interface{ Decide(cmd any) ([]any, error) }

// execute runs cmd on an aggregate through the log (eventlog.Store.Execute).
func (w *writes) execute(ctx context.Context, meta events.Meta, aggregate, id string, rebuild func([]any) decider, cmd any) (uint64, error) {
	seq, err := w.log.Execute(ctx, meta, aggregate, id, func(h []any) ([]any, error) { return rebuild(h).Decide(cmd) })
	if errors.Is(err, eventlog.ErrBusy) {
		return 0, fmt.Errorf("%w: %v", ErrBusy, err)
	}
	return seq, err
}

func personDecider(id string) func([]any) decider {
	return func(h []any) decider { return domain.PersonFromHistory(id, h) }
}

func groupDecider(id string) func([]any) decider {
	return func(h []any) decider { return domain.GroupFromHistory(id, h) }
}

// waitVisible waits until the read model has applied seq, so the caller's next read sees it.
func (w *writes) waitVisible(ctx context.Context, seq uint64) error {
	if seq == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, w.WriteTimeout)
	defer cancel()
	return w.projection.WaitFor(ctx, seq)
}
