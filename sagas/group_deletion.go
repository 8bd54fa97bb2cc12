package sagas

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/pprof"
	"time"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
)

// GroupMembers lists a group's members for its deletion.
type GroupMembers interface {
	// Members returns up to limit members of the group whose person id sorts after after, in
	// person id order, from a read model that has applied the log up to sequence atLeast.
	Members(ctx context.Context, groupID string, atLeast uint64, after string, limit int) ([]string, error)
}

// GroupDeletionConfig configures the saga.
type GroupDeletionConfig struct {
	// ChunkSize is how many member IDs one DeletionRequested chunk carries, default
	// domain.DefaultChunkSize.
	ChunkSize int
	// MembersWait bounds the wait for the read model to reach the deletion's sequence, default 30s.
	MembersWait time.Duration
	Logger      *slog.Logger
}

// GroupDeletionSaga deletes a group, started by GroupDeletionRequested. The group is already in
// the deleting state (every command naming it is refused); the saga records a deletion request
// whose items are the group's members, with the group named on it, so the same machinery as any
// deletion with a group (dispatcher, person-deletion saga, completer) removes each member from the
// group and deletes those that have no other group. When that request is completed, the saga
// records GroupDeleted.
//
// The members are those the log holds at the deletion's sequence: they are read from a read model
// that has applied the log at least that far, never from a lagging view, so a person added just
// before the deletion is not missed. (A membership appended after it is undone by the write that
// made it: app checks the group again after its append.)
type GroupDeletionSaga struct {
	log     *eventlog.Store
	members GroupMembers
	cfg     GroupDeletionConfig
}

// NewGroupDeletionSaga returns the saga over its ports.
func NewGroupDeletionSaga(log *eventlog.Store, members GroupMembers, cfg GroupDeletionConfig) *GroupDeletionSaga {
	if cfg.ChunkSize <= 0 {
		cfg.ChunkSize = domain.DefaultChunkSize
	}
	if cfg.MembersWait <= 0 {
		cfg.MembersWait = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &GroupDeletionSaga{log: log, members: members, cfg: cfg}
}

// Run consumes group deletion requests and deletion completions until ctx ends. The two run on
// their own durable consumers, so a big group's listing never delays another group's completion.
func (s *GroupDeletionSaga) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	// Each labelled for the CPU profiler with its consumer's name.
	go pprof.Do(ctx, pprof.Labels("worker", "group-deletion-saga"), func(ctx context.Context) {
		errc <- s.log.Consume(ctx, eventlog.DurableConfig{Name: "group-deletion-saga", Filter: events.AggregateGroup + ".>", BatchSize: 8},
			s.HandleRequests)
	})
	go pprof.Do(ctx, pprof.Labels("worker", "group-deletion-completer"), func(ctx context.Context) {
		errc <- s.log.Consume(ctx, eventlog.DurableConfig{Name: "group-deletion-completer", Filter: events.AggregateDeletion + ".>", BatchSize: 256},
			s.HandleCompletions)
	})
	err := <-errc
	cancel()
	<-errc
	return err
}

// HandleRequests records the member deletion of every group whose deletion a batch requests.
func (s *GroupDeletionSaga) HandleRequests(ctx context.Context, batch []eventlog.Delivery) {
	for _, d := range batch {
		req, ok := d.Data.(events.GroupDeletionRequested)
		if !ok {
			_ = d.Msg.Ack()
			continue
		}
		if err := s.recordMembers(ctx, d, req); err != nil {
			if ctx.Err() != nil {
				return // shutting down: unacknowledged, the request is redelivered
			}
			s.cfg.Logger.Error("record group members for deletion; will retry", "group_id", req.GroupID, "deletion_id", req.DeletionID,
				"correlation_id", d.CorrelationID, "err", err)
			_ = d.Msg.NakWithDelay(time.Second)
			continue
		}
		_ = d.Msg.Ack()
	}
}

