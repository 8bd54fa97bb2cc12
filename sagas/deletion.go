package sagas

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
)

// DeletionDispatcher hands each ID of a recorded deletion request to its person: a
// PersonDeletionRequested starts (or joins) the person's saga; IDs naming no person, or a person
// outside the request's group, are recorded as failed items.
type DeletionDispatcher struct {
	log         *eventlog.Store
	logger      *slog.Logger
	concurrency int
	// States is the read side of the fast path (one query a chunk); nil replays each person.
	States PersonStates
	// Cancellations, when set, lets a cancelled request's undispatched chunks end cancelled.
	Cancellations Cancellations
	// AckWait is how long a request's delivery may stay unacknowledged before JetStream hands it
	// to another worker: after a crash, the rest of a request half dispatched comes back this
	// soon (default 2m, eventlog.DurableConfig's). A dispatch that takes longer is kept by
	// heartbeats (InProgress) every third of it.
	AckWait time.Duration
	// Batches makes each chunk's persons batches (docs/adr/0003): their PersonDeletionRequested
	// and the batch's DeletionBatchStarted in one atomic append, the steps then recorded once per
	// batch by the BatchDeletionSaga. It needs a server with atomic batches; without them, and
	// for persons that cannot join a batch, each person's own subject records its steps.
	Batches bool
	// Pace, when set, holds a large request's next chunk until fewer than MaxInFlight of its
	// dispatched persons are still pending: persons then finish in waves, from the first
	// minute, instead of all near the end (every batch of a request dispatched at once would go
	// through each step together), and a bulk does not fill the log ahead of its sagas.
	Pace        PendingItems
	MaxInFlight int // default 8,000: enough batches for every saga worker, and a few to spare
}

// PendingItems tells how many items of a request are not terminal yet.
type PendingItems interface {
	Pending(ctx context.Context, deletionID string) (int, error)
}

// NewDeletionDispatcher returns a dispatcher appending to log.
func NewDeletionDispatcher(log *eventlog.Store, logger *slog.Logger) *DeletionDispatcher {
	if logger == nil {
		logger = slog.Default()
	}
	return &DeletionDispatcher{log: log, logger: logger, concurrency: 16, MaxInFlight: 8000}
}

// Run consumes deletion requests until ctx ends. A request is dispatched once its last chunk is
// recorded: a request whose intake broke off was never accepted, and deletes nothing.
func (d *DeletionDispatcher) Run(ctx context.Context) error {
	// Requests are dispatched side by side: a paced bulk must not hold up a one-person
	// deletion (Sophon, Tencent) arriving behind it.
	return d.log.Consume(ctx, eventlog.DurableConfig{Name: "deletion-dispatch", Filter: events.AggregateDeletion + ".>", BatchSize: 1, Workers: 8, AckWait: d.AckWait},
		func(ctx context.Context, batch []eventlog.Delivery) {
			if d.AckWait > 0 {
				defer eventlog.KeepInProgress(batch, d.AckWait)()
			}
			for _, dl := range batch {
				last, ok := dl.Data.(events.DeletionRequested)
				if !ok || !last.Last {
					_ = dl.Msg.Ack()
					continue
				}
				if err := d.dispatchRequest(ctx, dl, last.DeletionID); err != nil {
					if ctx.Err() == nil {
						d.logger.Error("dispatch deletion; will retry", "deletion_id", last.DeletionID, "correlation_id", dl.CorrelationID, "err", err)
						_ = dl.Msg.NakWithDelay(time.Second)
					}
					continue
				}
				_ = dl.Msg.Ack()
			}
		})
}

// dispatchRequest dispatches every chunk of the request not yet recorded as dispatched.
func (d *DeletionDispatcher) dispatchRequest(ctx context.Context, dl eventlog.Delivery, id string) error {
	history, _, err := d.log.Load(ctx, events.AggregateDeletion, id)
	if err != nil {
		return err
	}
	done := map[int]bool{}
	for _, r := range history {
		if e, ok := r.Data.(events.DeletionChunkDispatched); ok {
			done[e.Chunk] = true
		}
	}
	var undispatched int // pending items of the chunks not dispatched yet
	for _, r := range history {
		if chunk, ok := r.Data.(events.DeletionRequested); ok && !done[chunk.Chunk] {
			undispatched += len(chunk.PersonIDs) - len(chunk.Rejected)
		}
	}
	first := true
	for _, r := range history {
		if chunk, ok := r.Data.(events.DeletionRequested); ok && !done[chunk.Chunk] {
			if !first {
				if err := d.pace(ctx, id, undispatched); err != nil {
					return err
				}
			}
			first = false
			if err := d.dispatch(ctx, dl, chunk); err != nil {
				return fmt.Errorf("chunk %d: %w", chunk.Chunk, err)
			}
			undispatched -= len(chunk.PersonIDs) - len(chunk.Rejected)
		}
	}
	return nil
}

