package sagas

import (
	"context"
	"errors"
	"log/slog"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/retry"
	"github.com/erasure-dev/erasure/internal/storeerr"
)

// KeyShredder destroys persons' data keys: the last step of a deletion.
type KeyShredder interface {
	Destroy(ctx context.Context, personIDs ...string) error
}

// Retry is a saga's retry budget: up to Attempts calls, waiting between them a random time of up
// to Initial, doubling to Max (internal/retry's policy, full jitter).
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

// policy is r as the shared retry policy.
func (r Retry) policy() retry.Policy {
	return retry.Policy{Attempts: r.Attempts, Initial: r.Initial, Max: r.Max, Multiplier: 2}
}

// do runs fn until it succeeds or the budget is spent, returning the last error. Failures of a
// store that is down or full (storeerr.Down) do not spend the budget: the step waits for the
// store to come back, however long it takes, rather than failing persons over an outage.
func (r Retry) do(ctx context.Context, fn func() error) error { return r.doAlive(ctx, fn, nil) }

// doAlive is do that calls alive before each wait: the worker shows it is still at it (a hung
// call does not, so its work goes to another worker after AckWait).
func (r Retry) doAlive(ctx context.Context, fn func() error, alive func()) error {
	return retry.Do(ctx, r.policy(), func(context.Context) error { return fn() },
		retry.Uncounted(func(err error) bool { return storeerr.Down(err) && ctx.Err() == nil }),
		retry.OnRetry(func(int, error, time.Duration) {
			if alive != nil {
				alive()
			}
		}))
}

// PersonDeletionConfig configures the saga.
type PersonDeletionConfig struct {
	Retry     Retry
	BatchSize int
	// AckWait is how long a step may stay unacknowledged before JetStream hands it to another
	// worker (a crashed replica's steps come back after it). Default 30s, above the retry budget.
	AckWait time.Duration
	// States is the read side of the fast path; without it every step replays the person.
	States PersonStates
	// Cancellations, when set, lets a cancelled request stop persons that have not begun.
	Cancellations Cancellations
	Logger        *slog.Logger
	// AfterDeletions runs after a batch deleted persons (SQLite: truncate the write-ahead logs so
	// no copy of deleted rows lingers).
	AfterDeletions func(context.Context)
	// Targets are the external systems every deletion also deletes the person from, after the
	// built-in stores; TargetRetry bounds how long each keeps trying (default 8 attempts with
	// jittered waits of up to 1s doubling to 30s: at most 91s of waiting, about 45s on average,
	// plus the calls), TargetConcurrency how many persons' outcomes are recorded at once
	// (default 16).
	Targets           []Target
	TargetRetry       Retry
	TargetConcurrency int
	// ObserveStep sees each step's downstream call (metrics); nil: nobody.
	ObserveStep StepObserver
}

// PersonDeletionSaga drives each person from PersonDeletionRequested to PersonDeleted: unbind
// permission groups, purge faces, purge photos, destroy the data key. It reacts to the person's
// own events, so each step starts when the previous one is durably recorded, and a crash at any
// point redelivers the step: the side effects are idempotent, and recording a step that is
// already recorded is a no-op decided by the Person aggregate.
type PersonDeletionSaga struct {
	log    *eventlog.Store
	target Stores
	keys   KeyShredder
	cfg    PersonDeletionConfig

	// snapshots holds, per person in deletion, what its PersonDeletionRequested recorded, so the
	// following steps decide without reading the person back. A miss (a restart, a step handed
	// over from another replica) falls back to the read model, then to the log.
	mu        sync.Mutex
	snapshots map[string]domain.PersonSnapshot

	targets []string // names of cfg.Targets, in configuration order
}

// maxSnapshots bounds the cache; beyond it, steps read the read model instead.
const maxSnapshots = 200_000

