package projections_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/sqldb"
	"github.com/erasure-dev/erasure/projections"
)

// busyLog is a log with every kind of event the read models know, over n persons: registrations,
// membership and face changes, binds and unbinds, a bulk deletion with refused, unknown and
// failed items, completed, failed, retried and joined sagas, re-registrations, a group deletion
// and permission groups created and deleted.
func busyLog(n int) []step {
	var s []step
	f := func(id string, k int) events.Face {
		return events.Face{FaceID: fmt.Sprintf("%s-f%d", id, k), PhotoKey: fmt.Sprintf("%s-k%d", id, k)}
	}
	for g := range 4 {
		s = append(s, group(fmt.Sprintf("bg%d", g), events.GroupCreated{GroupID: fmt.Sprintf("bg%d", g), Name: "Group", Tag: strconv.Itoa(g)}))
	}
	for pg := range 3 {
		id := fmt.Sprintf("pg%d", pg)
		s = append(s, step{events.AggregatePermission, id, events.PermissionGroupCreated{PermissionGroupID: id, Name: "perm " + id, Description: "d"}})
	}
	id := func(i int) string { return fmt.Sprintf("bp%d", i) }
	for i := range n {
		p := id(i)
		s = append(s, person(p, events.PersonCreated{PersonID: p, Name: events.Sealed("sealed-" + p), Profile: events.Sealed("profile-" + p),
			GroupIDs: []string{fmt.Sprintf("bg%d", i%4)}, PermissionGroupIDs: []string{fmt.Sprintf("pg%d", i%3)},
			Faces: []events.Face{f(p, 1), f(p, 2)}}))
	}
	for i := range n {
		p := id(i)
		switch i % 6 {
		case 0:
			s = append(s, person(p, events.PersonAddedToGroup{PersonID: p, GroupID: fmt.Sprintf("bg%d", (i+1)%4)}))
		case 1:
			s = append(s, person(p, events.FaceAdded{PersonID: p, Face: f(p, 3)}), person(p, events.FaceDeleted{PersonID: p, FaceID: f(p, 1).FaceID}))
		case 2:
			s = append(s, person(p, events.PermissionGroupBound{PersonID: p, PermissionGroupID: "pg9"}),
				person(p, events.PermissionGroupUnbound{PersonID: p, PermissionGroupID: "pg9"}),
				person(p, events.PermissionGroupBound{PersonID: p, PermissionGroupID: "pg8"}))
		case 3:
			s = append(s, person(p, events.PersonAddedToGroup{PersonID: p, GroupID: "bg3"}),
				person(p, events.PersonRemovedFromGroup{PersonID: p, GroupID: fmt.Sprintf("bg%d", i%4)}))
		}
	}
	// A bulk deletion of every other person, in chunks, with a refused and an unknown id.
	var ids []string
	var rejected []events.Rejection
	for i := 0; i < n; i += 2 {
		ids = append(ids, id(i))
	}
	ids = append(ids, "bad id!", "nobody", id(0))
	rejected = append(rejected, events.Rejection{Index: len(ids) - 3, Code: domain.CodeInvalidID}, events.Rejection{Index: len(ids) - 1, Code: domain.CodeDuplicateID})
	const chunk = 7
	for c, off := 0, 0; off < len(ids); c, off = c+1, off+chunk {
		end := min(off+chunk, len(ids))
		e := events.DeletionRequested{DeletionID: "bulk", Chunk: c, Offset: off, PersonIDs: ids[off:end], IdempotencyKey: "key", CallbackURL: "http://cb"}
		for _, r := range rejected {
			if r.Index >= off && r.Index < end {
				e.Rejected = append(e.Rejected, r)
			}
		}
		if end == len(ids) {
			e.Last, e.Total = true, len(ids)
		}
		s = append(s, step{events.AggregateDeletion, "bulk", e})
	}
	s = append(s, step{events.AggregateDeletion, "bulk", events.DeletionChunkDispatched{DeletionID: "bulk", Chunk: 0,
		Failed: []events.Rejection{{Index: len(ids) - 2, Code: domain.CodeIDNotFound}}}})
	for i := 0; i < n; i += 2 {
		p := id(i)
		s = append(s, person(p, events.PersonDeletionRequested{PersonID: p, DeletionID: "bulk"}))
		if i%8 == 2 { // a second request joins the running saga
			s = append(s, step{events.AggregateDeletion, "other", events.DeletionRequested{DeletionID: "other", PersonIDs: []string{p}, Last: true, Total: 1}},
				person(p, events.PersonDeletionRequested{PersonID: p, DeletionID: "other", Joins: "bulk"}))
		}
		s = append(s, person(p, unboundStep(p, "bulk", []string{"pgX"})))
		if i%8 == 4 { // fails at purge_faces, then an operator retries it
			s = append(s, person(p, events.PersonDeletionFailed{PersonID: p, DeletionID: "bulk", Code: domain.CodeStepFailed, Step: "purge_faces", Message: "store down"}),
				person(p, events.PersonDeletionRequested{PersonID: p, DeletionID: "bulk", ResumeAt: "purge_faces"}))
		}
		if i%8 == 6 { // fails for good
			s = append(s, person(p, events.PersonDeletionFailed{PersonID: p, DeletionID: "bulk", Code: domain.CodeStepFailed, Step: "purge_faces", Message: "store down"}))
			continue
		}
		s = append(s, person(p, facesStep(p, "bulk", []string{"x"})),
			person(p, photosStep(p, "bulk", []string{"y"})),
			person(p, events.PersonDeleted{PersonID: p, DeletionID: "bulk"}))
		if i%10 == 0 { // registered again under the same id
			s = append(s, person(p, events.PersonCreated{PersonID: p, Name: "sealed-again", GroupIDs: []string{"bg1"}, Faces: []events.Face{f(p, 7)}}))
		}
	}
	s = append(s, step{events.AggregateDeletion, "bulk", events.DeletionCompleted{DeletionID: "bulk", Total: len(ids), Deleted: n / 2}})
	// A request cancelled while its sagas run: one dispatch cancelled, one saga cancelled.
	s = append(s, step{events.AggregateDeletion, "cx", events.DeletionRequested{DeletionID: "cx", PersonIDs: []string{id(1), id(3)}, Last: true, Total: 2}},
		person(id(1), events.PersonDeletionRequested{PersonID: id(1), DeletionID: "cx"}),
		step{events.AggregateDeletion, "cx", events.DeletionCancelled{DeletionID: "cx"}},
		step{events.AggregateDeletion, "cx", events.DeletionChunkDispatched{DeletionID: "cx", Failed: []events.Rejection{{Index: 1, Code: domain.CodeCancelled}}}},
		person(id(1), events.PersonDeletionCancelled{PersonID: id(1), DeletionID: "cx"}),
		step{events.AggregateDeletion, "cx", events.DeletionCompleted{DeletionID: "cx", Total: 2, Cancelled: 2}})
	// Requests from each surface: Sophon without and with an API key, Tencent.
	s = append(s, by("sophon-api", step{events.AggregateDeletion, "so1", events.DeletionRequested{DeletionID: "so1", PersonIDs: []string{"nobody"}, Last: true, Total: 1}}),
		by("ops-key", step{events.AggregateDeletion, "so2", events.DeletionRequested{DeletionID: "so2", PersonIDs: []string{"nobody"}, Last: true, Total: 1, Source: "sophon"}}),
		by("tencent-api", step{events.AggregateDeletion, "tc1", events.DeletionRequested{DeletionID: "tc1", PersonIDs: []string{"nobody"}, Last: true, Total: 1}}))
	// A group deletion that removes one membership per member: requested by a key, its members
	// recorded by the saga.
	var members []string
	for i := 1; i < n; i += 4 {
		members = append(members, id(i))
	}
	s = append(s, by("ops-key", group("bg2", events.GroupDeletionRequested{GroupID: "bg2", DeletionID: "gdel"})),
		by("group-deletion-saga", step{events.AggregateDeletion, "gdel", events.DeletionRequested{DeletionID: "gdel", GroupID: "bg2",
			PersonIDs: members, Last: true, Total: len(members)}}))
	for i := 1; i < n; i += 4 {
		s = append(s, person(id(i), events.PersonRemovedFromGroup{PersonID: id(i), GroupID: "bg2", DeletionID: "gdel"}))
	}
	s = append(s, group("bg2", events.GroupDeleted{GroupID: "bg2", DeletionID: "gdel"}),
		step{events.AggregatePermission, "pg2", events.PermissionGroupDeletionRequested{PermissionGroupID: "pg2", Name: "perm pg2"}},
		step{events.AggregatePermission, "pg1", events.PermissionGroupDeletionRequested{PermissionGroupID: "pg1", Name: "perm pg1"}},
		step{events.AggregatePermission, "pg1", events.PermissionGroupDeleted{PermissionGroupID: "pg1", Name: "perm pg1"}})
	return append(s, batchedDeletion(n, id, f)...)
}

