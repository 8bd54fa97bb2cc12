package sagas

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
)

// BatchDeletionSaga drives batches of persons from DeletionBatchStarted to DeletionBatchCompleted
// (docs/adr/0003): the unit of work is the batch, the unit of truth stays the person. It reacts
// to the events of batch subjects only. Each recorded step triggers the next: the step's side
// effect runs for all the batch's persons in one downstream call, its record is appended on the
// batch's subject expecting the trigger to be the subject's last event, and the trigger is
// acknowledged only once that record is durable. A crash anywhere redelivers a step whose effect
// is idempotent; a record appended twice is refused by its expected sequence.
//
// A person's own subject gets only its PersonDeletionRequested (appended atomically with the
// batch's DeletionBatchStarted, by the dispatcher) and its terminal event. A person a store keeps
// refusing is split out at that step (PersonDeletionFailed, appended atomically with the step's
// record); the rest end together: every PersonDeleted, each expecting the sequence of the
// person's PersonDeletionRequested, and DeletionBatchCompleted, in one atomic batch, so a
// redelivered last step can never end a person twice.
type BatchDeletionSaga struct {
	log    *eventlog.Store
	target Stores
	keys   KeyShredder
	cfg    PersonDeletionConfig
	starts *batchStarts
}

// startsKept bounds the persons whose batches' starts a replica keeps in memory (batchStarts).
const startsKept = 100_000

// batchWorkers is how many batches run their steps side by side: one batch's store call
// overlaps another's appends.
const batchWorkers = 4

// NewBatchDeletionSaga returns the batch saga over its ports. Of cfg it uses Retry, AckWait,
// Cancellations, Logger and AfterDeletions.
func NewBatchDeletionSaga(log *eventlog.Store, target Stores, keys KeyShredder, cfg PersonDeletionConfig) *BatchDeletionSaga {
	cfg.Retry.setDefaults()
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = 30 * time.Second
	}
	return &BatchDeletionSaga{log: log, target: target, keys: keys, cfg: cfg, starts: newBatchStarts(startsKept)}
}

// Run consumes batch events until ctx ends.
func (s *BatchDeletionSaga) Run(ctx context.Context) error {
	return s.log.Consume(ctx, eventlog.DurableConfig{Name: "batch-deletion-saga", Filter: events.AggregateBatch + ".>",
		BatchSize: 1, AckWait: s.cfg.AckWait, Workers: batchWorkers},
		func(ctx context.Context, ds []eventlog.Delivery) {
			for _, d := range ds {
				s.Handle(ctx, d)
			}
		})
}

// batchStep returns the step a batch event triggers (the step table, steps.go);
// StepDeletePerson ends the batch.
func batchStep(data any) (domain.Step, bool) {
	if is[events.DeletionBatchStarted](data) {
		return steps[0].step, true
	}
	if is[events.DeletionBatchCompleted](data) {
		return "", false
	}
	d, ok := nextStep(data)
	return d.step, ok
}

// batchRun is one delivery's work: the batch as it started and the persons still in it.
type batchRun struct {
	d       eventlog.Delivery
	started events.DeletionBatchStarted
	// requested maps each of the batch's persons to the sequence of its PersonDeletionRequested:
	// the atomic batch that started the batch stored them contiguously, just before its start.
	requested map[string]uint64
	persons   []string // still in the batch, in the batch's order
	// ended counts, by outcome, the persons of the trigger's list that a redelivered step found
	// ended already (an earlier attempt of this step ended them one by one, then crashed).
	ended events.DeletionBatchCompleted
}

// startedPersons maps each person of the batch's start to what it was to lose.
func (b batchRun) startedPersons() map[string]events.BatchPerson {
	byID := make(map[string]events.BatchPerson, len(b.started.Persons))
	for _, p := range b.started.Persons {
		byID[p.PersonID] = p
	}
	return byID
}

// Handle runs the step one batch event triggers and acknowledges it once the step's record is
// durable; on an error it leaves the event for redelivery.
func (s *BatchDeletionSaga) Handle(ctx context.Context, d eventlog.Delivery) {
	step, ok := batchStep(d.Data)
	if !ok {
		_ = d.Msg.Ack() // the batch is complete
		return
	}
	var err error
	pprof.Do(ctx, pprof.Labels("step", string(step)), func(ctx context.Context) { err = s.handle(ctx, d, step) })
	switch {
	case err == nil:
		_ = d.Msg.Ack()
	case ctx.Err() != nil:
		_ = d.Msg.Nak() // shutting down: a live replica (or the next start) takes it at once
	default:
		s.cfg.Logger.Error("batch deletion step; will retry", "batch", d.AggregateID, "step", step, "correlation_id", d.CorrelationID, "err", err)
		_ = d.Msg.NakWithDelay(time.Second)
	}
}

