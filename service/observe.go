package service

import (
	"context"
	"sync"
	"time"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/metrics"
	"github.com/erasure-dev/erasure/projections"
	"github.com/erasure-dev/erasure/sagas"
)

// observedTarget times each downstream call of the person-deletion saga's steps.
type observedTarget struct {
	next sagas.Target
	m    *metrics.Metrics
}

var _ sagas.Target = observedTarget{}

func (t observedTarget) observe(step domain.Step, call func() error) error {
	start := time.Now()
	err := call()
	t.m.SagaStep(string(step), time.Since(start), err)
	return err
}

func (t observedTarget) UnbindPermissionGroups(ctx context.Context, ids []string) error {
	return t.observe(domain.StepUnbindPermissions, func() error { return t.next.UnbindPermissionGroups(ctx, ids) })
}

func (t observedTarget) PurgeFaces(ctx context.Context, ids []string) error {
	return t.observe(domain.StepPurgeFaces, func() error { return t.next.PurgeFaces(ctx, ids) })
}

func (t observedTarget) PurgePhotos(ctx context.Context, ids []string) error {
	return t.observe(domain.StepPurgePhotos, func() error { return t.next.PurgePhotos(ctx, ids) })
}

// observedShredder times the saga's last step, destroying the persons' keys.
type observedShredder struct {
	next sagas.KeyShredder
	m    *metrics.Metrics
}

func (s observedShredder) Destroy(ctx context.Context, ids ...string) error {
	start := time.Now()
	err := s.next.Destroy(ctx, ids...)
	s.m.SagaStep(string(domain.StepDeletePerson), time.Since(start), err)
	return err
}

// maxTracked bounds the persons whose deletion start the observer remembers (about 100 bytes
// each); beyond it, further persons go unmeasured rather than grow memory.
const maxTracked = 200_000

// eventObserver counts the events the projection applies and measures, per person, the time from
// the deletion request to its terminal event, from the events' own times.
type eventObserver struct {
	m *metrics.Metrics

	mu        sync.Mutex
	requested map[string]time.Time // person id -> PersonDeletionRequested time
}

func newEventObserver(m *metrics.Metrics) *eventObserver {
	return &eventObserver{m: m, requested: map[string]time.Time{}}
}

func (o *eventObserver) batch(batch []events.Recorded) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, r := range batch {
		o.m.Event(r.Type)
		switch e := r.Data.(type) {
		case events.PersonDeletionRequested:
			if e.Joins == "" && len(o.requested) < maxTracked {
				if _, ok := o.requested[r.AggregateID]; !ok {
					o.requested[r.AggregateID] = r.Time
				}
			}
		case events.PersonDeleted:
			o.terminal(r, "deleted")
		case events.PersonDeletionFailed:
			o.m.DeletionFailed(e.Code, e.Step)
			o.terminal(r, "failed")
		case events.PersonDeletionCancelled:
			delete(o.requested, r.AggregateID)
		}
	}
}

func (o *eventObserver) terminal(r events.Recorded, outcome string) {
	if start, ok := o.requested[r.AggregateID]; ok {
		o.m.PersonDeletion(outcome, r.Time.Sub(start))
		delete(o.requested, r.AggregateID)
	}
}

// projectionLag measures how far the read model is behind the log: the events not applied yet,
// and the age of the oldest of them. The checkpoint is read from the database, so a replica that
// shares the read model with others reports the shared lag.
func projectionLag(log *events.Store, runner *projections.Runner) func(context.Context) (uint64, float64, error) {
	return func(ctx context.Context) (uint64, float64, error) {
		applied, err := runner.Checkpoint(ctx)
		if err != nil {
			return 0, 0, err
		}
		last, err := log.LastSequence(ctx)
		if err != nil {
			return 0, 0, err
		}
		if last <= applied {
			return 0, 0, nil
		}
		t, err := log.TimeAt(ctx, applied+1)
		if err != nil {
			return last - applied, 0, nil
		}
		return last - applied, max(0, time.Since(t).Seconds()), nil
	}
}
