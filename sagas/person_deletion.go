package sagas

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
)

// KeyShredder destroys persons' data keys: the last step of a deletion.
type KeyShredder interface {
	Destroy(ctx context.Context, personIDs ...string) error
}

// Retry is a bounded exponential backoff.
type Retry struct {
	Attempts int           // default 6
	Initial  time.Duration // default 100ms
	Max      time.Duration // default 5s
}

func (r *Retry) setDefaults() {
	if r.Attempts <= 0 {
		r.Attempts = 6
	}
	if r.Initial <= 0 {
		r.Initial = 100 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = 5 * time.Second
	}
}

// do runs fn until it succeeds or the budget is spent, returning the last error.
func (r Retry) do(ctx context.Context, fn func() error) error {
	delay := r.Initial
	var err error
	for attempt := 1; ; attempt++ {
		if err = fn(); err == nil || attempt >= r.Attempts {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, r.Max)
	}
}

// PersonDeletionConfig configures the saga.
type PersonDeletionConfig struct {
	Retry     Retry
	BatchSize int
	// AckWait is how long a step may stay unacknowledged before JetStream hands it to another
	// worker (a crashed replica's steps come back after it). Default 30s, above the retry budget.
	AckWait time.Duration
	Logger  *slog.Logger
	// AfterDeletions runs after a batch deleted persons (SQLite: truncate the write-ahead logs so
	// no copy of deleted rows lingers).
	AfterDeletions func(context.Context)
}

// PersonDeletionSaga drives each person from PersonDeletionRequested to PersonDeleted: unbind
// permission groups, purge faces, purge photos, destroy the data key. It reacts to the person's
// own events, so each step starts when the previous one is durably recorded, and a crash at any
// point redelivers the step: the side effects are idempotent, and recording a step that is
// already recorded is a no-op decided by the Person aggregate.
type PersonDeletionSaga struct {
	log    *events.Store
	target Target
	keys   KeyShredder
	cfg    PersonDeletionConfig
}

// NewPersonDeletionSaga returns the saga over its ports.
func NewPersonDeletionSaga(log *events.Store, target Target, keys KeyShredder, cfg PersonDeletionConfig) *PersonDeletionSaga {
	cfg.Retry.setDefaults()
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 256
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = 30 * time.Second
	}
	return &PersonDeletionSaga{log: log, target: target, keys: keys, cfg: cfg}
}

// Run consumes person events until ctx ends.
func (s *PersonDeletionSaga) Run(ctx context.Context) error {
	return s.log.Consume(ctx, events.DurableConfig{Name: "person-deletion-saga", Filter: events.AggregatePerson + ".>", BatchSize: s.cfg.BatchSize, AckWait: s.cfg.AckWait},
		s.HandleBatch)
}

// stepFor returns the step an event triggers, if any.
func stepFor(data any) (domain.Step, bool) {
	switch e := data.(type) {
	case events.PersonDeletionRequested:
		if e.Joins != "" {
			return "", false
		}
		if e.ResumeAt != "" {
			return domain.Step(e.ResumeAt), true
		}
		return domain.StepUnbindPermissions, true
	case events.PermissionGroupsUnbound:
		return domain.StepPurgeFaces, true
	case events.FacesPurged:
		return domain.StepPurgePhotos, true
	case events.PhotosPurged:
		return domain.StepDeletePerson, true
	}
	return "", false
}

// HandleBatch runs the steps a batch of person events triggers, one downstream call per step
// for the whole batch, then records each person's step and acknowledges.
func (s *PersonDeletionSaga) HandleBatch(ctx context.Context, batch []events.Delivery) {
	byStep := map[domain.Step][]events.Delivery{}
	for _, d := range batch {
		step, ok := stepFor(d.Data)
		if !ok {
			_ = d.Msg.Ack()
			continue
		}
		byStep[step] = append(byStep[step], d)
	}
	deleted := false
	for _, step := range domain.Steps {
		ds := byStep[step]
		if len(ds) == 0 {
			continue
		}
		s.runStep(ctx, step, ds)
		deleted = deleted || step == domain.StepDeletePerson
	}
	if deleted && s.cfg.AfterDeletions != nil {
		s.cfg.AfterDeletions(ctx)
	}
}

func (s *PersonDeletionSaga) runStep(ctx context.Context, step domain.Step, ds []events.Delivery) {
	ids := make([]string, 0, len(ds))
	for _, d := range ds {
		if s.stillDue(ctx, step, d) {
			ids = append(ids, d.AggregateID)
		}
	}
	failed := map[string]error{}
	if len(ids) > 0 {
		if err := s.cfg.Retry.do(ctx, func() error { return s.effect(ctx, step, ids) }); err != nil {
			if ctx.Err() != nil {
				// Shutting down: release the steps so a live replica (or the next start) takes
				// them at once instead of after AckWait.
				for _, d := range ds {
					_ = d.Msg.Nak()
				}
				return
			}
			// Isolate the persons the store keeps refusing, so one bad record cannot fail the batch.
			for _, id := range ids {
				if err := s.effect(ctx, step, []string{id}); err != nil {
					failed[id] = err
				}
			}
		}
	}
	for _, d := range ds {
		cmd := any(domain.RecordDeletionStep{Step: step})
		if err, ok := failed[d.AggregateID]; ok {
			s.cfg.Logger.Warn("deletion step failed after retries", "person_id", d.AggregateID, "step", step, "err", err)
			cmd = domain.FailPersonDeletion{Step: step, Code: domain.CodeStepFailed, Message: err.Error()}
		}
		meta := events.Meta{CorrelationID: d.CorrelationID, CausationID: d.ID, Actor: "person-deletion-saga"}
		_, err := s.log.Execute(ctx, meta, events.AggregatePerson, d.AggregateID, func(h []any) ([]any, error) {
			return domain.PersonFromHistory(d.AggregateID, h).Decide(cmd)
		})
		switch {
		case err == nil, errors.Is(err, domain.ErrNotDeleting):
			_ = d.Msg.Ack()
		default:
			s.cfg.Logger.Error("record deletion step", "person_id", d.AggregateID, "step", step, "err", err)
			_ = d.Msg.NakWithDelay(time.Second)
		}
	}
}

// stillDue reports whether a step must run. A first delivery always is; a redelivered one may
// come after the step was recorded (a crash before the ack), and then the person may even have
// been re-created: its new data must not be touched, so the step's side effect is skipped.
func (s *PersonDeletionSaga) stillDue(ctx context.Context, step domain.Step, d events.Delivery) bool {
	if md, err := d.Msg.Metadata(); err == nil && md.NumDelivered <= 1 {
		return true
	}
	history, _, err := s.log.Load(ctx, events.AggregatePerson, d.AggregateID)
	if err != nil {
		return true // the effect is idempotent; recording decides
	}
	data := make([]any, len(history))
	for i, r := range history {
		data[i] = r.Data
	}
	p := domain.PersonFromHistory(d.AggregateID, data)
	_, next, _ := p.Deletion()
	return p.Status() == domain.StatusDeleting && next == step
}

func (s *PersonDeletionSaga) effect(ctx context.Context, step domain.Step, ids []string) error {
	var err error
	switch step {
	case domain.StepUnbindPermissions:
		err = s.target.UnbindPermissionGroups(ctx, ids)
	case domain.StepPurgeFaces:
		err = s.target.PurgeFaces(ctx, ids)
	case domain.StepPurgePhotos:
		err = s.target.PurgePhotos(ctx, ids)
	case domain.StepDeletePerson:
		err = s.keys.Destroy(ctx, ids...)
	default:
		err = fmt.Errorf("unknown step %q", step)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	return nil
}