// pace waits until fewer than MaxInFlight of the request's dispatched items are pending.
func (d *DeletionDispatcher) pace(ctx context.Context, id string, undispatched int) error {
	if d.Pace == nil || d.MaxInFlight <= 0 {
		return nil
	}
	for {
		pending, err := d.Pace.Pending(ctx, id)
		if err != nil {
			return err
		}
		if pending-undispatched < d.MaxInFlight {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (d *DeletionDispatcher) dispatch(ctx context.Context, dl eventlog.Delivery, chunk events.DeletionRequested) error {
	rejected := make(map[int]bool, len(chunk.Rejected))
	for _, r := range chunk.Rejected {
		rejected[r.Index] = true
	}
	meta := events.Meta{CorrelationID: dl.CorrelationID, CausationID: dl.ID, Actor: "deletion-dispatcher"}
	if d.Cancellations != nil {
		if c, err := d.Cancellations.Cancelled(ctx, []string{chunk.DeletionID}); err == nil && c[chunk.DeletionID] {
			var cancelled []events.Rejection
			for i := range chunk.PersonIDs {
				if !rejected[chunk.Offset+i] {
					cancelled = append(cancelled, events.Rejection{Index: chunk.Offset + i, Code: domain.CodeCancelled})
				}
			}
			return d.recordDispatched(ctx, chunk, cancelled, meta)
		}
	}
	failed, settled := d.dispatchFast(ctx, dl, chunk, rejected, meta)
	var (
		mu      sync.Mutex
		errs    []error
		wg      sync.WaitGroup
		workers = make(chan struct{}, d.concurrency)
	)
	for i, personID := range chunk.PersonIDs {
		index := chunk.Offset + i
		if rejected[index] || settled[index] {
			continue
		}
		workers <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-workers; wg.Done() }()
			_, err := d.log.UpdatePerson(ctx, meta, personID, func(p *domain.Person) ([]any, error) {
				return p.Decide(domain.RequestPersonDeletion{DeletionID: chunk.DeletionID, GroupID: chunk.GroupID})
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
			case errors.Is(err, domain.ErrPersonNotFound):
				failed = append(failed, events.Rejection{Index: index, Code: domain.CodeIDNotFound})
			case errors.Is(err, domain.ErrNotInGroup):
				failed = append(failed, events.Rejection{Index: index, Code: domain.CodeNotInGroup})
			default:
				errs = append(errs, fmt.Errorf("person %s: %w", personID, err))
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return d.recordDispatched(ctx, chunk, failed, meta)
}

func (d *DeletionDispatcher) recordDispatched(ctx context.Context, chunk events.DeletionRequested, failed []events.Rejection, meta events.Meta) error {
	e, err := events.New(events.AggregateDeletion, chunk.DeletionID, events.DeletionChunkDispatched{
		DeletionID: chunk.DeletionID, Chunk: chunk.Chunk, Failed: failed}, meta)
	if err != nil {
		return err
	}
	// Any replica that dispatches this chunk records the same fact; the id deduplicates.
	e.ID = fmt.Sprintf("%s.dispatched.%d", chunk.DeletionID, chunk.Chunk)
	_, err = d.log.AppendOnce(ctx, e)
	return err
}

// dispatchFast decides the chunk's persons from the read model, as of the request's last chunk,
// and appends their PersonDeletionRequested in atomic batches, each expecting the person's last
// event to be the one the read model knows. It returns the items it failed and every item it
// settled; the rest (stale state, concurrent changes) go through the slow path.
func (d *DeletionDispatcher) dispatchFast(ctx context.Context, dl eventlog.Delivery, chunk events.DeletionRequested,
	rejected map[int]bool, meta events.Meta) ([]events.Rejection, map[int]bool) {
	settled := map[int]bool{}
	if d.States == nil {
		return nil, settled
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := d.States.WaitFor(wctx, dl.Seq); err != nil {
		return nil, settled
	}
	ids := make([]string, 0, len(chunk.PersonIDs))
	for i, id := range chunk.PersonIDs {
		if !rejected[chunk.Offset+i] {
			ids = append(ids, id)
		}
	}
	// The request records what the deletion removes (its evidence, and a batch's step records
	// list it); the last-group rule needs the memberships.
	parts := WithPermissionGroups | WithFaces
	if chunk.GroupID != "" {
		parts |= WithGroups
	}
	states, err := d.States.Persons(ctx, ids, parts)
	if err != nil {
		d.logger.Warn("read person states; replaying from the log instead", "err", err)
		return nil, settled
	}
	var failed []events.Rejection
	var pending []eventlog.Pending
	var pendingIdx []int
	var batchable []batchCandidate
	batches := d.Batches && d.log.Atomic()
	cmd := domain.RequestPersonDeletion{DeletionID: chunk.DeletionID, GroupID: chunk.GroupID}
	for i, personID := range chunk.PersonIDs {
		index := chunk.Offset + i
		if rejected[index] {
			continue
		}
		st, ok := states[personID]
		if !ok {
			// The read model has applied everything up to this request: no such person.
			failed = append(failed, events.Rejection{Index: index, Code: domain.CodeIDNotFound})
			settled[index] = true
			continue
		}
		decided, err := domain.UnmarshalPerson(personID, st.PersonSnapshot).Decide(cmd)
		switch {
		case errors.Is(err, domain.ErrNotInGroup):
			failed = append(failed, events.Rejection{Index: index, Code: domain.CodeNotInGroup})
			settled[index] = true
		case err != nil || len(decided) != 1:
			// left to the slow path, which decides from the log
		default:
			if req, ok := decided[0].(events.PersonDeletionRequested); ok && req.Joins == "" && batches {
				batchable = append(batchable, batchCandidate{index: index, expected: st.Version, request: req})
				continue
			}
			e, err := events.New(events.AggregatePerson, personID, decided[0], meta)
			if err != nil {
				continue
			}
			pending = append(pending, eventlog.Pending{Expected: st.Version, Event: e})
			pendingIdx = append(pendingIdx, index)
		}
	}
	for _, batch := range formBatches(batchable) {
		d.appendBatch(ctx, chunk, batch, meta, settled)
	}
	if len(pending) > 0 {
		_, errs := d.log.AppendBatch(ctx, pending)
		for j, err := range errs {
			if err == nil {
				settled[pendingIdx[j]] = true
			}
		}
	}
	return failed, settled
}

// batchCandidate is a person decided to start its deletion, which may join a batch.
type batchCandidate struct {
	index    int // the item's position in the request
	expected uint64
	request  events.PersonDeletionRequested
}

// Bounds of a batch: an atomic append holds at most events.MaxAtomicBatch messages (the persons
// and the batch's start), and the start, which lists every person with what it is to lose,
// stays well under the server's 1 MiB payload limit.
const (
	maxBatchPersons = eventlog.MaxAtomicBatch - 1
	maxBatchBytes   = 512 << 10
)

// formBatches cuts candidates, in request order, into batches within the bounds.
func formBatches(cs []batchCandidate) [][]batchCandidate {
	var out [][]batchCandidate
	start, size := 0, 0
	for i, c := range cs {
		n := 64 + len(c.request.PersonID)
		for _, g := range c.request.PermissionGroupIDs {
			n += len(g) + 3
		}
		for _, f := range c.request.Faces {
			n += len(f.FaceID) + len(f.PhotoKey) + 32
		}
		if i > start && (i-start == maxBatchPersons || size+n > maxBatchBytes) {
			out = append(out, cs[start:i])
			start, size = i, 0
		}
		size += n
	}
	if start < len(cs) {
		out = append(out, cs[start:])
	}
	return out
}

// appendBatch appends a batch's PersonDeletionRequested events and its DeletionBatchStarted in
// one atomic batch, and marks its items settled. The batch is named after the deletion, the
// chunk and its first item's position: unique, because an atomic batch is stored whole or not at
// all, and a stored one's persons are deleting, so no later batch starts with them. Refused
// (one person changed since the read model saw it), it is halved until the persons that can go
// are stored; the one that cannot is left to the slow path.
func (d *DeletionDispatcher) appendBatch(ctx context.Context, chunk events.DeletionRequested, cs []batchCandidate, meta events.Meta, settled map[int]bool) {
	if len(cs) == 0 || ctx.Err() != nil {
		return
	}
	id := fmt.Sprintf("%s_%d_%d", chunk.DeletionID, chunk.Chunk, cs[0].index)
	started := events.DeletionBatchStarted{DeletionID: chunk.DeletionID, Batch: id, Persons: make([]events.BatchPerson, len(cs))}
	pending := make([]eventlog.Pending, 0, len(cs)+1)
	for i, c := range cs {
		req := c.request
		started.Persons[i] = events.BatchPerson{PersonID: req.PersonID, PermissionGroupIDs: req.PermissionGroupIDs, Faces: req.Faces}
		// The person's request names its batch, whose start lists what the person is to lose:
		// said once, not twice (a third of the bytes every consumer of person events decoded).
		req.Batch, req.PermissionGroupIDs, req.Faces = id, nil, nil
		e, err := events.New(events.AggregatePerson, req.PersonID, req, meta)
		if err != nil {
			return
		}
		pending = append(pending, eventlog.Pending{Expected: c.expected, Event: e})
	}
	e, err := events.New(events.AggregateBatch, id, started, meta)
	if err != nil {
		return
	}
	pending = append(pending, eventlog.Pending{Expected: 0, Event: e})
	_, err = d.log.AppendAtomic(ctx, pending)
	if err == nil {
		for _, c := range cs {
			settled[c.index] = true
		}
		return
	}
	if len(cs) == 1 || !errors.Is(err, eventlog.ErrConcurrency) {
		return // the slow path decides each person from its log
	}
	half := len(cs) / 2
	d.appendBatch(ctx, chunk, cs[:half], meta, settled)
	d.appendBatch(ctx, chunk, cs[half:], meta, settled)
}

// DeletionCounts are a deletion request's item counts.
type DeletionCounts struct {
	DeletionID                        string
	Total, Deleted, Failed, Cancelled int
	// Version is the sequence of the last event of the request's own subject that the read
	// model had applied (0: unknown); the counters move with the persons' events, not with it.
	Version uint64
}

// DeletionProgress is the read side the completer asks which requests have only terminal items.
// A request it lists is, as of its Version, fully recorded and not completed: the completer
// decides on that (a request listed otherwise at its current version would be completed again).
type DeletionProgress interface {
	Completable(ctx context.Context) ([]DeletionCounts, error)
}

// Cancellations tells which deletion requests were cancelled.
type Cancellations interface {
	Cancelled(ctx context.Context, deletionIDs []string) (map[string]bool, error)
}

// DeletionCompleter records DeletionCompleted for every request whose items are all terminal.
type DeletionCompleter struct {
	log      *eventlog.Store
	progress DeletionProgress
	logger   *slog.Logger
	Interval time.Duration

	// appended holds the requests this completer completed (or found completed), with the
	// request's last sequence then, until the read model shows it: meanwhile they still look
	// completable.
	appended map[string]uint64
}

// NewDeletionCompleter returns a completer.
func NewDeletionCompleter(log *eventlog.Store, progress DeletionProgress, logger *slog.Logger) *DeletionCompleter {
	if logger == nil {
		logger = slog.Default()
	}
	return &DeletionCompleter{log: log, progress: progress, logger: logger, Interval: 100 * time.Millisecond, appended: map[string]uint64{}}
}

// Run checks for completable requests every Interval until ctx ends.
func (c *DeletionCompleter) Run(ctx context.Context) error {
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		done, err := c.progress.Completable(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.logger.Warn("deletion completer", "err", err)
			}
			continue
		}
		still := make(map[string]uint64, len(c.appended))
		for _, dc := range done {
			if seq, ok := c.appended[dc.DeletionID]; ok && dc.Version < seq {
				still[dc.DeletionID] = seq // completed; the read model has not applied it yet
				continue
			}
			seq, err := c.complete(ctx, dc)
			if err != nil {
				if ctx.Err() == nil {
					c.logger.Warn("complete deletion", "deletion_id", dc.DeletionID, "err", err)
				}
				continue
			}
			still[dc.DeletionID] = seq
		}
		c.appended = still
	}
}

// complete records the request's DeletionCompleted and returns the request's last sequence,
// deciding on what the read model knows of the request (eventlog.UpdateDeletionAt): reading a
// bulk's history loaded every block of the log that holds one of its thousands of events.
func (c *DeletionCompleter) complete(ctx context.Context, dc DeletionCounts) (uint64, error) {
	meta := events.Meta{CorrelationID: dc.DeletionID, Actor: "deletion-completer"}
	cmd := domain.CompleteDeletion{Total: dc.Total, Deleted: dc.Deleted, Failed: dc.Failed, Cancelled: dc.Cancelled}
	// Completable lists only requests fully recorded and not completed (DeletionProgress).
	return c.log.UpdateDeletionAt(ctx, meta, dc.DeletionID, domain.DeletionSnapshot{Recorded: true}, dc.Version,
		func(d *domain.Deletion) ([]any, error) { return d.Decide(cmd) })
}