func (s *BatchDeletionSaga) handle(ctx context.Context, d eventlog.Delivery, step domain.Step) error {
	b, done, err := s.load(ctx, d)
	if err != nil || done {
		return err
	}
	if step == domain.StepUnbindPermissions && s.cancelled(ctx, b.started.DeletionID) {
		return s.ended(b, s.end(ctx, b, nil, true))
	}
	failed := s.effect(ctx, b, step)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if step == domain.StepDeletePerson {
		err := s.ended(b, s.end(ctx, b, failed, false))
		if err == nil && s.cfg.AfterDeletions != nil {
			s.cfg.AfterDeletions(ctx)
		}
		return err
	}
	return s.record(ctx, b, step, failed)
}

// load returns the batch as the trigger leaves it; done means the trigger's next record is
// already durable (a redelivery after the append, before the ack). It reads no more of the
// batch's subject than whether anything follows the trigger and, unless it is kept in memory
// or is the trigger, the batch's start: reading the whole subject decoded every earlier
// step's record again at each step (a third of the saga's CPU in erasure bench).
func (s *BatchDeletionSaga) load(ctx context.Context, d eventlog.Delivery) (batchRun, bool, error) {
	if after, err := s.log.HasAfter(ctx, events.AggregateBatch, d.AggregateID, d.Seq); err != nil || after {
		return batchRun{}, after, err
	}
	start, err := s.start(ctx, d)
	if err != nil {
		return batchRun{}, false, err
	}
	started := start.Data.(events.DeletionBatchStarted)
	b := batchRun{d: d, started: started, requested: make(map[string]uint64, len(started.Persons))}
	first := start.Seq - uint64(len(started.Persons))
	for i, p := range started.Persons {
		b.requested[p.PersonID] = first + uint64(i)
	}
	b.persons = events.PersonIDsOf(d.Data)
	if md, err := d.Msg.Metadata(); err == nil && md.NumDelivered > 1 {
		// A redelivered step may come after some persons ended otherwise (ended one by one by
		// an earlier attempt; split out, then retried by an operator, deleted, even re-created):
		// their new data must not be touched, nor their end recorded twice.
		if err := s.stillInBatch(ctx, &b); err != nil {
			return batchRun{}, false, err
		}
	}
	return b, false, nil
}

// start returns the recorded DeletionBatchStarted of the trigger's batch.
func (s *BatchDeletionSaga) start(ctx context.Context, d eventlog.Delivery) (events.Recorded, error) {
	if is[events.DeletionBatchStarted](d.Data) {
		s.starts.put(d.AggregateID, d.Recorded)
		return d.Recorded, nil
	}
	if r, ok := s.starts.get(d.AggregateID); ok {
		return r, nil
	}
	r, ok, err := s.log.First(ctx, events.AggregateBatch, d.AggregateID)
	if err != nil {
		return events.Recorded{}, err
	}
	if !ok {
		return events.Recorded{}, fmt.Errorf("batch %s has no start", d.AggregateID)
	}
	if !is[events.DeletionBatchStarted](r.Data) {
		return events.Recorded{}, fmt.Errorf("batch %s starts with %s", d.AggregateID, r.Type)
	}
	s.starts.put(d.AggregateID, r)
	return r, nil
}

// stillInBatch keeps, of the batch's persons, those still deleting in it, reading their own
// subjects, and counts how the others ended.
func (s *BatchDeletionSaga) stillInBatch(ctx context.Context, b *batchRun) error {
	outcome := make([]string, len(b.persons))
	err := s.forEach(ctx, b.persons, func(i int, id string) error {
		history, _, err := s.log.Load(ctx, events.AggregatePerson, id)
		if err != nil {
			return err
		}
		outcome[i] = batchOutcome(history, b.started.DeletionID, b.d.AggregateID)
		return nil
	})
	if err != nil {
		return err
	}
	var keep []string
	for i, id := range b.persons {
		switch outcome[i] {
		case "":
			keep = append(keep, id)
		case "deleted":
			b.ended.Deleted++
		case "failed":
			b.ended.Failed++
		case "cancelled":
			b.ended.Cancelled++
		}
	}
	b.persons = keep
	return nil
}

