package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/projections"
)

// Deletions is the erasure of persons: deletion requests (of IDs, of a group, of one person),
// their lists, items, failures, retries, cancellation and live updates, the backpressure of
// bulk intakes, and the configured external targets with their figures. Its methods live in
// deletions.go, delete.go (a group's or one person's deletion), deletion_list.go, deleted.go,
// follow.go, backpressure.go and targets.go. The sagas carry the deletions out; Deletions
// records what is asked and reads back how it goes.
type Deletions struct {
	*writes
	reads projections.Queries
	// registry answers whether the group or the person a deletion names exists.
	registry *Registry
	logger   *slog.Logger
	// CheckCallback refuses a deletion request's callback URL (one that reaches a private
	// address, say): set by the service to the webhook dispatcher's check (App.SetWebhooks).
	CheckCallback func(ctx context.Context, url string) error
	targets       []TargetInfo // set by SetTargets (targets.go)
	backpressure  Backpressure // bounds of bulk intakes (backpressure.go); zero: none
}

// DeletionInput is a deletion request. IDs yields the person IDs in request order; it is read
// once, so a caller can stream millions without holding them.
type DeletionInput struct {
	IDs            func(yield func(string) bool) error
	GroupID        string
	IdempotencyKey string
	CallbackURL    string
	// CallbackFormat is the body the callback gets: "" or "standard" (the webhook body), or
	// "sophon" (the Sophon management platform's deleteidentities result).
	CallbackFormat string
	// Source names the surface the request came through when its actor cannot tell
	// (projections.SourceSophon for a Sophon request: it may record an API key's name).
	Source string
}

// Callback formats.
const (
	CallbackStandard = "standard"
	CallbackSophon   = "sophon"
)

// checkCallback validates a request's callback before anything is recorded.
func (del *Deletions) checkCallback(ctx context.Context, in DeletionInput) error {
	switch in.CallbackFormat {
	case "", CallbackStandard, CallbackSophon:
	default:
		return fmt.Errorf("%w: callback_format must be standard or sophon, got %q", ErrInvalidArgument, in.CallbackFormat)
	}
	if in.CallbackURL == "" {
		if in.CallbackFormat != "" {
			return fmt.Errorf("%w: callback_format needs a callback_url", ErrInvalidArgument)
		}
		return nil
	}
	if del.CheckCallback != nil {
		if err := del.CheckCallback(ctx, in.CallbackURL); err != nil {
			return fmt.Errorf("%w: callback_url: %w", ErrInvalidArgument, err)
		}
	}
	return nil
}

// ErrNoIDs means a deletion request named no ID at all.
var ErrNoIDs = errors.New("the request names no person id")

// deletionIDFor makes the deletion id of an idempotency key: a repeat of the request appends to
// the same subject, finds it taken, and answers the first deletion id, without any lookup race.
func deletionIDFor(key string) string {
	if key == "" {
		return events.NewDeletionID()
	}
	sum := sha256.Sum256([]byte(key))
	return "k" + hex.EncodeToString(sum[:15])
}