// batchedDeletion deletes every fourth person (from the fourth) in three batches
// (docs/adr/0003): each batch's persons request their deletion with the batch's start; the batch
// records each step once, listing the persons still in it, the batches' steps interleaved so
// that a run of one step type spans batches; the first person is split out failing at
// purge_faces and is retried on its own subject; the second batch's persons wait for a target,
// which fails its last person; the third batch is still running when the log ends (its persons
// between steps: their rows changed by the batch's events, their versions by their own).
func batchedDeletion(n int, id func(int) string, f func(string, int) events.Face) []step {
	var ids []string
	for i := 3; i < n; i += 4 {
		ids = append(ids, id(i))
	}
	const d = "batched"
	k := max(2, len(ids)/3)
	batches := [][]string{ids[:k], ids[k : 2*k], ids[2*k:]}
	names := []string{d + "_0_0", fmt.Sprintf("%s_0_%d", d, k), fmt.Sprintf("%s_0_%d", d, 2*k)}
	s := []step{
		{events.AggregateDeletion, d, events.DeletionRequested{DeletionID: d, PersonIDs: ids, Last: true, Total: len(ids)}},
		{events.AggregateDeletion, d, events.DeletionChunkDispatched{DeletionID: d}},
	}
	batchStep := func(b int, data any) step { return step{events.AggregateBatch, names[b], data} }
	for b, persons := range batches {
		started := events.DeletionBatchStarted{DeletionID: d, Batch: names[b]}
		for _, p := range persons {
			faces := []events.Face{f(p, 1), f(p, 2)}
			s = append(s, person(p, events.PersonDeletionRequested{PersonID: p, DeletionID: d, Batch: names[b], Faces: faces}))
			started.Persons = append(started.Persons, events.BatchPerson{PersonID: p, Faces: faces})
		}
		s = append(s, batchStep(b, started))
	}
	for b, persons := range batches {
		e := events.PermissionGroupsUnbound{DeletionID: d, Batch: names[b]}
		for _, p := range persons {
			e.Persons = append(e.Persons, events.PersonPermissionGroups{PersonID: p, PermissionGroupIDs: []string{"pg0", "pg8"}})
		}
		s = append(s, batchStep(b, e))
	}
	failed := batches[0][0]
	batches[0] = batches[0][1:]
	s = append(s, person(failed, events.PersonDeletionFailed{PersonID: failed, DeletionID: d, Code: domain.CodeStepFailed, Step: "purge_faces", Message: "store down"}))
	for b, persons := range batches {
		e := events.FacesPurged{DeletionID: d, Batch: names[b], Persons: []events.PersonFaces{}}
		for _, p := range persons {
			e.Persons = append(e.Persons, events.PersonFaces{PersonID: p, FaceIDs: []string{f(p, 1).FaceID, f(p, 2).FaceID}})
		}
		s = append(s, batchStep(b, e))
	}
	for b, persons := range batches[:2] {
		e := events.PhotosPurged{DeletionID: d, Batch: names[b], Persons: []events.PersonPhotos{}}
		if b == 1 {
			e.Targets = []string{"site-a", "cloud"}
		}
		for _, p := range persons {
			e.Persons = append(e.Persons, events.PersonPhotos{PersonID: p, PhotoKeys: []string{f(p, 1).PhotoKey, f(p, 2).PhotoKey}})
		}
		s = append(s, batchStep(b, e))
	}
	for _, p := range batches[0] {
		s = append(s, person(p, events.PersonDeleted{PersonID: p, DeletionID: d}))
	}
	s = append(s, batchStep(0, events.DeletionBatchCompleted{DeletionID: d, Batch: names[0], Deleted: len(batches[0]), Failed: 1}))
	for i, p := range batches[1] {
		if i == len(batches[1])-1 {
			s = append(s, person(p, events.PersonRemovedFromTargets{PersonID: p, DeletionID: d, Targets: []string{"cloud"}, Remaining: []string{"site-a"}}),
				person(p, events.PersonDeletionFailed{PersonID: p, DeletionID: d, Code: domain.CodeStepFailed, Step: "delete_from_targets",
					Message: "target site-a: down", Targets: []string{"site-a"}, Attempts: 3}))
			continue
		}
		s = append(s, person(p, events.PersonRemovedFromTargets{PersonID: p, DeletionID: d, Targets: []string{"site-a", "cloud"}}),
			person(p, events.PersonDeleted{PersonID: p, DeletionID: d}))
	}
	s = append(s, batchStep(1, events.DeletionBatchCompleted{DeletionID: d, Batch: names[1], Deleted: len(batches[1]) - 1, Failed: 1}),
		// The failed person of the first batch, retried: its own subject records the rest.
		person(failed, events.PersonDeletionRequested{PersonID: failed, DeletionID: d, ResumeAt: "purge_faces"}),
		person(failed, facesStep(failed, d, []string{f(failed, 1).FaceID, f(failed, 2).FaceID})),
		person(failed, photosStep(failed, d, []string{f(failed, 1).PhotoKey, f(failed, 2).PhotoKey})),
		person(failed, events.PersonDeleted{PersonID: failed, DeletionID: d}))
	return s
}