// recordMembers records the deletion request of the group's members, in chunks in person id
// order. A redelivery (a crash midway, another replica) resumes after the last recorded chunk:
// nothing is dispatched before the last chunk, so the memberships it pages through stay put.
func (s *GroupDeletionSaga) recordMembers(ctx context.Context, d eventlog.Delivery, req events.GroupDeletionRequested) error {
	history, _, err := s.log.Load(ctx, events.AggregateGroup, req.GroupID)
	if err != nil {
		return err
	}
	g := domain.GroupFromHistory(req.GroupID, eventData(history))
	if g.Status() != domain.GroupDeleting || g.DeletionID() != req.DeletionID {
		return nil // already deleted (a redelivery), or re-created and deleted anew since
	}
	recorded, expected, err := s.log.Load(ctx, events.AggregateDeletion, req.DeletionID)
	if err != nil {
		return err
	}
	next := events.DeletionRequested{DeletionID: req.DeletionID, GroupID: req.GroupID}
	after := ""
	for _, r := range recorded {
		c, ok := r.Data.(events.DeletionRequested)
		if !ok {
			continue
		}
		if c.Last {
			return s.completeIfEmpty(ctx, d, c)
		}
		next.Chunk, next.Offset = c.Chunk+1, c.Offset+len(c.PersonIDs)
		if n := len(c.PersonIDs); n > 0 {
			after = c.PersonIDs[n-1]
		}
	}
	meta := events.Meta{CorrelationID: d.CorrelationID, CausationID: d.ID, Actor: "group-deletion-saga"}
	for {
		waitCtx, cancel := context.WithTimeout(ctx, s.cfg.MembersWait)
		ids, err := s.members.Members(waitCtx, req.GroupID, d.Seq, after, s.cfg.ChunkSize)
		cancel()
		if err != nil {
			return fmt.Errorf("members of group %s: %w", req.GroupID, err)
		}
		chunk := next
		chunk.PersonIDs = append([]string{}, ids...)
		chunk.Last = len(ids) < s.cfg.ChunkSize
		if chunk.Last {
			chunk.Total = chunk.Offset + len(ids)
		}
		e, err := events.New(events.AggregateDeletion, req.DeletionID, chunk, meta)
		if err != nil {
			return err
		}
		// Replicas recording the same chunk record the same fact; the id deduplicates a retry.
		e.ID = fmt.Sprintf("%s.members.%d", req.DeletionID, chunk.Chunk)
		if expected, err = s.log.Append(ctx, expected, e); err != nil {
			return fmt.Errorf("record members of group %s: %w", req.GroupID, err)
		}
		if chunk.Last {
			return s.completeIfEmpty(ctx, d, chunk)
		}
		next.Chunk, next.Offset, after = chunk.Chunk+1, chunk.Offset+len(ids), ids[len(ids)-1]
		// A big group takes many chunks: keep the request from going to another replica meanwhile.
		_ = d.Msg.InProgress()
	}
}

// completeIfEmpty completes a request without items (an empty group): the completer only sees
// requests with items, and nothing else would ever end this one.
func (s *GroupDeletionSaga) completeIfEmpty(ctx context.Context, d eventlog.Delivery, last events.DeletionRequested) error {
	if last.Total > 0 {
		return nil
	}
	meta := events.Meta{CorrelationID: d.CorrelationID, CausationID: d.ID, Actor: "group-deletion-saga"}
	_, err := s.log.UpdateDeletion(ctx, meta, last.DeletionID, func(d *domain.Deletion) ([]any, error) {
		return d.Decide(domain.CompleteDeletion{})
	})
	if err != nil {
		return fmt.Errorf("complete empty deletion %s: %w", last.DeletionID, err)
	}
	return nil
}

// HandleCompletions records GroupDeleted for every completed deletion request that was a group's
// deletion (and not merely a deletion of some persons from a group).
func (s *GroupDeletionSaga) HandleCompletions(ctx context.Context, batch []eventlog.Delivery) {
	for _, d := range batch {
		done, ok := d.Data.(events.DeletionCompleted)
		if !ok {
			_ = d.Msg.Ack()
			continue
		}
		if err := s.completeGroup(ctx, d, done.DeletionID); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.cfg.Logger.Error("complete group deletion; will retry", "deletion_id", done.DeletionID, "err", err)
			_ = d.Msg.NakWithDelay(time.Second)
			continue
		}
		_ = d.Msg.Ack()
	}
}

func (s *GroupDeletionSaga) completeGroup(ctx context.Context, d eventlog.Delivery, deletionID string) error {
	first, found, err := s.log.First(ctx, events.AggregateDeletion, deletionID)
	if err != nil {
		return err
	}
	req, ok := first.Data.(events.DeletionRequested)
	if !found || !ok || req.GroupID == "" {
		return nil
	}
	meta := events.Meta{CorrelationID: d.CorrelationID, CausationID: d.ID, Actor: "group-deletion-saga"}
	_, err = s.log.UpdateGroup(ctx, meta, req.GroupID, func(g *domain.Group) ([]any, error) {
		if g.Status() != domain.GroupDeleting || g.DeletionID() != deletionID {
			return nil, nil // a deletion of members from a live group, or this group is done
		}
		return g.Decide(domain.CompleteGroupDeletion{})
	})
	if err != nil {
		return fmt.Errorf("record group %s deleted: %w", req.GroupID, err)
	}
	return nil
}

func eventData(history []events.Recorded) []any {
	data := make([]any, len(history))
	for i, r := range history {
		data[i] = r.Data
	}
	return data
}
