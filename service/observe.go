package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/metrics"
	"github.com/erasure-dev/erasure/projections"
	"github.com/erasure-dev/erasure/sagas"
)

// maxTracked bounds each of the observer's memories (about 100 bytes an entry); beyond it,
// further persons or requests go unmeasured rather than grow memory.
const maxTracked = 200_000

// Steps named in the log line of items refused before any saga ran: at intake (an illegal or
// repeated ID, DeletionRequested) or at dispatch (an unknown person, one not in the group,
// DeletionChunkDispatched).
const (
	stepIntake   = "intake"
	stepDispatch = "dispatch"
)

// eventObserver watches the events the read-model projection applies: it counts them, counts
// deletion items reaching their outcome and external targets' confirmations and failures,
// measures the time from a request to its end, and writes the log lines operators follow
// ("deletion completed", "deletion item failed").
//
// It runs after the projection commits a batch, and the checkpoint guard lets one replica only
// commit each batch, so every event is seen once cluster-wide (at most once: a replica that dies
// between its commit and this call loses that batch's counts). A read model built from scratch by
// the live runner sees the whole log again. What it tracks in memory (request times, items
// that joined a running saga) is lost at a restart: those are then measured without it.
type eventObserver struct {
	m      *metrics.Metrics
	logger *slog.Logger
	// createdAt answers, from the read model, when a deletion request the observer did not see
	// start was made (one started before this process).
	createdAt func(ctx context.Context, deletionID string) (time.Time, error)

	mu        sync.Mutex
	requested map[string]time.Time // person id -> PersonDeletionRequested time
	started   map[string]time.Time // deletion id -> its first DeletionRequested time
	// joined counts, per running saga and person, the items of further requests that joined it:
	// the saga's terminal event ends them too (the projection moves every item of the saga).
	joined map[sagaPerson]int
}

type sagaPerson struct{ deletionID, personID string }

func newEventObserver(m *metrics.Metrics, logger *slog.Logger) *eventObserver {
	return &eventObserver{m: m, logger: logger, requested: map[string]time.Time{}, started: map[string]time.Time{},
		joined: map[sagaPerson]int{}}
}

func (o *eventObserver) batch(ctx context.Context, batch []events.Recorded) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, r := range batch {
		o.m.Event(r.Type)
		switch e := r.Data.(type) {
		case events.DeletionRequested:
			if e.Chunk == 0 && len(o.started) < maxTracked {
				o.started[e.DeletionID] = r.Time
			}
			o.refused(e.DeletionID, stepIntake, e.Rejected)
		case events.DeletionChunkDispatched:
			o.refused(e.DeletionID, stepDispatch, e.Failed)
		case events.PersonDeletionRequested:
			switch {
			case e.Joins != "":
				if len(o.joined) < maxTracked {
					o.joined[sagaPerson{e.Joins, e.PersonID}]++
				}
			case len(o.requested) < maxTracked: // a retry (ResumeAt) is measured from itself
				if _, ok := o.requested[r.AggregateID]; !ok {
					o.requested[r.AggregateID] = r.Time
				}
			}
		case events.PersonRemovedFromGroup:
			if e.DeletionID != "" { // a group's deletion removed a member who stays in other groups
				o.m.ItemOutcome(metrics.ItemDeleted, metrics.CodeOK, 1)
			}
		case events.PersonRemovedFromTargets:
			for _, t := range e.Targets {
				o.m.TargetConfirmed(t)
			}
		case events.PersonDeleted:
			o.m.ItemOutcome(metrics.ItemDeleted, metrics.CodeOK, o.items(e.DeletionID, e.PersonID, true))
			o.terminal(r, "deleted")
		case events.PersonDeletionFailed:
			// The joined items stay with the saga: an operator's retry runs them all again.
			o.m.ItemOutcome(metrics.ItemFailed, e.Code, o.items(e.DeletionID, e.PersonID, false))
			o.m.DeletionFailed(e.Code, e.Step)
			for _, t := range e.Targets {
				o.m.TargetFailed(t)
			}
			// Never the message: a store's or target's error text is not ours to vouch for.
			o.logger.Warn("deletion item failed", "deletion_id", e.DeletionID, "person_id", e.PersonID,
				"code", e.Code, "step", e.Step, "target", strings.Join(e.Targets, ","), "attempts", e.Attempts)
			o.terminal(r, "failed")
		case events.PersonDeletionCancelled:
			o.m.ItemOutcome(metrics.ItemCancelled, domain.CodeCancelled, o.items(e.DeletionID, e.PersonID, true))
			delete(o.requested, r.AggregateID)
		case events.DeletionCompleted:
			o.completed(ctx, r, e)
		}
	}
}