// allRunner is a runner of every projector, running until the test ends.
func allRunner(t *testing.T, db *sqlx.DB, s *eventlog.Store, batch int) *runner {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{
		Runner: projections.NewRunner(db, s, projections.RunnerConfig{BatchSize: batch, Logger: quiet}, projections.All()...),
		t:      t, cancel: cancel, done: make(chan error, 1),
	}
	go func() { r.done <- r.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

// reference builds a read model from the whole log statement by statement, as the live runner
// does, in a database of its own.
func reference(t *testing.T, dialect string, s *eventlog.Store, last uint64) map[string][]string {
	t.Helper()
	dbs := openDBs(t, dialect, newDSN(t, dialect))
	r := allRunner(t, dbs.ReadModel, s, 50)
	r.waitFor(t, last)
	r.stop()
	return modelDump(t, dbs.ReadModel)
}

// modelDump is dump without the bookkeeping of which code built the tables.
func modelDump(t *testing.T, db *sqlx.DB) map[string][]string {
	t.Helper()
	d := dump(t, db)
	delete(d, "projection_versions")
	return d
}

func rebuildConfig(dialect, dsn string) projections.RebuildConfig {
	// Small batches and early writes, so that a test log goes through every stage.
	c := projections.RebuildConfig{Dialect: dialect, BatchSize: 64, Logger: quiet}
	if dialect == sqldb.Postgres {
		c.DatabaseURL = dsn
	} else {
		c.Dir = dsn
	}
	return c
}

func TestReplayEqualsLive(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		s := newStore(t)
		dsn := newDSN(t, dialect)
		live := openDBs(t, dialect, dsn)
		w := newWriter(s)
		w.append(t, history()...)
		last := w.append(t, busyLog(60)...)
		r := allRunner(t, live.ReadModel, s, 25)
		r.waitFor(t, last)
		before := modelDump(t, live.ReadModel)
		require.NotEmpty(t, before["audit_log"])
		// Who requested each deletion and through which surface, derived from the events.
		var sources []string
		require.NoError(t, live.ReadModel.Select(&sources, `SELECT deletion_id || ' ' || actor || ' ' || source FROM deletions
			WHERE deletion_id IN ('bulk', 'so1', 'so2', 'tc1', 'gdel') ORDER BY deletion_id`))
		require.Equal(t, []string{"bulk test native", "gdel ops-key group", "so1 sophon-api sophon", "so2 ops-key sophon", "tc1 tencent-api tencent"}, sources)
		require.Len(t, before["audit_log"], len(w.seqs))

		// SQLite restores a fresh file's pages over the live file's, but not its migration
		// history: which migration ran when stays the live file's.
		gooseHistory := func() []string {
			var h []string
			require.NoError(t, live.ReadModel.Select(&h, `SELECT id || ' ' || version_id || ' ' || is_applied || ' ' || CAST(tstamp AS TEXT)
				FROM goose_db_version ORDER BY id`))
			return h
		}
		var historyBefore []string
		if dialect == sqldb.SQLite {
			_, err := live.ReadModel.Exec(`UPDATE goose_db_version SET tstamp = '2001-02-03 04:05:06'`)
			require.NoError(t, err)
			historyBefore = gooseHistory()
		}

		// Readers keep getting answers from the live tables while the rebuild runs and swaps.
		stopReading := make(chan struct{})
		var reads atomic.Int64
		readErr := make(chan error, 1)
		go func() {
			defer close(readErr)
			for {
				select {
				case <-stopReading:
					return
				default:
				}
				var n int
				if err := live.ReadModel.Get(&n, `SELECT COUNT(*) FROM persons`); err != nil {
					readErr <- err
					return
				}
				reads.Add(1)
			}
		}()
		sum, err := r.Rebuild(context.Background(), rebuildConfig(dialect, dsn))
		close(stopReading)
		require.NoError(t, <-readErr)
		require.NoError(t, err)
		require.Positive(t, reads.Load())
		require.Equal(t, uint64(len(w.seqs)), sum.Events)
		require.Equal(t, last, sum.Checkpoint)
		require.ElementsMatch(t, []string{"registry", "deletions", "permissions", "audit", "target_outcomes"}, sum.Projections)
		require.Equal(t, map[string]string{sqldb.Postgres: "schema", sqldb.SQLite: "restore"}[dialect], sum.Swap)

		after := modelDump(t, live.ReadModel)
		require.Equal(t, before, after)
		if dialect == sqldb.SQLite {
			require.Equal(t, historyBefore, gooseHistory())
		}
		// The live runner goes on applying the log to the swapped-in tables.
		last = w.append(t, person("late", events.PersonCreated{PersonID: "late", Name: "n", GroupIDs: []string{"bg1"}}))
		r.waitFor(t, last)
		require.Equal(t, reference(t, dialect, s, last), modelDump(t, live.ReadModel))
		requireNoReplayLeftovers(t, dialect, dsn)
	})
}

