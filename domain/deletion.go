package domain

import (
	"errors"
	"fmt"

	"github.com/erasure-dev/erasure/events"
)

// Item error codes of a deletion request (fixed by the API contract).
const (
	CodeIDNotFound  = "ID_NOT_FOUND"
	CodeInvalidID   = "INVALID_ID"
	CodeDuplicateID = "DUPLICATE_ID"
	CodeStepFailed  = "STEP_FAILED"
	CodeCancelled   = "CANCELLED"
	CodeNotInGroup  = "NOT_IN_GROUP"
)

// DefaultChunkSize is how many IDs one DeletionRequested event carries: big enough that a bulk
// request costs few fsyncs, small enough to stay far below the message size limit.
const DefaultChunkSize = 1000

// maxStoredInvalidID bounds what an illegal ID may leave in the log.
const maxStoredInvalidID = 80

// DeletionPlanner turns the IDs of a request, in order, into DeletionRequested chunks, rejecting
// illegal and repeated IDs as items rather than failing the request.
type DeletionPlanner struct {
	id, groupID, key, callback string
	chunkSize                  int
	seen                       map[string]struct{}
	cur                        events.DeletionRequested
	chunk, n                   int
}

// NewDeletionPlanner plans deletion id; groupID limits it to one membership.
func NewDeletionPlanner(id, groupID, idempotencyKey, callbackURL string, chunkSize int) *DeletionPlanner {
	if chunkSize <= 0 {
		chunkSize = DefaultChunkSize
	}
	p := &DeletionPlanner{id: id, groupID: groupID, key: idempotencyKey, callback: callbackURL, chunkSize: chunkSize, seen: map[string]struct{}{}}
	p.reset()
	return p
}

func (p *DeletionPlanner) reset() {
	// Every chunk names the group, so each can be dispatched on its own.
	p.cur = events.DeletionRequested{DeletionID: p.id, Chunk: p.chunk, Offset: p.n, PersonIDs: []string{}, GroupID: p.groupID}
	if p.chunk == 0 {
		p.cur.IdempotencyKey, p.cur.CallbackURL = p.key, p.callback
	}
}

// Add plans one ID; it returns a full chunk when one is ready.
func (p *DeletionPlanner) Add(id string) (events.DeletionRequested, bool) {
	idx := p.n
	p.n++
	stored := id
	if err := ValidateID(id); err != nil {
		if len(stored) > maxStoredInvalidID {
			stored = stored[:maxStoredInvalidID]
		}
		p.cur.Rejected = append(p.cur.Rejected, events.Rejection{Index: idx, Code: CodeInvalidID})
	} else if _, dup := p.seen[id]; dup {
		p.cur.Rejected = append(p.cur.Rejected, events.Rejection{Index: idx, Code: CodeDuplicateID})
	} else {
		p.seen[id] = struct{}{}
	}
	p.cur.PersonIDs = append(p.cur.PersonIDs, stored)
	if len(p.cur.PersonIDs) < p.chunkSize {
		return events.DeletionRequested{}, false
	}
	full := p.cur
	p.chunk++
	p.reset()
	return full, true
}

// Finish returns the last chunk, marked Last with the request's total.
func (p *DeletionPlanner) Finish() events.DeletionRequested {
	last := p.cur
	last.Last, last.Total = true, p.n
	return last
}

// Count is how many IDs were added.
func (p *DeletionPlanner) Count() int { return p.n }

// ErrDeletionFinished means a deletion request is already completed.
var ErrDeletionFinished = errors.New("the deletion request is already completed")

// ErrDeletionNotFound means no such deletion request.
var ErrDeletionNotFound = errors.New("deletion request not found")

// Deletion is the aggregate of one deletion request.
type Deletion struct {
	id        string
	chunks    int
	last      bool
	completed bool
	cancelled bool
}

// CancelDeletion cancels a deletion request.
type CancelDeletion struct{}

// DeletionFromHistory rebuilds a deletion request from its events.
func DeletionFromHistory(id string, history []any) *Deletion {
	d := &Deletion{id: id}
	for _, e := range history {
		d.Apply(e)
	}
	return d
}

// DeletionSnapshot is what a read model keeps of a request: enough to decide on it without its
// history, which for a bulk is thousands of chunk events spread over the whole log.
type DeletionSnapshot struct {
	Recorded  bool // its last chunk is recorded
	Completed bool
	Cancelled bool
}

// DeletionFromSnapshot returns the request as a snapshot describes it: it decides as the
// history does (a request partly recorded does not Exist, which no decision reads). A decision
// on it is appended expecting the sequence the snapshot was taken at, so a snapshot that is
// behind the log is refused rather than believed (eventlog.Store.UpdateDeletionAt).
func DeletionFromSnapshot(id string, s DeletionSnapshot) *Deletion {
	d := &Deletion{id: id, last: s.Recorded, completed: s.Completed, cancelled: s.Cancelled}
	if s.Recorded {
		d.chunks = 1
	}
	return d
}

// Exists reports whether the request was recorded.
func (d *Deletion) Exists() bool { return d.chunks > 0 }

// CompleteDeletion records the final counts once every item is terminal.
type CompleteDeletion struct {
	Total, Deleted, Failed, Cancelled int
}

// Decide returns the events cmd produces on this deletion request.
func (d *Deletion) Decide(cmd any) ([]any, error) {
	switch c := cmd.(type) {
	case CancelDeletion:
		switch {
		case !d.last:
			return nil, ErrDeletionNotFound
		case d.cancelled:
			return nil, nil
		case d.completed:
			return nil, ErrDeletionFinished
		}
		return []any{events.DeletionCancelled{DeletionID: d.id}}, nil
	case CompleteDeletion:
		if d.completed {
			return nil, nil
		}
		if !d.last {
			return nil, fmt.Errorf("complete deletion %s: request not fully recorded", d.id)
		}
		return []any{events.DeletionCompleted{DeletionID: d.id, Total: c.Total, Deleted: c.Deleted, Failed: c.Failed, Cancelled: c.Cancelled}}, nil
	}
	return nil, fmt.Errorf("%w: %T", ErrUnknownCommand, cmd)
}

// Apply moves the deletion's state by one event.
func (d *Deletion) Apply(e any) {
	switch e := e.(type) {
	case events.DeletionRequested:
		d.chunks++
		d.last = d.last || e.Last
	case events.DeletionCompleted:
		d.completed = true
	case events.DeletionCancelled:
		d.cancelled = true
	}
}