// batchOutcome reads how a person's deletion in a batch ended ("deleted", "failed",
// "cancelled"), "" while it runs in the batch, "gone" if the person's history never started
// it there (the log was truncated, say): its end is not the batch's to record.
func batchOutcome(history []events.Recorded, deletionID, batch string) string {
	in := false
	for _, r := range history {
		switch e := r.Data.(type) {
		case events.PersonDeletionRequested:
			if e.Batch == batch && e.DeletionID == deletionID {
				in = true
			}
		case events.PersonDeleted:
			if in && e.DeletionID == deletionID {
				return "deleted"
			}
		case events.PersonDeletionFailed:
			if in && e.DeletionID == deletionID {
				return "failed"
			}
		case events.PersonDeletionCancelled:
			if in && e.DeletionID == deletionID {
				return "cancelled"
			}
		}
	}
	if !in {
		return "gone"
	}
	return ""
}

func (s *BatchDeletionSaga) cancelled(ctx context.Context, deletionID string) bool {
	if s.cfg.Cancellations == nil {
		return false
	}
	c, err := s.cfg.Cancellations.Cancelled(ctx, []string{deletionID})
	return err == nil && c[deletionID]
}

// effect runs the step's side effect for the batch's persons and returns those the store kept
// refusing (after the retry budget, each tried on its own so one bad record cannot fail the
// batch), with why.
func (s *BatchDeletionSaga) effect(ctx context.Context, b batchRun, step domain.Step) map[string]error {
	if len(b.persons) == 0 {
		return nil
	}
	byID := b.startedPersons()
	call := func(ids []string) error {
		persons := make([]events.BatchPerson, len(ids))
		for i, id := range ids {
			persons[i] = byID[id]
			persons[i].PersonID = id
		}
		return remove(ctx, ports{s.target, s.keys}, s.cfg.ObserveStep, step, persons)
	}
	// Each retry, and each person tried alone, shows the step is alive (InProgress); a call
	// that hangs does not, so its step goes to another worker after AckWait.
	alive := func() { _ = b.d.Msg.InProgress() }
	if s.cfg.Retry.doAlive(ctx, func() error { return call(b.persons) }, alive) == nil || ctx.Err() != nil {
		return nil
	}
	failed := map[string]error{}
	for _, id := range b.persons {
		alive()
		if err := call([]string{id}); err != nil {
			s.cfg.Logger.Warn("deletion step failed after retries", "person_id", id, "batch", b.d.AggregateID, "step", step,
				"correlation_id", b.d.CorrelationID, "err", err)
			failed[id] = err
		}
	}
	return failed
}

// record appends the step's record, listing the persons that go on, atomically with the
// failures of those split out.
func (s *BatchDeletionSaga) record(ctx context.Context, b batchRun, step domain.Step, failed map[string]error) error {
	def, ok := stepDefOf(step)
	if !ok || def.record == nil {
		return fmt.Errorf("batch step %q has no record", step)
	}
	byID := b.startedPersons()
	var goOn []events.BatchPerson
	for _, id := range b.persons {
		if _, ok := failed[id]; !ok {
			p := byID[id]
			p.PersonID = id
			goOn = append(goOn, p)
		}
	}
	rec, err := events.New(events.AggregateBatch, b.d.AggregateID, def.record(b.started.DeletionID, b.d.AggregateID, goOn), s.meta(b.d))
	if err != nil {
		return err
	}
	return s.appendWith(ctx, b, eventlog.Pending{Expected: b.d.Seq, Event: rec}, s.failures(b, step, failed))
}

// end appends every remaining person's terminal event with DeletionBatchCompleted. Cancelled
// ends them all cancelled (the request was cancelled before the batch removed anything).
func (s *BatchDeletionSaga) end(ctx context.Context, b batchRun, failed map[string]error, cancelled bool) error {
	deletion, batch := b.started.DeletionID, b.d.AggregateID
	var terminals []personEnd
	done := b.ended
	done.DeletionID, done.Batch = deletion, batch
	for _, id := range b.persons {
		switch {
		case cancelled:
			terminals = append(terminals, personEnd{id, events.PersonDeletionCancelled{PersonID: id, DeletionID: deletion},
				domain.CancelPersonDeletion{DeletionID: deletion}})
			done.Cancelled++
		case failed[id] != nil:
			continue // in failures below
		default:
			terminals = append(terminals, personEnd{id, events.PersonDeleted{PersonID: id, DeletionID: deletion},
				domain.EndBatchedDeletion{DeletionID: deletion, Batch: batch}})
			done.Deleted++
		}
	}
	fails := s.failures(b, domain.StepDeletePerson, failed)
	terminals = append(terminals, fails...)
	// Those split out at earlier steps failed then: the batch's persons less the trigger's.
	done.Failed += len(b.started.Persons) - len(events.PersonIDsOf(b.d.Data)) + len(fails)
	rec, err := events.New(events.AggregateBatch, batch, done, s.meta(b.d))
	if err != nil {
		return err
	}
	return s.appendWith(ctx, b, eventlog.Pending{Expected: b.d.Seq, Event: rec}, terminals)
}