// TestReplayEqualsLiveAtScale replays a long log (every kind of event of TestReplayEqualsLive's
// log, about 6 events a person) and requires the model the live runner built in small batches,
// byte for byte. 1,000 persons; 2,000 under ERASURE_SOAK (CI, with the race detector, where the
// live runner applies a few hundred events a second); ERASURE_REPLAY_SCALE sets any size
// (20,000: about 120,000 events, a few minutes without the race detector).
func TestReplayEqualsLiveAtScale(t *testing.T) {
	t.Parallel()
	n := 1000
	if os.Getenv("ERASURE_SOAK") != "" {
		n = 2000
	}
	if v, err := strconv.Atoi(os.Getenv("ERASURE_REPLAY_SCALE")); err == nil && v > 0 {
		n = v
	}
	forEachDialect(t, func(t *testing.T, dialect string) {
		s := newStore(t)
		dsn := newDSN(t, dialect)
		live := openDBs(t, dialect, dsn)
		w := newWriter(s)
		last := w.appendRounds(t, busyLog(n)...)
		r := allRunner(t, live.ReadModel, s, 200)
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(n)*60*time.Millisecond+2*time.Minute)
		defer cancel()
		require.NoError(t, r.WaitFor(ctx, last))
		before := modelDump(t, live.ReadModel)
		require.Len(t, before["audit_log"], len(w.seqs))

		c := rebuildConfig(dialect, dsn)
		c.BatchSize = 4096
		sum, err := r.Rebuild(context.Background(), c)
		require.NoError(t, err)
		require.Equal(t, uint64(len(w.seqs)), sum.Events)
		t.Logf("%s: %d persons, %d events replayed in %.1fs", dialect, n, sum.Events, sum.Seconds)
		require.Equal(t, before, modelDump(t, live.ReadModel))
	})
}