// NewPersonDeletionSaga returns the saga over its ports.
func NewPersonDeletionSaga(log *eventlog.Store, target Stores, keys KeyShredder, cfg PersonDeletionConfig) *PersonDeletionSaga {
	cfg.Retry.setDefaults()
	if cfg.TargetRetry.Attempts <= 0 {
		cfg.TargetRetry.Attempts = 8
	}
	if cfg.TargetRetry.Initial <= 0 {
		cfg.TargetRetry.Initial = time.Second
	}
	if cfg.TargetRetry.Max <= 0 {
		cfg.TargetRetry.Max = 30 * time.Second
	}
	if cfg.TargetConcurrency <= 0 {
		cfg.TargetConcurrency = 16
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000 // one atomic batch of step records
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = 30 * time.Second
	}
	var names []string
	for _, t := range cfg.Targets {
		names = append(names, t.Name())
	}
	return &PersonDeletionSaga{log: log, target: target, keys: keys, cfg: cfg, snapshots: map[string]domain.PersonSnapshot{}, targets: names}
}

// Run consumes person events until ctx ends.
func (s *PersonDeletionSaga) Run(ctx context.Context) error {
	return s.log.Consume(ctx, eventlog.DurableConfig{Name: "person-deletion-saga", Filter: events.AggregatePerson + ".>", BatchSize: s.cfg.BatchSize, AckWait: s.cfg.AckWait,
		// A person has one step in flight at a time (each step is triggered by the previous
		// one's record), so batches can run side by side.
		Workers: 3,
		// Only what starts or advances a person's deletion is decoded: a bulk's persons' terminal
		// events (the batch saga's) and registrations are acknowledged by type alone.
		Types: triggerTypes},
		s.HandleBatch)
}

// stepFor returns the step a person's event triggers, if any: a request starts its deletion (or
// resumes it where an operator's retry says), a recorded step triggers the next (steps.go).
func stepFor(data any) (domain.Step, bool) {
	if e, ok := data.(events.PersonDeletionRequested); ok {
		switch {
		case e.Joins != "" || e.Batch != "":
			return "", false // a joiner has no steps; a batch's persons are the BatchDeletionSaga's
		case e.ResumeAt != "":
			return domain.Step(e.ResumeAt), true
		}
		return steps[0].step, true
	}
	d, ok := nextStep(data)
	return d.step, ok
}

// HandleBatch runs the steps a batch of person events triggers, one downstream call per step
// for the whole batch, then records each person's step and acknowledges.
func (s *PersonDeletionSaga) HandleBatch(ctx context.Context, batch []eventlog.Delivery) {
	byStep := map[domain.Step][]eventlog.Delivery{}
	for _, d := range batch {
		step, ok := stepFor(d.Data)
		if !ok {
			_ = d.Msg.Ack()
			continue
		}
		if e, ok := d.Data.(events.PersonDeletionRequested); ok {
			s.remember(d.AggregateID, e)
		}
		byStep[step] = append(byStep[step], d)
	}
	deleted := false
	for _, step := range domain.Steps {
		ds := byStep[step]
		if len(ds) == 0 {
			continue
		}
		// Labelled so that a CPU profile shows what each step costs (the targets step's
		// goroutines inherit it).
		pprof.Do(ctx, pprof.Labels("step", string(step)), func(ctx context.Context) { s.runStep(ctx, step, ds) })
		deleted = deleted || step == domain.StepDeletePerson
	}
	if deleted && s.cfg.AfterDeletions != nil {
		s.cfg.AfterDeletions(ctx)
	}
}

