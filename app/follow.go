package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/projections"
)

// Kinds of a deletion's live updates.
const (
	UpdateProgress  = "progress"  // the request's counters
	UpdateItem      = "item"      // one item reached an outcome
	UpdateCompleted = "completed" // every item is terminal; the last update
)

// DeletionUpdate is one live update of a deletion request. Seq is the log position the update
// reflects, and where a follower that lost its connection resumes (FollowDeletion's after); it
// is 0 on an update that shares its position with the next one (several items settled by one
// event), so that a resume never skips the rest of them.
type DeletionUpdate struct {
	Kind     string
	Seq      uint64
	Progress Deletion     // progress and completed
	Item     DeletionItem // item
}

// progressEvery bounds how often a follower gets the counters while items keep settling: each
// count reads every item of the request.
const progressEvery = time.Second

var errFollowDone = errors.New("deletion completed")

// FollowDeletion sends a deletion request's updates as they happen until it completes or ctx
// ends. With after 0 it starts with the counters as the read model shows them now; with after
// a Seq of an earlier update it resumes right after it, missing nothing in between: the item
// outcomes come from the log, read from that position.
func (del *Deletions) FollowDeletion(ctx context.Context, id string, after uint64, emit func(DeletionUpdate) error) error {
	row, err := del.reads.DeletionVersion(ctx, id)
	if err != nil {
		if _, serr := del.GetDeletionState(ctx, id); serr != nil {
			return serr
		}
		return fmt.Errorf("follow deletion %s: %w", id, err)
	}
	if after != 0 {
		if after, err = del.followStart(ctx, id, after); err != nil {
			return err
		}
	}
	if after == 0 || (row.CompletedAt != nil && after >= row.Version) {
		pos, err := del.projection.Checkpoint(ctx)
		if err != nil {
			return err
		}
		d, err := del.GetDeletion(ctx, id)
		if err != nil {
			return err
		}
		if d.CompletedAt != nil {
			return emitCompleted(emit, d, max(pos, row.Version))
		}
		if err := emit(DeletionUpdate{Kind: UpdateProgress, Seq: pos, Progress: d}); err != nil {
			return err
		}
		after = pos
	}
	f := &deletionFollower{del: del, id: id, emit: emit}
	// A request's progress is on its own subject and on its persons' (their outcomes): the
	// groups' and permission groups' events are never read.
	err = del.log.Follow(ctx, after+1, 512, f.batch,
		eventlog.FollowSubjects(del.log.Subject(events.AggregatePerson, "*"), del.log.Subject(events.AggregateDeletion, id)))
	if errors.Is(err, errFollowDone) {
		return nil
	}
	return err
}

// followStart bounds a resume position (a client's Last-Event-ID) to the request's part of the
// log, so that no client can make a follower read the log from its start: below the request's
// first event it is raised to just before it (nothing earlier concerns the request); beyond the
// log's end it is no position of this log, and the follower starts afresh (0: the counters now).
func (del *Deletions) followStart(ctx context.Context, id string, after uint64) (uint64, error) {
	last, err := del.log.LastSequence(ctx)
	if err != nil {
		return 0, err
	}
	if after > last {
		return 0, nil
	}
	first, ok, err := del.log.First(ctx, events.AggregateDeletion, id)
	if err != nil {
		return 0, err
	}
	if !ok {
		// The read model knows the request but the log does not (a log replaced under it):
		// the read model's counters are all there is.
		return 0, nil
	}
	return max(after, first.Seq-1), nil
}

type deletionFollower struct {
	del          *Deletions
	id           string
	emit         func(DeletionUpdate) error
	lastProgress time.Time
	stale        bool // items were sent since the last counters
}

// settled is one event that may settle items of the followed request.
type settled struct {
	seq       uint64
	personID  string // a saga's outcome: the person and the saga that decided it
	sagaID    string
	positions []int // a dispatch or intake failure: the items' positions
}