// requireNoReplayLeftovers checks that no fresh or replaced schema or file stays behind.
func requireNoReplayLeftovers(t *testing.T, dialect, dsn string) {
	t.Helper()
	if dialect == sqldb.Postgres {
		db, err := sqlx.Open("postgres", dsn)
		require.NoError(t, err)
		defer db.Close()
		var schemas []string
		require.NoError(t, db.Select(&schemas, `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'erasure_rm%' ORDER BY 1`))
		require.Equal(t, []string{sqldb.SchemaReadModel}, schemas)
		return
	}
	matches, err := filepath.Glob(filepath.Join(dsn, "readmodel.replay-*"))
	require.NoError(t, err)
	require.Empty(t, matches)
}

func TestReplayWhileWriting(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		s := newStore(t)
		dsn := newDSN(t, dialect)
		live := openDBs(t, dialect, dsn)
		// A second replica on the same database (PostgreSQL only: SQLite has one process).
		runners := []*runner{allRunner(t, live.ReadModel, s, 5)}
		if dialect == sqldb.Postgres {
			runners = append(runners, allRunner(t, openDBs(t, dialect, dsn).ReadModel, s, 3))
		}
		w := newWriter(s)
		w.append(t, busyLog(40)...)

		// Writers on their own persons append (and wait for the read model, as API calls do)
		// while the rebuild runs and swaps.
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			maxSeq  uint64
			stop    atomic.Bool
			written atomic.Int64
		)
		for g := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ww := newWriter(s)
				for i := 0; !stop.Load() || i < 5; i++ {
					p := fmt.Sprintf("w%d-%d", g, i)
					seq, err := ww.tryAppend(
						person(p, events.PersonCreated{PersonID: p, Name: "n", GroupIDs: []string{"bg0"}, Faces: []events.Face{{FaceID: p + "f", PhotoKey: p + "k"}}}),
						person(p, events.PermissionGroupBound{PersonID: p, PermissionGroupID: "pg0"}))
					if err != nil {
						t.Errorf("append: %v", err)
						return
					}
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					err = runners[i%len(runners)].WaitFor(ctx, seq)
					cancel()
					if err != nil {
						t.Errorf("read your writes across the swap: %v", err)
						return
					}
					// What the write waited for is visible, before and after the swap alike.
					var n int
					if err := live.ReadModel.Get(&n, live.ReadModel.Rebind(`SELECT COUNT(*) FROM permission_bindings WHERE person_id = ?`), p); err != nil || n != 1 {
						t.Errorf("person %s not visible after its write was applied (n=%d, err=%v)", p, n, err)
						return
					}
					mu.Lock()
					maxSeq = max(maxSeq, seq)
					mu.Unlock()
					written.Add(1)
				}
			}()
		}
		require.Eventually(t, func() bool { return written.Load() >= 6 }, 30*time.Second, 10*time.Millisecond)
		_, err := runners[0].Rebuild(context.Background(), rebuildConfig(dialect, dsn))
		require.NoError(t, err)
		stop.Store(true)
		wg.Wait()
		last, err := s.LastSequence(context.Background())
		require.NoError(t, err)
		for _, r := range runners {
			r.waitFor(t, last)
		}
		require.Equal(t, reference(t, dialect, s, last), modelDump(t, live.ReadModel))
	})
}

