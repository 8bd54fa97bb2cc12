package projections_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/sqldb"
	"github.com/erasure-dev/erasure/projections"
)

// seedBusyLog appends, for each of n persons, a registration (2 groups, 3 faces, 2 permission
// groups), and for every other person the whole deletion saga, plus the bulk request's chunks:
// about 3.5 events a person. Appends are asynchronous, one round per event of a person.
func seedBusyLog(t testing.TB, s *eventlog.Store, n int) uint64 {
	t.Helper()
	ctx := context.Background()
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	meta := func() events.Meta {
		at = at.Add(time.Millisecond)
		return events.Meta{CorrelationID: "seed", Actor: "bench", Time: at}
	}
	last := map[string]uint64{}
	var max uint64
	appendRound := func(items []eventlog.Pending) {
		for start := 0; start < len(items); start += 2000 {
			part := items[start:min(start+2000, len(items))]
			seqs, errs := s.AppendAsync(ctx, part)
			for i, err := range errs {
				require.NoError(t, err)
				last[part[i].Event.AggregateID] = seqs[i]
				max = maxU(max, seqs[i])
			}
		}
	}
	id := func(i int) string { return "p" + strconv.Itoa(i) }
	var round []eventlog.Pending
	for i := range n {
		p := id(i)
		faces := make([]events.Face, 3)
		for k := range faces {
			faces[k] = events.Face{FaceID: fmt.Sprintf("%s-f%d", p, k), PhotoKey: fmt.Sprintf("%s-k%d", p, k)}
		}
		e, err := events.New(events.AggregatePerson, p, events.PersonCreated{PersonID: p, Name: events.Sealed("c2VhbGVkIG5hbWUgb2YgYSBwZXJzb24"),
			GroupIDs: []string{"g" + strconv.Itoa(i%10), "g" + strconv.Itoa(i%7+10)}, PermissionGroupIDs: []string{"pg" + strconv.Itoa(i%5), "door"},
			Faces: faces}, meta())
		require.NoError(t, err)
		round = append(round, eventlog.Pending{Event: e})
	}
	appendRound(round)
	var deleted []string
	for i := 0; i < n; i += 2 {
		deleted = append(deleted, id(i))
	}
	chunks := []eventlog.Pending{}
	var expected uint64
	for c, off := 0, 0; off < len(deleted); c, off = c+1, off+1000 {
		end := min(off+1000, len(deleted))
		e, err := events.New(events.AggregateDeletion, "bulk", events.DeletionRequested{DeletionID: "bulk", Chunk: c, Offset: off,
			PersonIDs: deleted[off:end], Last: end == len(deleted), Total: len(deleted)}, meta())
		require.NoError(t, err)
		chunks = append(chunks, eventlog.Pending{Event: e})
	}
	for _, c := range chunks { // one subject: in order
		c.Expected = expected
		seqs, errs := s.AppendAsync(ctx, []eventlog.Pending{c})
		require.NoError(t, errs[0])
		expected = seqs[0]
	}
	for _, step := range []func(p string) any{
		func(p string) any { return events.PersonDeletionRequested{PersonID: p, DeletionID: "bulk"} },
		func(p string) any {
			return unboundStep(p, "bulk", []string{"pg0", "door"})
		},
		func(p string) any {
			return facesStep(p, "bulk", []string{p + "-f0", p + "-f1", p + "-f2"})
		},
		func(p string) any {
			return photosStep(p, "bulk", []string{p + "-k0", p + "-k1", p + "-k2"})
		},
		func(p string) any { return events.PersonDeleted{PersonID: p, DeletionID: "bulk"} },
	} {
		round = round[:0]
		for _, p := range deleted {
			e, err := events.New(events.AggregatePerson, p, step(p), events.Meta{CorrelationID: "bulk", CausationID: "x", Actor: "person-deletion-saga", Time: at})
			require.NoError(t, err)
			round = append(round, eventlog.Pending{Expected: last[p], Event: e})
		}
		appendRound(round)
	}
	return max
}

func maxU(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// TestReplayThroughput replays a busy log into PostgreSQL and SQLite and reports events per
// second beside a same-run baseline: the same number of single-row INSERTs in one transaction
// (the per-statement floor of an event-by-event projection). ERASURE_REPLAY_PERSONS sizes it
// (default 2,000 persons, about 7,000 events; the reported measurement used 100,000).
func TestReplayThroughput(t *testing.T) {
	persons := 2000
	if v, err := strconv.Atoi(os.Getenv("ERASURE_REPLAY_PERSONS")); err == nil && v > 0 {
		persons = v
	}
	s := newStore(t)
	last := seedBusyLog(t, s, persons)
	for _, dialect := range dialects {
		t.Run(dialect, func(t *testing.T) {
			dsn := newDSN(t, dialect)
			live := openDBs(t, dialect, dsn)
			r := projections.NewRunner(live.ReadModel, s, projections.RunnerConfig{Logger: quiet}, projections.All()...)
			sum, err := r.Rebuild(context.Background(), rebuildConfig4096(dialect, dsn))
			require.NoError(t, err)
			require.Equal(t, last, sum.Events)
			require.Equal(t, last, sum.Checkpoint)
			if sum.Swap == "file" {
				live.ReadModel = nil // closed by the swap
				live = openDBs(t, dialect, dsn)
			}
			var n int
			require.NoError(t, live.ReadModel.Get(&n, `SELECT COUNT(*) FROM persons`))
			require.Equal(t, persons/2, n)

			// Baseline: as many single-row INSERTs as events, in one transaction.
			start := time.Now()
			tx, err := live.ReadModel.Beginx()
			require.NoError(t, err)
			_, err = tx.Exec(`CREATE TABLE baseline (id BIGINT PRIMARY KEY, v TEXT NOT NULL)`)
			require.NoError(t, err)
			for i := range int(last) {
				_, err := tx.Exec(tx.Rebind(`INSERT INTO baseline (id, v) VALUES (?, ?)`), i, "x")
				require.NoError(t, err)
			}
			require.NoError(t, tx.Rollback())
			base := float64(last) / time.Since(start).Seconds()
			t.Logf("%s: replayed %d events in %.2fs = %.0f events/s (swap %s); baseline plain INSERT loop %.0f rows/s; ratio %.1f",
				dialect, sum.Events, sum.Seconds, sum.EventsPerS, sum.Swap, base, sum.EventsPerS/base)
		})
	}
}

func rebuildConfig4096(dialect, dsn string) projections.RebuildConfig {
	c := rebuildConfig(dialect, dsn)
	c.BatchSize = 4096
	if dialect == sqldb.SQLite {
		c.Offline = true
	}
	return c
}