func (f *deletionFollower) batch(ctx context.Context, batch []events.Recorded) error {
	var (
		cands     []settled
		completed uint64
	)
	for _, r := range batch {
		switch e := r.Data.(type) {
		case events.PersonDeleted:
			cands = append(cands, settled{seq: r.Seq, personID: e.PersonID, sagaID: e.DeletionID})
		case events.PersonDeletionFailed:
			cands = append(cands, settled{seq: r.Seq, personID: e.PersonID, sagaID: e.DeletionID})
		case events.PersonDeletionCancelled:
			cands = append(cands, settled{seq: r.Seq, personID: e.PersonID, sagaID: e.DeletionID})
		case events.PersonRemovedFromGroup:
			if e.DeletionID == f.id {
				cands = append(cands, settled{seq: r.Seq, personID: e.PersonID})
			}
		case events.DeletionRequested:
			if e.DeletionID == f.id && len(e.Rejected) > 0 {
				cands = append(cands, settled{seq: r.Seq, positions: rejectedPositions(e.Rejected)})
			}
		case events.DeletionChunkDispatched:
			if e.DeletionID == f.id && len(e.Failed) > 0 {
				cands = append(cands, settled{seq: r.Seq, positions: rejectedPositions(e.Failed)})
			}
		case events.DeletionCompleted:
			if e.DeletionID == f.id {
				completed = r.Seq
			}
		}
	}
	if len(cands) == 0 && completed == 0 {
		return nil
	}
	last := batch[len(batch)-1].Seq
	// The read model tells which request an outcome belongs to (the saga that settled it may
	// be another request's, joined) and what the item's row says now.
	if err := f.del.waitVisible(ctx, last); err != nil {
		return err
	}
	items, err := f.del.followedItems(ctx, f.id, cands)
	if err != nil {
		return err
	}
	sent := false
	for _, c := range cands {
		var matched []DeletionItem
		for _, it := range items {
			if it.State == projections.ItemPending {
				continue
			}
			if c.positions != nil && slices.Contains(c.positions, int(it.Position)) ||
				c.positions == nil && it.PersonID == c.personID && (c.sagaID == "" || it.SagaID == c.sagaID) {
				matched = append(matched, it)
			}
		}
		for i, it := range matched {
			seq := c.seq
			if i < len(matched)-1 {
				seq = 0
			}
			if err := f.emit(DeletionUpdate{Kind: UpdateItem, Seq: seq, Item: it}); err != nil {
				return err
			}
			sent = true
		}
	}
	f.stale = f.stale || sent
	if completed != 0 {
		d, err := f.del.GetDeletion(ctx, f.id)
		if err != nil {
			return err
		}
		if err := emitCompleted(f.emit, d, completed); err != nil {
			return err
		}
		return errFollowDone
	}
	if f.stale && time.Since(f.lastProgress) >= progressEvery {
		d, err := f.del.GetDeletion(ctx, f.id)
		if err != nil {
			return err
		}
		if err := f.emit(DeletionUpdate{Kind: UpdateProgress, Seq: last, Progress: d}); err != nil {
			return err
		}
		f.lastProgress, f.stale = time.Now(), false
	}
	return nil
}

func emitCompleted(emit func(DeletionUpdate) error, d Deletion, seq uint64) error {
	if err := emit(DeletionUpdate{Kind: UpdateProgress, Progress: d}); err != nil {
		return err
	}
	return emit(DeletionUpdate{Kind: UpdateCompleted, Seq: seq, Progress: d})
}

func rejectedPositions(rs []events.Rejection) []int {
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i] = r.Index
	}
	return out
}

// followedItems reads the request's items that the candidates name, by person or by position.
func (del *Deletions) followedItems(ctx context.Context, id string, cands []settled) ([]DeletionItem, error) {
	var persons []string
	var positions []int
	for _, c := range cands {
		if c.positions != nil {
			positions = append(positions, c.positions...)
		} else if c.personID != "" {
			persons = append(persons, c.personID)
		}
	}
	return del.reads.ItemsOf(ctx, id, persons, positions)
}