func TestReplayOfflineFileSwap(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	dir := t.TempDir()
	live := openDBs(t, sqldb.SQLite, dir)
	w := newWriter(s)
	last := w.append(t, append(history(), busyLog(30)...)...)
	r := allRunner(t, live.ReadModel, s, 1000)
	r.waitFor(t, last)
	r.stop()
	before := modelDump(t, live.ReadModel)
	// Damage the live model: a replay must not care what it held.
	_, err := live.ReadModel.Exec(`DELETE FROM persons`)
	require.NoError(t, err)
	// Its migration history, though, is the live file's, not the fresh file's.
	_, err = live.ReadModel.Exec(`UPDATE goose_db_version SET tstamp = '2001-02-03 04:05:06'`)
	require.NoError(t, err)

	cfg := rebuildConfig(sqldb.SQLite, dir)
	cfg.Offline = true
	sum, err := r.Rebuild(context.Background(), cfg)
	require.NoError(t, err)
	require.Equal(t, "file", sum.Swap)
	require.Equal(t, last, sum.Checkpoint)
	live.ReadModel = nil // closed by the swap
	fi, err := os.Stat(filepath.Join(dir, sqldb.ReadModelFile+"-wal"))
	if err == nil {
		require.Zero(t, fi.Size(), "a stale write-ahead log beside the swapped file")
	}
	reopened := openDBs(t, sqldb.SQLite, dir)
	require.Equal(t, before, modelDump(t, reopened.ReadModel))
	var stamps []string
	require.NoError(t, reopened.ReadModel.Select(&stamps, `SELECT DISTINCT CAST(tstamp AS TEXT) FROM goose_db_version`))
	require.Equal(t, []string{"2001-02-03 04:05:06"}, stamps, "the live file's migration history")
	requireNoReplayLeftovers(t, sqldb.SQLite, dir)
}

