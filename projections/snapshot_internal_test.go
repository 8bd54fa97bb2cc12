package projections

import (
	"context"
	"fmt"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/sqldb"
)

// What the read model keeps of a request decides as the request's history does, and its version
// is the sequence of the last event of the request's subject, whichever of the subject's event
// types came last: the completer and cancellations append at that version on the strength of
// the snapshot (eventlog.Store.UpdateDeletionAt). On each dialect, with other subjects' events
// between the request's.
func TestDeletionSnapshotIsTheRequestsState(t *testing.T) {
	first := func(id string) events.DeletionRequested {
		return events.DeletionRequested{DeletionID: id, Total: 2, PersonIDs: []string{"p1"}}
	}
	last := func(id string) events.DeletionRequested {
		return events.DeletionRequested{DeletionID: id, Chunk: 1, Offset: 1, Last: true, Total: 2, PersonIDs: []string{"p2"}}
	}
	dispatched := func(id string) events.DeletionChunkDispatched {
		return events.DeletionChunkDispatched{DeletionID: id, Chunk: 1, Failed: []events.Rejection{{Index: 1, Code: domain.CodeIDNotFound}}}
	}
	cancelled := func(id string) events.DeletionCancelled { return events.DeletionCancelled{DeletionID: id} }
	completed := func(id string) events.DeletionCompleted {
		return events.DeletionCompleted{DeletionID: id, Total: 2, Deleted: 1, Failed: 1}
	}
	histories := map[string][]func(string) any{
		"partly recorded":           {wrap(first)},
		"recorded":                  {wrap(first), wrap(last)},
		"dispatched":                {wrap(first), wrap(last), wrap(dispatched)},
		"cancelled":                 {wrap(first), wrap(last), wrap(cancelled)},
		"completed":                 {wrap(first), wrap(last), wrap(dispatched), wrap(completed)},
		"cancelled, then completed": {wrap(first), wrap(last), wrap(cancelled), wrap(completed)},
	}
	for dialect, open := range freshDialects(t) {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			db := open(t)
			var seq uint64
			var log []events.Recorded
			ids := map[string]string{}
			lastSeq := map[string]uint64{}
			history := map[string][]any{}
			// Round robin over the requests, a person's event between any two.
			for step := 0; ; step++ {
				appended := false
				for name, h := range histories {
					if step >= len(h) {
						continue
					}
					id := ids[name]
					if id == "" {
						id = fmt.Sprintf("d%d", len(ids)+1)
						ids[name] = id
					}
					seq++
					e := h[step](id)
					log = append(log, recorded(seq, events.AggregateDeletion, id, e))
					lastSeq[id], history[id] = seq, append(history[id], e)
					seq++
					log = append(log, recorded(seq, events.AggregatePerson, "p9", events.PersonCreated{PersonID: "p9"}))
					appended = true
				}
				if !appended {
					break
				}
			}
			require.NoError(t, sqldb.InTx(ctx, db, func(tx *sqlx.Tx) error { return Deletions{}.Apply(ctx, tx, log) }))

			for name, id := range ids {
				snapshot, version, err := Queries{DB: db}.DeletionSnapshot(ctx, id)
				require.NoError(t, err, name)
				require.Equal(t, lastSeq[id], version, "%s: the subject's last sequence", name)
				for _, cmd := range []any{domain.CancelDeletion{}, domain.CompleteDeletion{Total: 2, Deleted: 1, Failed: 1}} {
					want, wantErr := domain.DeletionFromHistory(id, history[id]).Decide(cmd)
					got, err := domain.DeletionFromSnapshot(id, snapshot).Decide(cmd)
					require.Equal(t, fmt.Sprint(wantErr), fmt.Sprint(err), "%s: %T", name, cmd)
					require.Equal(t, want, got, "%s: %T", name, cmd)
				}
			}
			_, _, err := Queries{DB: db}.DeletionSnapshot(ctx, "nope")
			require.ErrorIs(t, err, ErrNotFound)
		})
	}
}

func wrap[E any](f func(string) E) func(string) any { return func(id string) any { return f(id) } }
