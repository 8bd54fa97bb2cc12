package sagas

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/retry"
)

// targetFailure is why one target could not delete one person.
type targetFailure struct {
	target   string
	err      error
	attempts int
}

// runTargets deletes a batch of persons from the external targets each still has pending. Every
// target runs on its own, so a slow or dead one does not hold the others' confirmations: each
// person's confirmation by a target is recorded as soon as the target gave it. A person whose
// every target confirmed moves on to the last step (the confirmation event triggers it); one
// that some target kept refusing fails, naming the targets, for an operator's retry (which runs
// only the targets still pending).
func (s *PersonDeletionSaga) runTargets(ctx context.Context, ds []eventlog.Delivery) {
	// Targets may take longer than AckWait to answer: no other worker takes these meanwhile.
	defer eventlog.KeepInProgress(ds, s.cfg.AckWait)()
	byTarget := map[string][]string{}
	due := map[string]eventlog.Delivery{}
	for _, d := range ds {
		history, _, err := s.log.Load(ctx, events.AggregatePerson, d.AggregateID)
		if err != nil {
			s.cfg.Logger.Error("load person for its targets", "person_id", d.AggregateID, "err", err)
			_ = d.Msg.NakWithDelay(time.Second)
			continue
		}
		data := make([]any, len(history))
		for i, r := range history {
			data[i] = r.Data
		}
		p := domain.PersonFromHistory(d.AggregateID, data)
		deletion, next, _ := p.Deletion()
		if p.Status() != domain.StatusDeleting || next != domain.StepDeleteFromTargets || deletion != events.DeletionIDOf(d.Data) {
			_ = d.Msg.Ack() // a redelivery of a step already done, or of an older deletion
			continue
		}
		due[d.AggregateID] = d
		for _, t := range p.PendingTargets() {
			byTarget[t] = append(byTarget[t], d.AggregateID)
		}
	}
	var (
		mu         sync.Mutex
		failures   = map[string][]targetFailure{}
		unrecorded = map[string]bool{} // persons an outcome of whom could not be appended
		wg         sync.WaitGroup
	)
	record := func(id string, cmd any) {
		if err := s.execute(ctx, due[id], cmd); err != nil {
			mu.Lock()
			unrecorded[id] = true
			mu.Unlock()
		}
	}
	for name, ids := range byTarget {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id, f := range s.deleteFromTarget(ctx, name, ids, record) {
				mu.Lock()
				failures[id] = append(failures[id], f)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		for _, d := range due { // shutting down: hand the rest to the next worker at once
			_ = d.Msg.Nak()
		}
		return
	}
	s.each(ctx, keysOf(failures), func(id string) {
		fs := failures[id]
		sort.Slice(fs, func(i, j int) bool { return fs[i].target < fs[j].target })
		var names, msgs []string
		attempts := 0
		for _, f := range fs {
			names = append(names, f.target)
			msgs = append(msgs, fmt.Sprintf("target %s: %v", f.target, f.err))
			attempts = max(attempts, f.attempts)
		}
		cmd := domain.FailPersonDeletion{Step: domain.StepDeleteFromTargets, Code: domain.CodeStepFailed,
			Message: strings.Join(msgs, "; "), Targets: names, Attempts: attempts}
		s.cfg.Logger.Warn("deletion from targets failed", "person_id", id, "targets", names, "err", cmd.Message)
		record(id, cmd)
	})
	for id, d := range due {
		if unrecorded[id] {
			_ = d.Msg.NakWithDelay(time.Second) // the targets are idempotent: run it again
			continue
		}
		_ = d.Msg.Ack()
	}
}

// deleteFromTarget runs one target for the persons, retrying what it could not delete under
// TargetRetry, and records each confirmation as it comes. It returns the persons that failed.
func (s *PersonDeletionSaga) deleteFromTarget(ctx context.Context, name string, ids []string, record func(string, any)) map[string]targetFailure {
	failed := map[string]targetFailure{}
	var target Target
	for _, t := range s.cfg.Targets {
		if t.Name() == name {
			target = t
		}
	}
	if target == nil {
		// The configuration no longer names it: fail, so a retry can run once it does again.
		for _, id := range ids {
			failed[id] = targetFailure{target: name, err: errors.New("not configured on this replica")}
		}
		return failed
	}
	// One call per attempt for the persons still to do; a refusal that is not permanent is tried
	// again after the shared policy's jittered wait, so the workers of several replicas that
	// failed together do not hit a recovering target together.
	attempt := 0
	remaining := ids
	err := retry.Do(ctx, s.cfg.TargetRetry.policy(), func(ctx context.Context) error {
		attempt++
		errs := target.DeletePersons(ctx, remaining)
		if ctx.Err() != nil {
			return retry.Permanent(ctx.Err())
		}
		var again, confirmed []string
		for _, id := range remaining {
			err := errs[id]
			switch {
			case err == nil:
				confirmed = append(confirmed, id)
				delete(failed, id) // refused before, confirmed now
			case errors.Is(err, ErrPermanent):
				failed[id] = targetFailure{target: name, err: err, attempts: attempt}
			default:
				again = append(again, id)
				failed[id] = targetFailure{target: name, err: err, attempts: attempt}
			}
		}
		s.each(ctx, confirmed, func(id string) {
			record(id, domain.ConfirmTargets{Targets: []string{name}, Attempts: attempt})
		})
		if len(again) == 0 {
			return nil
		}
		remaining = again
		return fmt.Errorf("%d persons: %w", len(again), errs[again[0]])
	}, retry.OnRetry(func(attempt int, err error, wait time.Duration) {
		s.cfg.Logger.Info("target refused; retrying", "target", name, "attempt", attempt, "err", err, "retry_in", wait)
	}))
	if err != nil && ctx.Err() != nil {
		return nil // the caller hands everything back
	}
	return failed
}

// execute records one command on a person, through the log.
func (s *PersonDeletionSaga) execute(ctx context.Context, d eventlog.Delivery, cmd any) error {
	_, err := s.log.UpdatePerson(ctx, stepMeta(d), d.AggregateID, func(p *domain.Person) ([]any, error) {
		return p.Decide(cmd)
	})
	if err == nil || errors.Is(err, domain.ErrNotDeleting) {
		return nil
	}
	s.cfg.Logger.Error("record target outcome", "person_id", d.AggregateID, "correlation_id", d.CorrelationID, "err", err)
	return err
}

// each runs fn for every id, TargetConcurrency at a time.
func (s *PersonDeletionSaga) each(ctx context.Context, ids []string, fn func(string)) {
	sem := make(chan struct{}, s.cfg.TargetConcurrency)
	var wg sync.WaitGroup
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(id)
		}()
	}
	wg.Wait()
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
