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

// PermissionDirectory is the downstream side of a permission group's deletion: the access-control
// bindings and the registry of permission-group names. Every method is idempotent.
type PermissionDirectory interface {
	// UnbindFromPermissionGroup removes the persons' bindings to one permission group.
	UnbindFromPermissionGroup(ctx context.Context, permissionGroupID string, personIDs []string) error
	// PurgePermissionGroup removes every binding left to the permission group, such as one a
	// refused registration wrote before its append failed.
	PurgePermissionGroup(ctx context.Context, permissionGroupID string) error
	// ReleasePermissionName frees the name if the permission group still holds it.
	ReleasePermissionName(ctx context.Context, name, permissionGroupID string) error
}

// PermissionMembers lists the persons bound to a permission group.
type PermissionMembers interface {
	// Members returns up to limit persons bound to the permission group as the log stood at
	// sequence atLeast or later.
	Members(ctx context.Context, permissionGroupID string, atLeast uint64, limit int) ([]string, error)
}

// PermissionDeletionConfig configures the saga.
type PermissionDeletionConfig struct {
	Retry       Retry
	BatchSize   int // members unbound per round, default 256
	Concurrency int // person appends in flight, default 16
	Logger      *slog.Logger
}

// PermissionDeletionSaga deletes a permission group, started by PermissionGroupDeletionRequested:
// each bound person is unbound in the permission directory, then PermissionGroupUnbound is recorded
// on the person; once the read model shows no member left, PermissionGroupDeleted is recorded and
// the name released. Members are read from a read model caught up to the log's end, round after
// round, so a person bound just before the deletion is not missed; a bind after it is refused (the
// group is deleting) or, racing the refusal, undone by the registration itself (app.CreatePerson).
type PermissionDeletionSaga struct {
	log     *eventlog.Store
	dir     PermissionDirectory
	members PermissionMembers
	cfg     PermissionDeletionConfig
}

// NewPermissionDeletionSaga returns the saga over its ports.
func NewPermissionDeletionSaga(log *eventlog.Store, dir PermissionDirectory, members PermissionMembers, cfg PermissionDeletionConfig) *PermissionDeletionSaga {
	cfg.Retry.setDefaults()
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 256
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &PermissionDeletionSaga{log: log, dir: dir, members: members, cfg: cfg}
}

// Run consumes permission-group events until ctx ends.
func (s *PermissionDeletionSaga) Run(ctx context.Context) error {
	return s.log.Consume(ctx, eventlog.DurableConfig{Name: "permission-deletion-saga", Filter: events.AggregatePermission + ".>", BatchSize: 8},
		s.HandleBatch)
}

// HandleBatch deletes the permission groups whose deletion a batch requests.
func (s *PermissionDeletionSaga) HandleBatch(ctx context.Context, batch []eventlog.Delivery) {
	for _, d := range batch {
		req, ok := d.Data.(events.PermissionGroupDeletionRequested)
		if !ok {
			_ = d.Msg.Ack()
			continue
		}
		if err := s.deleteGroup(ctx, d, req); err != nil {
			if ctx.Err() != nil {
				return // shutting down: unacknowledged, the deletion is redelivered
			}
			s.cfg.Logger.Error("delete permission group; will retry", "permission_group_id", req.PermissionGroupID, "err", err)
			_ = d.Msg.NakWithDelay(time.Second)
			continue
		}
		_ = d.Msg.Ack()
	}
}

func (s *PermissionDeletionSaga) deleteGroup(ctx context.Context, d eventlog.Delivery, req events.PermissionGroupDeletionRequested) error {
	id := req.PermissionGroupID
	history, _, err := s.log.Load(ctx, events.AggregatePermission, id)
	if err != nil {
		return err
	}
	data := make([]any, len(history))
	for i, r := range history {
		data[i] = r.Data
	}
	g := domain.PermissionGroupFromHistory(id, data)
	switch g.Status() {
	case domain.PermissionGroupDeleting:
	case domain.PermissionGroupDeleted:
		// Redelivered after the deletion was recorded: only the release may be missing.
		return s.cfg.Retry.do(ctx, func() error { return s.dir.ReleasePermissionName(ctx, g.Name(), id) })
	default:
		return nil // re-created since: this request is long done and the new group is not ours
	}
	meta := events.Meta{CorrelationID: d.CorrelationID, CausationID: d.ID, Actor: "permission-deletion-saga"}
	unbound := map[string]bool{}
	for {
		last, err := s.log.LastSequence(ctx)
		if err != nil {
			return err
		}
		waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		ids, err := s.members.Members(waitCtx, id, last, s.cfg.BatchSize)
		cancel()
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			break
		}
		for _, p := range ids {
			if unbound[p] {
				// The read model caught up past the unbind and still lists the binding: never spin.
				return fmt.Errorf("person %s is still bound to %s after its unbind", p, id)
			}
		}
		if err := s.cfg.Retry.do(ctx, func() error { return s.dir.UnbindFromPermissionGroup(ctx, id, ids) }); err != nil {
			return fmt.Errorf("unbind from %s: %w", id, err)
		}
		if err := s.recordUnbound(ctx, meta, id, ids); err != nil {
			return err
		}
		for _, p := range ids {
			unbound[p] = true
		}
		// A big group takes many rounds: keep the request from being redelivered to another
		// replica meanwhile (it would be harmless, every step being idempotent, but wasted).
		_ = d.Msg.InProgress()
	}
	if err := s.cfg.Retry.do(ctx, func() error { return s.dir.PurgePermissionGroup(ctx, id) }); err != nil {
		return fmt.Errorf("purge %s: %w", id, err)
	}
	_, err = s.log.UpdatePermissionGroup(ctx, meta, id, func(g *domain.PermissionGroup) ([]any, error) {
		return g.Decide(domain.CompletePermissionGroupDeletion{})
	})
	if err != nil {
		return fmt.Errorf("complete deletion of %s: %w", id, err)
	}
	return s.cfg.Retry.do(ctx, func() error { return s.dir.ReleasePermissionName(ctx, g.Name(), id) })
}

// recordUnbound records PermissionGroupUnbound on each person, a bounded number at once.
func (s *PermissionDeletionSaga) recordUnbound(ctx context.Context, meta events.Meta, groupID string, personIDs []string) error {
	var (
		mu      sync.Mutex
		errs    []error
		wg      sync.WaitGroup
		workers = make(chan struct{}, s.cfg.Concurrency)
	)
	for _, personID := range personIDs {
		workers <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-workers; wg.Done() }()
			_, err := s.log.UpdatePerson(ctx, meta, personID, func(p *domain.Person) ([]any, error) {
				return p.Decide(domain.UnbindPermissionGroup{PermissionGroupID: groupID})
			})
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("unbind person %s: %w", personID, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