func TestReplayOneProjection(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		s := newStore(t)
		dsn := newDSN(t, dialect)
		live := openDBs(t, dialect, dsn)
		w := newWriter(s)
		last := w.append(t, busyLog(30)...)
		r := allRunner(t, live.ReadModel, s, 40)
		r.waitFor(t, last)
		before := modelDump(t, live.ReadModel)
		// Damage what the rebuild covers and what it does not.
		_, err := live.ReadModel.Exec(`DELETE FROM audit_log WHERE seq > 10`)
		require.NoError(t, err)
		_, err = live.ReadModel.Exec(`DELETE FROM groups`)
		require.NoError(t, err)

		_, err = r.Rebuild(context.Background(), projections.RebuildConfig{Dialect: dialect, Projections: []string{"nosuch"}})
		require.ErrorIs(t, err, projections.ErrUnknownProjection)

		cfg := rebuildConfig(dialect, dsn)
		cfg.Projections = []string{"audit"}
		sum, err := r.Rebuild(context.Background(), cfg)
		require.NoError(t, err)
		require.Equal(t, []string{"audit"}, sum.Projections)
		require.Equal(t, map[string]string{sqldb.Postgres: "tables", sqldb.SQLite: "copy"}[dialect], sum.Swap)
		after := modelDump(t, live.ReadModel)
		require.Equal(t, before["audit_log"], after["audit_log"])
		require.Empty(t, after["groups"], "a table outside the rebuilt projection is left as it was")
		requireNoReplayLeftovers(t, dialect, dsn)
	})
}

func TestStaleProjectionRebuildsItself(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		s := newStore(t)
		dsn := newDSN(t, dialect)
		live := openDBs(t, dialect, dsn)
		r := allRunner(t, live.ReadModel, s, 40)
		stale, err := r.Stale(context.Background())
		require.NoError(t, err)
		require.Empty(t, stale, "an empty read model is current")

		w := newWriter(s)
		last := w.append(t, busyLog(20)...)
		r.waitFor(t, last)
		stale, err = r.Stale(context.Background())
		require.NoError(t, err)
		require.Empty(t, stale)
		want := modelDump(t, live.ReadModel)

		// The registry's code changed (its stored version is another), and the audit projection
		// is new to this database: both are rebuilt, the others are not.
		_, err = live.ReadModel.Exec(`UPDATE projection_versions SET version = 0 WHERE name = 'registry'`)
		require.NoError(t, err)
		_, err = live.ReadModel.Exec(`DELETE FROM projection_versions WHERE name = 'audit'`)
		require.NoError(t, err)
		_, err = live.ReadModel.Exec(`DELETE FROM audit_log`)
		require.NoError(t, err)
		_, err = live.ReadModel.Exec(`UPDATE persons SET state = 'stale'`)
		require.NoError(t, err)
		stale, err = r.Stale(context.Background())
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"registry", "audit"}, stale)

		require.NoError(t, r.RebuildStale(context.Background(), rebuildConfig(dialect, dsn), stale))
		require.Equal(t, want, modelDump(t, live.ReadModel))
		stale, err = r.Stale(context.Background())
		require.NoError(t, err)
		require.Empty(t, stale)
	})
}