func (s *PersonDeletionSaga) runStep(ctx context.Context, step domain.Step, ds []eventlog.Delivery) {
	if step == domain.StepDeleteFromTargets {
		s.runTargets(ctx, ds)
		return
	}
	if step == domain.StepUnbindPermissions {
		if ds = s.cancelRequested(ctx, ds); len(ds) == 0 {
			return
		}
	}
	ids := make([]string, 0, len(ds))
	for _, d := range ds {
		if s.stillDue(ctx, step, d) {
			ids = append(ids, d.AggregateID)
		}
	}
	failed := map[string]error{}
	if len(ids) > 0 {
		// Retries may outlast AckWait (a store outage): each one keeps the deliveries ours.
		err := s.cfg.Retry.doAlive(ctx, func() error { return s.effect(ctx, step, ids) }, func() {
			for _, d := range ds {
				_ = d.Msg.InProgress()
			}
		})
		if err != nil {
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
	commands := make([]any, len(ds))
	for i, d := range ds {
		commands[i] = domain.RecordDeletionStep{Step: step}
		if step == domain.StepPurgePhotos {
			commands[i] = domain.RecordDeletionStep{Step: step, Targets: s.targets}
		}
		if err, ok := failed[d.AggregateID]; ok {
			s.cfg.Logger.Warn("deletion step failed after retries", "person_id", d.AggregateID, "step", step, "correlation_id", d.CorrelationID, "err", err)
			commands[i] = domain.FailPersonDeletion{Step: step, Code: domain.CodeStepFailed, Message: err.Error()}
		}
	}
	s.record(ctx, step, ds, commands)
}

// record appends each person's step outcome and acknowledges its delivery. The fast path decides
// for the whole batch from the read model and appends in atomic batches, each append expecting
// the trigger to still be the person's last event; any person it cannot settle (a stale read
// model, a concurrent event) takes the slow path: replay the person's events, decide, append.
func (s *PersonDeletionSaga) record(ctx context.Context, step domain.Step, ds []eventlog.Delivery, commands []any) {
	slow := make([]int, 0, len(ds))
	var pending []eventlog.Pending
	var pendingIdx []int
	states := s.cached(ds)
	if len(states) < len(ds) {
		var missing []eventlog.Delivery
		for _, d := range ds {
			if _, ok := states[d.AggregateID]; !ok {
				missing = append(missing, d)
			}
		}
		for id, st := range s.states(ctx, step, missing) {
			states[id] = st
		}
	}
	for i, d := range ds {
		st, ok := states[d.AggregateID]
		if !ok || st.Version != d.Seq || st.Status != domain.StatusDeleting {
			slow = append(slow, i)
			continue
		}
		st.NextStep = step
		decided, err := domain.UnmarshalPerson(d.AggregateID, st.PersonSnapshot).Decide(commands[i])
		if err != nil || len(decided) != 1 {
			slow = append(slow, i)
			continue
		}
		e, err := events.New(events.AggregatePerson, d.AggregateID, decided[0], stepMeta(d))
		if err != nil {
			slow = append(slow, i)
			continue
		}
		pending = append(pending, eventlog.Pending{Expected: d.Seq, Event: e})
		pendingIdx = append(pendingIdx, i)
	}
	if len(pending) > 0 {
		_, errs := s.log.AppendBatch(ctx, pending)
		for j, err := range errs {
			if err != nil {
				slow = append(slow, pendingIdx[j])
				continue
			}
			s.settled(pending[j].Event)
			_ = ds[pendingIdx[j]].Msg.Ack()
		}
	}
	for _, i := range slow {
		d, cmd := ds[i], commands[i]
		_, err := s.log.UpdatePerson(ctx, stepMeta(d), d.AggregateID, func(p *domain.Person) ([]any, error) {
			return p.Decide(cmd)
		})
		switch {
		case err == nil, errors.Is(err, domain.ErrNotDeleting):
			_ = d.Msg.Ack()
		default:
			s.cfg.Logger.Error("record deletion step", "person_id", d.AggregateID, "step", step, "correlation_id", d.CorrelationID, "err", err)
			_ = d.Msg.NakWithDelay(time.Second)
		}
	}
}

// cancelRequested stops, before anything is removed, the persons whose deletion request was
// cancelled, and returns the deliveries that go on.
func (s *PersonDeletionSaga) cancelRequested(ctx context.Context, ds []eventlog.Delivery) []eventlog.Delivery {
	if s.cfg.Cancellations == nil {
		return ds
	}
	ids := make([]string, 0, len(ds))
	for _, d := range ds {
		ids = append(ids, events.DeletionIDOf(d.Data))
	}
	cancelled, err := s.cfg.Cancellations.Cancelled(ctx, ids)
	if err != nil || len(cancelled) == 0 {
		return ds
	}
	rest := ds[:0:0]
	for _, d := range ds {
		deletion := events.DeletionIDOf(d.Data)
		if !cancelled[deletion] {
			rest = append(rest, d)
			continue
		}
		_, err := s.log.UpdatePerson(ctx, stepMeta(d), d.AggregateID, func(p *domain.Person) ([]any, error) {
			return p.Decide(domain.CancelPersonDeletion{DeletionID: deletion})
		})
		if err != nil {
			rest = append(rest, d) // already past the first step, or not this deletion: it goes on
			continue
		}
		s.mu.Lock()
		delete(s.snapshots, d.AggregateID)
		s.mu.Unlock()
		_ = d.Msg.Ack()
	}
	return rest
}

func (s *PersonDeletionSaga) remember(personID string, e events.PersonDeletionRequested) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.snapshots) < maxSnapshots {
		s.snapshots[personID] = domain.PersonSnapshot{Status: domain.StatusDeleting, DeletionID: e.DeletionID,
			PermissionGroupIDs: e.PermissionGroupIDs, Faces: e.Faces}
	}
}