// ended forgets the batch's start once its end is recorded; err is the end's.
func (s *BatchDeletionSaga) ended(b batchRun, err error) error {
	if err == nil {
		s.starts.forget(b.d.AggregateID)
	}
	return err
}

// personEnd is a person's terminal event as decided from the batch, and the command that decides
// it from the person's own history when the person's subject moved on since its request.
type personEnd struct {
	personID string
	event    any
	command  any
}

func (s *BatchDeletionSaga) failures(b batchRun, step domain.Step, failed map[string]error) []personEnd {
	var out []personEnd
	for _, id := range b.persons {
		err := failed[id]
		if err == nil {
			continue
		}
		out = append(out, personEnd{id,
			events.PersonDeletionFailed{PersonID: id, DeletionID: b.started.DeletionID, Code: domain.CodeStepFailed, Step: string(step), Message: err.Error()},
			domain.EndBatchedDeletion{DeletionID: b.started.DeletionID, Batch: b.d.AggregateID, Step: step, Code: domain.CodeStepFailed, Message: err.Error()}})
	}
	return out
}

// appendWith appends the batch's record and the persons' terminal events in one atomic batch,
// each terminal expecting the person's PersonDeletionRequested to be its last event. When that
// is refused (a person's subject moved on: a further request joined, a permission group's
// deletion unbound it; or no atomic batches on this server), each person is ended on its own,
// decided from its history, and then the record is appended: a crash in between redelivers the
// trigger, which ends the rest (ending a person twice is a no-op).
func (s *BatchDeletionSaga) appendWith(ctx context.Context, b batchRun, rec eventlog.Pending, ends []personEnd) error {
	pending := make([]eventlog.Pending, 0, len(ends)+1)
	for _, e := range ends {
		env, err := events.New(events.AggregatePerson, e.personID, e.event, s.meta(b.d))
		if err != nil {
			return err
		}
		pending = append(pending, eventlog.Pending{Expected: b.requested[e.personID], Event: env})
	}
	pending = append(pending, rec)
	if _, err := s.log.AppendAtomic(ctx, pending); err == nil {
		return nil
	}
	if after, err := s.log.HasAfter(ctx, events.AggregateBatch, b.d.AggregateID, rec.Expected); err != nil {
		return err
	} else if after {
		return nil // another worker recorded the step meanwhile (this one was a redelivery's twin)
	}
	_ = b.d.Msg.InProgress()
	err := s.forEach(ctx, make([]string, len(ends)), func(i int, _ string) error {
		e := ends[i]
		_, err := s.log.UpdatePerson(ctx, s.meta(b.d), e.personID, func(p *domain.Person) ([]any, error) {
			return p.Decide(e.command)
		})
		if errors.Is(err, domain.ErrNotDeleting) || errors.Is(err, domain.ErrDeletionUnderway) {
			return nil // it ended otherwise
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("end persons of batch %s one by one: %w", b.d.AggregateID, err)
	}
	if _, err := s.log.Append(ctx, rec.Expected, rec.Event); err != nil && !errors.Is(err, eventlog.ErrConcurrency) {
		return err
	}
	return nil
}

// forEach runs fn for each id, 16 at a time, and returns the errors joined.
func (s *BatchDeletionSaga) forEach(ctx context.Context, ids []string, fn func(i int, id string) error) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 16)
	)
	for i, id := range ids {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(i, id); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(append(errs, ctx.Err())...)
}

func (s *BatchDeletionSaga) meta(d eventlog.Delivery) events.Meta {
	return events.Meta{CorrelationID: d.CorrelationID, CausationID: d.ID, Actor: "batch-deletion-saga"}
}

func nonNil(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return slices.Clone(ids)
}