// refused counts the items a request refused before any saga ran, and logs them: one line per
// error code, not per item, since one bulk of unknown IDs would otherwise write a line for each.
func (o *eventObserver) refused(deletionID, step string, items []events.Rejection) {
	byCode := map[string]int{}
	for _, it := range items {
		byCode[it.Code]++
	}
	for _, code := range slices.Sorted(maps.Keys(byCode)) {
		n := byCode[code]
		if code == domain.CodeCancelled { // cancelled before dispatch: not a failure
			o.m.ItemOutcome(metrics.ItemCancelled, code, n)
			continue
		}
		o.m.ItemOutcome(metrics.ItemFailed, code, n)
		o.logger.Warn("deletion item failed", "deletion_id", deletionID, "code", code, "step", step, "target", "", "items", n)
	}
}

// items returns how many deletion items the terminal event of a person's saga ends: its own and
// those that joined it; done forgets the joins.
func (o *eventObserver) items(deletionID, personID string, done bool) int {
	k := sagaPerson{deletionID, personID}
	n := 1 + o.joined[k]
	if done {
		delete(o.joined, k)
	}
	return n
}

func (o *eventObserver) terminal(r events.Recorded, outcome string) {
	if start, ok := o.requested[r.AggregateID]; ok {
		o.m.PersonDeletion(outcome, r.Time.Sub(start))
		delete(o.requested, r.AggregateID)
	}
}

func (o *eventObserver) completed(ctx context.Context, r events.Recorded, e events.DeletionCompleted) {
	start, ok := o.started[e.DeletionID]
	delete(o.started, e.DeletionID)
	if !ok && o.createdAt != nil {
		// On the projection's path: a slow read model costs the line its duration, never the
		// projection its pace.
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		var err error
		if start, err = o.createdAt(qctx, e.DeletionID); err == nil {
			ok = true
		}
		cancel()
	}
	attrs := []any{"deletion_id", e.DeletionID, "total", e.Total, "deleted", e.Deleted, "failed", e.Failed, "cancelled", e.Cancelled}
	if ok {
		d := max(0, r.Time.Sub(start))
		o.m.DeletionCompleted(d)
		attrs = append(attrs, "seconds", d.Seconds())
	}
	o.logger.Info("deletion completed", attrs...)
}

// observedRemote counts each call to an external target and how each person in it ended.
type observedRemote struct {
	next sagas.Target
	m    *metrics.Metrics
}

var _ sagas.Target = observedRemote{}

func (t observedRemote) Name() string { return t.next.Name() }

func (t observedRemote) DeletePersons(ctx context.Context, ids []string) map[string]error {
	start := time.Now()
	errs := t.next.DeletePersons(ctx, ids)
	if ctx.Err() != nil {
		return errs // shutting down: the saga hands the persons back and ignores this answer
	}
	outcomes := map[string]int{}
	for _, id := range ids {
		switch err := errs[id]; {
		case err == nil:
			outcomes[metrics.AttemptConfirmed]++
		case errors.Is(err, sagas.ErrPermanent):
			outcomes[metrics.AttemptPermanent]++
		default:
			outcomes[metrics.AttemptRefused]++
		}
	}
	t.m.TargetCall(t.next.Name(), time.Since(start), outcomes)
	return errs
}

func observeRemotes(remotes []sagas.Target, m *metrics.Metrics) []sagas.Target {
	out := make([]sagas.Target, len(remotes))
	for i, r := range remotes {
		out[i] = observedRemote{next: r, m: m}
	}
	return out
}

// deletionBacklog reads the running deletion requests and their items by state for /metrics: one
// aggregate over the requests' counters (kept by the projection), on the partial index of running
// requests, never a scan of the items. A cancelled request whose last items are still finishing
// is not running in the read model and is left out.
func deletionBacklog(db *sqlx.DB) func(context.Context) (metrics.DeletionBacklog, error) {
	return func(ctx context.Context) (metrics.DeletionBacklog, error) {
		var row struct {
			Running   int `db:"running"`
			Pending   int `db:"pending"`
			Deleted   int `db:"deleted"`
			Failed    int `db:"failed"`
			Cancelled int `db:"cancelled"`
		}
		if err := db.GetContext(ctx, &row, `SELECT COUNT(*) AS running, COALESCE(SUM(pending), 0) AS pending,
			COALESCE(SUM(deleted), 0) AS deleted, COALESCE(SUM(failed), 0) AS failed, COALESCE(SUM(cancelled), 0) AS cancelled
			FROM deletions WHERE state = 'running'`); err != nil {
			return metrics.DeletionBacklog{}, fmt.Errorf("running deletions: %w", err)
		}
		return metrics.DeletionBacklog{Running: row.Running, Pending: row.Pending, Deleted: row.Deleted,
			Failed: row.Failed, Cancelled: row.Cancelled}, nil
	}
}

// projectionLag measures how far the read model is behind the log: the events not applied yet,
// and the age of the oldest of them. The checkpoint is read from the database, so a replica that
// shares the read model with others reports the shared lag.
func projectionLag(log *eventlog.Store, runner *projections.Runner) func(context.Context) (uint64, float64, error) {
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