// RequestDeletion records a deletion request in the log, in chunks, and returns its id once the
// request is durable and visible. existing is true when the idempotency key was used before.
func (del *Deletions) RequestDeletion(ctx context.Context, caller Caller, in DeletionInput) (id string, existing bool, err error) {
	meta := caller.meta()
	if err := del.checkCallback(ctx, in); err != nil {
		return "", false, err
	}
	if in.GroupID != "" {
		if err := domain.ValidateID(in.GroupID); err != nil {
			return "", false, fmt.Errorf("group_id: %w", err)
		}
		if _, err := del.registry.GetGroup(ctx, in.GroupID); err != nil {
			return "", false, err
		}
	}
	id = deletionIDFor(in.IdempotencyKey)
	if in.IdempotencyKey != "" {
		// The last sequence alone: a bulk's history is thousands of chunk events.
		if last, err := del.log.Last(ctx, events.AggregateDeletion, id); err != nil {
			return "", false, err
		} else if last > 0 {
			return id, true, del.waitVisible(ctx, last)
		}
	}
	if meta.CorrelationID == "" {
		meta.CorrelationID = id
	}
	planner := domain.NewDeletionPlanner(id, in.GroupID, in.IdempotencyKey, in.CallbackURL, domain.DefaultChunkSize)
	var expected uint64
	var appendErr error
	var chunkSeqs []uint64 // each appended chunk's sequence
	put := func(chunk events.DeletionRequested) bool {
		if chunk.Chunk == 0 && in.CallbackFormat != CallbackStandard {
			chunk.CallbackFormat = in.CallbackFormat
		}
		if chunk.Chunk == 0 {
			chunk.Source = in.Source
		}
		if chunk.Chunk > 0 && chunk.Chunk%8 == 0 { // every 8,000 IDs: is there room for more?
			if appendErr = del.waitForRoom(ctx, id, chunk.Chunk*domain.DefaultChunkSize); appendErr != nil {
				return false
			}
			// The read model stays within 16 chunks of the intake, so the answer's wait for
			// the last chunk to be visible is as short for a million IDs as for a thousand
			// (without it, a bulk of a million on a busy server could outrun WriteTimeout).
			if chunk.Chunk >= 16 {
				if appendErr = del.waitVisible(ctx, chunkSeqs[chunk.Chunk-16]); appendErr != nil {
					return false
				}
			}
		}
		e, err := events.New(events.AggregateDeletion, id, chunk, meta)
		if err != nil {
			appendErr = err
			return false
		}
		expected, appendErr = del.log.Append(ctx, expected, e)
		chunkSeqs = append(chunkSeqs, expected)
		return appendErr == nil
	}
	err = in.IDs(func(personID string) bool {
		if chunk, full := planner.Add(personID); full {
			return put(chunk)
		}
		return true
	})
	if appendErr != nil {
		if errors.Is(appendErr, eventlog.ErrConcurrency) && expected == 0 && in.IdempotencyKey != "" {
			return id, true, nil // a concurrent repeat of the same request won
		}
		return "", false, appendErr
	}
	if err != nil {
		return "", false, err
	}
	if planner.Count() == 0 {
		return "", false, ErrNoIDs
	}
	if !put(planner.Finish()) {
		return "", false, appendErr
	}
	return id, false, del.waitVisible(ctx, expected)
}

// Deletion is the read model's view of a deletion request.
type Deletion = projections.Deletion

// GetDeletion returns a deletion request with its counters.
func (del *Deletions) GetDeletion(ctx context.Context, id string) (Deletion, error) {
	d, err := del.reads.Deletion(ctx, id)
	if err != nil {
		return Deletion{}, fromReadModel(err, fmt.Errorf("deletion %s: %w", id, ErrNotFound))
	}
	return d, nil
}

// DeletionItem is one ID of a deletion request and its outcome.
type DeletionItem = projections.DeletionItem

// DeletionItems lists a request's items in request order after the cursor position, optionally
// in one state.
func (del *Deletions) DeletionItems(ctx context.Context, id, state string, after int64, limit int) ([]DeletionItem, error) {
	return del.DeletionItemsWhere(ctx, id, ItemFilter{State: state}, after, limit)
}

// ItemFilter selects a request's items for DeletionItemsWhere. Zero fields select everything;
// a value nothing has (an unknown code, say) selects nothing.
type ItemFilter = projections.ItemFilter

// DeletionItemsWhere lists a request's items that f selects, in request order after the
// cursor position, with their targets' outcomes when targets are configured.
func (del *Deletions) DeletionItemsWhere(ctx context.Context, id string, f ItemFilter, after int64, limit int) ([]DeletionItem, error) {
	if _, err := del.GetDeletionState(ctx, id); err != nil {
		return nil, err
	}
	items, err := del.reads.DeletionItems(ctx, id, f, after, limit)
	if err != nil {
		return nil, err
	}
	if len(del.targets) == 0 || len(items) == 0 {
		return items, nil
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.PersonID
	}
	outcomes, err := del.reads.TargetOutcomes(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("items of %s: %w", id, err)
	}
	for i, it := range items {
		items[i].Targets = outcomes[it.PersonID+"\x00"+it.SagaID]
	}
	return items, nil
}