// settled forgets a person whose saga has ended (deleted, or failed until an operator retries).
func (s *PersonDeletionSaga) settled(e events.Envelope) {
	switch e.Data.(type) {
	case events.PersonDeleted, events.PersonDeletionFailed:
		s.mu.Lock()
		delete(s.snapshots, e.AggregateID)
		s.mu.Unlock()
	}
}

// cached returns the states it holds for the deliveries: as recorded when the deletion started,
// each expected to be at its trigger (the append checks it).
func (s *PersonDeletionSaga) cached(ds []eventlog.Delivery) map[string]PersonState {
	out := make(map[string]PersonState, len(ds))
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range ds {
		if snap, ok := s.snapshots[d.AggregateID]; ok && snap.DeletionID == events.DeletionIDOf(d.Data) {
			out[d.AggregateID] = PersonState{PersonSnapshot: snap, Version: d.Seq}
		}
	}
	return out
}

func stepMeta(d eventlog.Delivery) events.Meta {
	return events.Meta{CorrelationID: d.CorrelationID, CausationID: d.ID, Actor: "person-deletion-saga"}
}

// states reads the batch's persons from the read model once it has applied every trigger; nil
// (all slow path) when there is no read side or it does not catch up in time.
func (s *PersonDeletionSaga) states(ctx context.Context, step domain.Step, ds []eventlog.Delivery) map[string]PersonState {
	if s.cfg.States == nil {
		return nil
	}
	var last uint64
	ids := make([]string, len(ds))
	for i, d := range ds {
		last, ids[i] = max(last, d.Seq), d.AggregateID
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.cfg.States.WaitFor(wctx, last); err != nil {
		return nil
	}
	def, _ := stepDefOf(step) // parts: what the step's record lists
	states, err := s.cfg.States.Persons(ctx, ids, def.parts)
	if err != nil {
		s.cfg.Logger.Warn("read person states; replaying from the log instead", "err", err)
		return nil
	}
	return states
}

// stillDue reports whether a step must run. A first delivery always is; a redelivered one may
// come after the step was recorded (a crash before the ack), and then the person may even have
// been re-created: its new data must not be touched, so the step's side effect is skipped.
func (s *PersonDeletionSaga) stillDue(ctx context.Context, step domain.Step, d eventlog.Delivery) bool {
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
	return remove(ctx, ports{s.target, s.keys}, s.cfg.ObserveStep, step, byIDsOnly(ids))
}
