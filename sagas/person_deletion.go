package sagas

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/storeerr"
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

// do runs fn until it succeeds or the budget is spent, returning the last error. Failures of a
// store that is down or full (storeerr.Down) do not spend the budget: the step waits for the
// store to come back, however long it takes, rather than failing persons over an outage.
func (r Retry) do(ctx context.Context, fn func() error) error { return r.doAlive(ctx, fn, nil) }

// doAlive is do that calls alive before each wait: the worker shows it is still at it (a hung
// call does not, so its work goes to another worker after AckWait).
func (r Retry) doAlive(ctx context.Context, fn func() error, alive func()) error {
	delay := r.Initial
	var err error
	for attempt := 1; ; attempt++ {
		err = fn()
		if err != nil && storeerr.Down(err) && ctx.Err() == nil {
			attempt--
		} else if err == nil || attempt >= r.Attempts {
			return err
		}
		if alive != nil {
			alive()
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
	// States is the read side of the fast path; without it every step replays the person.
	States PersonStates
	// Cancellations, when set, lets a cancelled request stop persons that have not begun.
	Cancellations Cancellations
	Logger        *slog.Logger
	// AfterDeletions runs after a batch deleted persons (SQLite: truncate the write-ahead logs so
	// no copy of deleted rows lingers).
	AfterDeletions func(context.Context)
	// Targets are the external systems every deletion also deletes the person from, after the
	// built-in stores; TargetRetry bounds how long each keeps trying (default 8 attempts, 1s
	// doubling to 30s: about two minutes of outage), TargetConcurrency how many persons'
	// outcomes are recorded at once (default 16).
	Targets           []RemoteTarget
	TargetRetry       Retry
	TargetConcurrency int
}

// PersonDeletionSaga drives each person from PersonDeletionRequested to PersonDeleted: unbind
// permission groups, purge faces, purge photos, destroy the data key. It starts from the person's
// own events and runs each step once the previous one is durably recorded, a batch of persons at
// a time (HandleBatch); a crash at any point redelivers the chain's start, which resumes from the
// log: the side effects are idempotent, and recording a step that is already recorded is a no-op
// decided by the Person aggregate.
type PersonDeletionSaga struct {
	log    *events.Store
	target Target
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
func NewPersonDeletionSaga(log *events.Store, target Target, keys KeyShredder, cfg PersonDeletionConfig) *PersonDeletionSaga {
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
	return s.log.Consume(ctx, events.DurableConfig{Name: "person-deletion-saga", Filter: events.AggregatePerson + ".>", BatchSize: s.cfg.BatchSize, AckWait: s.cfg.AckWait,
		// A person has one step in flight at a time (each step is triggered by the previous
		// one's record), so batches can run side by side.
		Workers: 3},
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
		if len(e.Targets) > 0 {
			return domain.StepDeleteFromTargets, true
		}
		return domain.StepDeletePerson, true
	case events.PersonRemovedFromTargets:
		if len(e.Remaining) == 0 {
			return domain.StepDeletePerson, true
		}
	}
	return "", false
}

// link is one person's place in a batch's chain of steps: the delivery that started it (acked
// when the chain ends for the person) and the person's last event, which the next record expects.
type link struct {
	d         events.Delivery
	seq       uint64 // the person's last event
	causation string // that event's id
}

func (l *link) personID() string { return l.d.AggregateID }

// HandleBatch runs the steps a batch of person events triggers, one downstream call per step
// for the whole batch, and records each person's step. The persons that record a step go on to
// the next one at once, in the same batch, with the record marked Continues: a person's steps
// follow each other in the log instead of in waves over the whole bulk, and no step waits for its
// trigger to come round the consumer. Only the starting delivery is acknowledged, when the chain
// ends for the person; should the process stop before, that delivery comes back and resumes
// from the person's last recorded step.
func (s *PersonDeletionSaga) HandleBatch(ctx context.Context, batch []events.Delivery) {
	byStep := map[domain.Step][]*link{}
	started := 0
	for _, d := range batch {
		if d.Continues {
			_ = d.Msg.Ack() // its appender runs the next step itself
			continue
		}
		l, step, ok := s.start(ctx, d)
		if !ok {
			_ = d.Msg.Ack()
			continue
		}
		byStep[step] = append(byStep[step], l)
		started++
	}
	if started == 0 {
		return
	}
	// A step that ends shows the chain alive; a hung one does not, so its persons go to another
	// worker after AckWait. Only when a chain runs long: each signal is a message per person.
	alive := time.Now()
	deleted := false
	var carried []*link
	for _, step := range domain.Steps {
		if step == domain.StepDeleteFromTargets {
			// Only from its own triggers: a chain carried past the photos has no targets.
			if ls := byStep[step]; len(ls) > 0 {
				ds := make([]events.Delivery, len(ls))
				for i, l := range ls {
					ds[i] = l.d
				}
				s.runTargets(ctx, ds)
			}
			continue
		}
		if len(carried) > 0 && time.Since(alive) > s.cfg.AckWait/3 {
			for _, l := range carried {
				_ = l.d.Msg.InProgress()
			}
			alive = time.Now()
		}
		ls := append(byStep[step], carried...)
		carried = nil
		if len(ls) == 0 {
			continue
		}
		carried = s.runStep(ctx, step, ls)
		deleted = deleted || step == domain.StepDeletePerson
	}
	if deleted && s.cfg.AfterDeletions != nil {
		s.cfg.AfterDeletions(ctx)
	}
}

// start returns the link and first step of a delivery that triggers one. A first delivery
// starts where its event says. A redelivery may come after steps were recorded (a crash before
// the ack, or a chain cut short), and the person may even have been re-created since: it
// resumes at the person's next step, as the log has it, if the person is still in this deletion.
func (s *PersonDeletionSaga) start(ctx context.Context, d events.Delivery) (*link, domain.Step, bool) {
	step, ok := stepFor(d.Data)
	if !ok {
		return nil, "", false
	}
	l := &link{d: d, seq: d.Seq, causation: d.ID}
	if md, err := d.Msg.Metadata(); err == nil && md.NumDelivered <= 1 {
		if e, ok := d.Data.(events.PersonDeletionRequested); ok {
			s.remember(d.AggregateID, e)
		}
		return l, step, true
	}
	history, _, err := s.log.Load(ctx, events.AggregatePerson, d.AggregateID)
	if err != nil || len(history) == 0 {
		return l, step, true // the effect is idempotent; recording decides
	}
	data := make([]any, len(history))
	for i, r := range history {
		data[i] = r.Data
	}
	p := domain.PersonFromHistory(d.AggregateID, data)
	deletion, next, failed := p.Deletion()
	if p.Status() != domain.StatusDeleting || deletion != events.DeletionIDOf(d.Data) || failed {
		return nil, "", false
	}
	last := history[len(history)-1]
	l.seq, l.causation = last.Seq, last.ID
	return l, next, true
}

// runStep runs one step for the links and records it; it returns the links that go on to the
// next step.
func (s *PersonDeletionSaga) runStep(ctx context.Context, step domain.Step, ls []*link) []*link {
	if step == domain.StepUnbindPermissions {
		if ls = s.cancelRequested(ctx, ls); len(ls) == 0 {
			return nil
		}
	}
	ids := make([]string, len(ls))
	for i, l := range ls {
		ids[i] = l.personID()
	}
	failed := map[string]error{}
	// Retries may outlast AckWait (a store outage): each one keeps the deliveries ours.
	err := s.cfg.Retry.doAlive(ctx, func() error { return s.effect(ctx, step, ids) }, func() {
		for _, l := range ls {
			_ = l.d.Msg.InProgress()
		}
	})
	if err != nil {
		if ctx.Err() != nil {
			// Shutting down: release the steps so a live replica (or the next start) takes
			// them at once instead of after AckWait.
			for _, l := range ls {
				_ = l.d.Msg.Nak()
			}
			return nil
		}
		// Isolate the persons the store keeps refusing, so one bad record cannot fail the batch.
		for _, id := range ids {
			if err := s.effect(ctx, step, []string{id}); err != nil {
				failed[id] = err
			}
		}
	}
	commands := make([]any, len(ls))
	for i, l := range ls {
		commands[i] = domain.RecordDeletionStep{Step: step}
		if step == domain.StepPurgePhotos {
			commands[i] = domain.RecordDeletionStep{Step: step, Targets: s.targets}
		}
		if err, ok := failed[l.personID()]; ok {
			s.cfg.Logger.Warn("deletion step failed after retries", "person_id", l.personID(), "step", step, "correlation_id", l.d.CorrelationID, "err", err)
			commands[i] = domain.FailPersonDeletion{Step: step, Code: domain.CodeStepFailed, Message: err.Error()}
		}
	}
	// The targets step runs from its own trigger, with its own concurrency (runTargets).
	continues := step != domain.StepDeletePerson && !(step == domain.StepPurgePhotos && len(s.targets) > 0)
	return s.record(ctx, step, ls, commands, continues)
}

// record appends each person's step outcome and returns the links that go on; the others'
// deliveries are acknowledged (or, when recording failed, handed back). The fast path decides
// for the whole batch from the saga's snapshots (or the read model) and appends in atomic
// batches, each append expecting the link's last event to still be the person's last; any
// person it cannot settle (a stale read model, a concurrent event) takes the slow path: replay
// the person's events, decide, append, and leave the next step to the consumer.
func (s *PersonDeletionSaga) record(ctx context.Context, step domain.Step, ls []*link, commands []any, continues bool) []*link {
	slow := make([]int, 0, len(ls))
	var pending []events.Pending
	var pendingIdx []int
	states := s.cached(ls)
	if len(states) < len(ls) {
		var missing []*link
		for _, l := range ls {
			if _, ok := states[l.personID()]; !ok {
				missing = append(missing, l)
			}
		}
		for id, st := range s.states(ctx, step, missing) {
			states[id] = st
		}
	}
	for i, l := range ls {
		st, ok := states[l.personID()]
		if !ok || st.Version != l.seq || st.Status != domain.StatusDeleting {
			slow = append(slow, i)
			continue
		}
		st.NextStep = step
		decided, err := domain.UnmarshalPerson(l.personID(), st.PersonSnapshot).Decide(commands[i])
		if err != nil || len(decided) != 1 {
			slow = append(slow, i)
			continue
		}
		_, failure := commands[i].(domain.FailPersonDeletion)
		e, err := events.New(events.AggregatePerson, l.personID(), decided[0], linkMeta(l, continues && !failure))
		if err != nil {
			slow = append(slow, i)
			continue
		}
		pending = append(pending, events.Pending{Expected: l.seq, Event: e})
		pendingIdx = append(pendingIdx, i)
	}
	var next []*link
	if len(pending) > 0 {
		seqs, errs := s.log.AppendBatch(ctx, pending)
		for j, err := range errs {
			l := ls[pendingIdx[j]]
			if err != nil {
				slow = append(slow, pendingIdx[j])
				continue
			}
			s.settled(pending[j].Event)
			if pending[j].Event.Continues {
				l.seq, l.causation = seqs[j], pending[j].Event.ID
				next = append(next, l)
				continue
			}
			_ = l.d.Msg.Ack()
		}
	}
	for _, i := range slow {
		l, cmd := ls[i], commands[i]
		appended := false
		_, err := s.log.Execute(ctx, linkMeta(l, false), events.AggregatePerson, l.personID(), func(h []any) ([]any, error) {
			decided, err := domain.PersonFromHistory(l.personID(), h).Decide(cmd)
			appended = len(decided) > 0
			return decided, err
		})
		switch {
		case err == nil && !appended:
			// Another chain recorded this step first (this one is a redelivery that raced it,
			// or the other is): that chain goes on and acknowledges. Should it die first, the
			// delivery comes back after AckWait and resumes from the log; acknowledging here
			// would strand the person on a record marked Continues that nobody continues.
		case err == nil, errors.Is(err, domain.ErrNotDeleting):
			_ = l.d.Msg.Ack()
		default:
			s.cfg.Logger.Error("record deletion step", "person_id", l.personID(), "step", step, "correlation_id", l.d.CorrelationID, "err", err)
			_ = l.d.Msg.NakWithDelay(time.Second)
		}
	}
	return next
}

// cancelRequested stops, before anything is removed, the persons whose deletion request was
// cancelled, and returns the links that go on.
func (s *PersonDeletionSaga) cancelRequested(ctx context.Context, ls []*link) []*link {
	if s.cfg.Cancellations == nil {
		return ls
	}
	ids := make([]string, 0, len(ls))
	for _, l := range ls {
		ids = append(ids, events.DeletionIDOf(l.d.Data))
	}
	cancelled, err := s.cfg.Cancellations.Cancelled(ctx, ids)
	if err != nil || len(cancelled) == 0 {
		return ls
	}
	rest := ls[:0:0]
	for _, l := range ls {
		deletion := events.DeletionIDOf(l.d.Data)
		if !cancelled[deletion] {
			rest = append(rest, l)
			continue
		}
		_, err := s.log.Execute(ctx, linkMeta(l, false), events.AggregatePerson, l.personID(), func(h []any) ([]any, error) {
			return domain.PersonFromHistory(l.personID(), h).Decide(domain.CancelPersonDeletion{DeletionID: deletion})
		})
		if err != nil {
			rest = append(rest, l) // already past the first step, or not this deletion: it goes on
			continue
		}
		s.mu.Lock()
		delete(s.snapshots, l.personID())
		s.mu.Unlock()
		_ = l.d.Msg.Ack()
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

// cached returns the states it holds for the links: as recorded when the deletion started,
// each expected to be at the link's last event (the append checks it).
func (s *PersonDeletionSaga) cached(ls []*link) map[string]PersonState {
	out := make(map[string]PersonState, len(ls))
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range ls {
		if snap, ok := s.snapshots[l.personID()]; ok && snap.DeletionID == events.DeletionIDOf(l.d.Data) {
			out[l.personID()] = PersonState{PersonSnapshot: snap, Version: l.seq}
		}
	}
	return out
}

// linkMeta is the metadata of a step record: caused by the person's previous event.
func linkMeta(l *link, continues bool) events.Meta {
	return events.Meta{CorrelationID: l.d.CorrelationID, CausationID: l.causation, Actor: "person-deletion-saga", Continues: continues}
}

func stepMeta(d events.Delivery) events.Meta {
	return events.Meta{CorrelationID: d.CorrelationID, CausationID: d.ID, Actor: "person-deletion-saga"}
}

// states reads the links' persons from the read model once it has applied every link's last
// event; nil (all slow path) when there is no read side or it does not catch up in time.
func (s *PersonDeletionSaga) states(ctx context.Context, step domain.Step, ls []*link) map[string]PersonState {
	if s.cfg.States == nil {
		return nil
	}
	var last uint64
	ids := make([]string, len(ls))
	for i, l := range ls {
		last, ids[i] = max(last, l.seq), l.personID()
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.cfg.States.WaitFor(wctx, last); err != nil {
		return nil
	}
	var parts StateParts // what the step's record lists
	switch step {
	case domain.StepUnbindPermissions:
		parts = WithPermissionGroups
	case domain.StepPurgeFaces, domain.StepPurgePhotos:
		parts = WithFaces
	}
	states, err := s.cfg.States.Persons(ctx, ids, parts)
	if err != nil {
		s.cfg.Logger.Warn("read person states; replaying from the log instead", "err", err)
		return nil
	}
	return states
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