// GetDeletionState returns a request's state without counting its items.
func (del *Deletions) GetDeletionState(ctx context.Context, id string) (string, error) {
	state, err := del.reads.DeletionState(ctx, id)
	if err != nil {
		return "", fromReadModel(err, fmt.Errorf("deletion %s: %w", id, ErrNotFound))
	}
	return state, nil
}

// WaitDeletion waits until the request is completed or ctx ends, then returns its items.
func (del *Deletions) WaitDeletion(ctx context.Context, id string) ([]DeletionItem, error) {
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		d, err := del.GetDeletion(ctx, id)
		if err != nil && ctx.Err() == nil {
			return nil, err
		}
		if err != nil || d.State != "running" || d.Pending == 0 || ctx.Err() != nil {
			return del.DeletionItems(context.WithoutCancel(ctx), id, "", -1, 1<<30)
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

// RetryFailed resumes the sagas of a request's items that failed at a step, and returns how many.
func (del *Deletions) RetryFailed(ctx context.Context, caller Caller, id string) (int, error) {
	return del.RetryFailures(ctx, caller, id, FailureKey{})
}

// RetryFailures resumes the sagas of a request's items that failed at a step and belong to the
// group of failures g (DeletionFailures) names, and returns how many. An empty field of g
// matches any value; a target matches the items that target refused. A person resumes at its
// failed step as a whole: retried for one target, it tries every target that refused it.
func (del *Deletions) RetryFailures(ctx context.Context, caller Caller, id string, g FailureKey) (int, error) {
	meta := caller.meta()
	items, err := del.DeletionItems(ctx, id, projections.ItemFailed, -1, 1<<30)
	if err != nil {
		return 0, err
	}
	refused, err := del.reads.RefusedBy(ctx, id, g.Target)
	if err != nil {
		return 0, err
	}
	n := 0
	var last uint64
	for _, it := range items {
		if it.ErrorCode != domain.CodeStepFailed || !matchesFailure(g, it) || (refused != nil && !refused[it.PersonID+"\x00"+it.SagaID]) {
			continue
		}
		seq, err := del.execute(ctx, meta, events.AggregatePerson, it.PersonID, personDecider(it.PersonID), domain.RetryPersonDeletion{})
		if errors.Is(err, domain.ErrNotFailed) || errors.Is(err, domain.ErrNotDeleting) {
			continue
		}
		if err != nil {
			return n, err
		}
		n++
		last = max(last, seq)
	}
	return n, del.waitVisible(ctx, last)
}

// DeletionLatencies returns, for each deleted item of a request, the time from the request to
// the item's terminal event.
func (del *Deletions) DeletionLatencies(ctx context.Context, id string) ([]time.Duration, error) {
	return del.reads.DeletionLatencies(ctx, id)
}

// CancelDeletion cancels a deletion request: items not yet past their first step end cancelled,
// the rest finish. Cancelling twice is harmless; a completed request cannot be cancelled.
func (del *Deletions) CancelDeletion(ctx context.Context, caller Caller, id string) error {
	meta := caller.meta()
	snapshot, version, err := del.reads.DeletionSnapshot(ctx, id)
	if err != nil {
		return fromReadModel(err, fmt.Errorf("deletion %s: %w", id, ErrNotFound))
	}
	seq, err := del.log.UpdateDeletionAt(ctx, meta, id, snapshot, version, func(d *domain.Deletion) ([]any, error) {
		return d.Decide(domain.CancelDeletion{})
	})
	if errors.Is(err, eventlog.ErrBusy) {
		return fmt.Errorf("%w: %v", ErrBusy, err)
	}
	if err != nil {
		return err
	}
	return del.waitVisible(ctx, seq)
}

// TargetOutcome is an item's outcome at one external target.
type TargetOutcome = projections.TargetOutcome

// Item states and request sources, as the read side records them.
const (
	ItemPending   = projections.ItemPending
	ItemDeleted   = projections.ItemDeleted
	ItemFailed    = projections.ItemFailed
	ItemCancelled = projections.ItemCancelled

	SourceNative  = projections.SourceNative
	SourceSophon  = projections.SourceSophon
	SourceTencent = projections.SourceTencent
	SourceGroup   = projections.SourceGroup
)
