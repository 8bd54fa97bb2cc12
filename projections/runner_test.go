package projections_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/pgtest"
	"github.com/erasure-dev/erasure/internal/sqldb"
	"github.com/erasure-dev/erasure/internal/testenv/jstest"
	"github.com/erasure-dev/erasure/internal/testenv/leakcheck"
	"github.com/erasure-dev/erasure/projections"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

var dialects = []string{sqldb.SQLite, sqldb.Postgres}

// forEachDialect runs fn as a parallel subtest per database dialect.
func forEachDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	t.Helper()
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

// newDSN returns where a fresh database of dialect lives: a directory (SQLite) or a URL (PostgreSQL).
func newDSN(t *testing.T, dialect string) string {
	t.Helper()
	if dialect == sqldb.Postgres {
		return pgtest.New(t)
	}
	return t.TempDir()
}

// openDBs opens (and migrates) the databases at dsn; they are closed when the test ends.
func openDBs(t *testing.T, dialect, dsn string) *sqldb.DBs {
	t.Helper()
	ctx := context.Background()
	var (
		dbs *sqldb.DBs
		err error
	)
	if dialect == sqldb.Postgres {
		dbs, err = sqldb.OpenPostgres(ctx, dsn)
	} else {
		dbs, err = sqldb.OpenSQLite(dsn)
	}
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, dbs.Close()) })
	require.NoError(t, dbs.Migrate(ctx))
	return dbs
}

func newStore(t *testing.T) *eventlog.Store {
	t.Helper()
	return jstest.Store(t, jstest.New(t, jstest.Options{}), eventlog.StoreConfig{})
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// runner is a Runner running in a goroutine until stop is called (or the test ends).
type runner struct {
	*projections.Runner
	t      *testing.T
	cancel context.CancelFunc
	done   chan error
}

func startRunner(t *testing.T, db *sqlx.DB, s *eventlog.Store, batch int) *runner {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{
		Runner: projections.NewRunner(db, s, projections.RunnerConfig{BatchSize: batch, Logger: quiet}, projections.Registry{}),
		t:      t,
		cancel: cancel,
		done:   make(chan error, 1),
	}
	go func() { r.done <- r.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

// stop cancels the runner and waits until Run has returned.
func (r *runner) stop() {
	r.cancel()
	if err, ok := <-r.done; ok {
		if err != nil {
			r.t.Errorf("Run returned %v", err)
		}
		close(r.done)
	}
}

func (r *runner) waitFor(t *testing.T, seq uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, r.WaitFor(ctx, seq))
}

// step is one event of the test history.
type step struct {
	agg, id string
	data    any
}

func person(id string, data any) step { return step{events.AggregatePerson, id, data} }

// actedBy is a step's data recorded under another actor than "test".
type actedBy struct {
	actor string
	data  any
}

// by records st under actor.
func by(actor string, st step) step  { st.data = actedBy{actor, st.data}; return st }
func group(id string, data any) step { return step{events.AggregateGroup, id, data} }

var base = time.Date(2024, 3, 1, 9, 30, 0, 123456000, time.UTC)

// history is a realistic registry history. Event i happens at base + i seconds.
func history() []step {
	f := func(id, key string) events.Face { return events.Face{FaceID: id, PhotoKey: key} }
	return []step{
		group("g1", events.GroupCreated{GroupID: "g1", Name: "Staff", Tag: "hq"}),
		group("g2", events.GroupCreated{GroupID: "g2", Name: "Visitors"}),
		group("g3", events.GroupCreated{GroupID: "g3", Name: "Temp", Tag: "short"}),
		// p1: a long-lived person whose data changes over time.
		person("p1", events.PersonCreated{PersonID: "p1", Name: "sealed-p1", GroupIDs: []string{"g1"},
			PermissionGroupIDs: []string{"pg1", "pg2"}, Faces: []events.Face{f("f1", "k1"), f("f2", "k2")}}),
		// p2: deleted through the whole saga.
		person("p2", events.PersonCreated{PersonID: "p2", Name: "sealed-p2", Profile: "sealed-p2-profile", GroupIDs: []string{"g1", "g3"},
			PermissionGroupIDs: []string{"pg1"}, Faces: []events.Face{f("f4", "k4")}}),
		person("p3", events.PersonCreated{PersonID: "p3", Name: "sealed-p3", GroupIDs: []string{"g3", "g2"},
			Faces: []events.Face{f("f5", "k5")}}),
		person("p1", events.PersonAddedToGroup{PersonID: "p1", GroupID: "g2"}),
		person("p1", events.FaceAdded{PersonID: "p1", Face: f("f3", "k3")}),
		person("p1", events.FaceDeleted{PersonID: "p1", FaceID: "f1"}),
		person("p2", events.FaceAdded{PersonID: "p2", Face: f("f6", "k6")}),
		step{events.AggregateDeletion, "d1", events.DeletionRequested{DeletionID: "d1", PersonIDs: []string{"p2"}, Last: true, Total: 1}},
		person("p2", events.PersonDeletionRequested{PersonID: "p2", DeletionID: "d1"}),
		person("p2", unboundStep("p2", "d1", []string{"pg1"})),
		person("p2", facesStep("p2", "d1", []string{"f4", "f6"})),
		person("p2", photosStep("p2", "d1", []string{"k4", "k6"})),
		person("p2", events.PersonDeleted{PersonID: "p2", DeletionID: "d1"}),
		step{events.AggregateDeletion, "d1", events.DeletionCompleted{DeletionID: "d1", Total: 1, Deleted: 1}},
		// p5: deleted, then registered again under the same id.
		person("p5", events.PersonCreated{PersonID: "p5", Name: "sealed-p5-old", GroupIDs: []string{"g1", "g2"},
			PermissionGroupIDs: []string{"pg9"}, Faces: []events.Face{f("f7", "k7")}}),
		person("p5", events.PermissionGroupBound{PersonID: "p5", PermissionGroupID: "pg8"}),
		// g3 is deleted: its memberships go with it.
		group("g3", events.GroupDeletionRequested{GroupID: "g3", DeletionID: "d2"}),
		person("p3", events.PersonRemovedFromGroup{PersonID: "p3", GroupID: "g3", DeletionID: "d2"}),
		group("g3", events.GroupDeleted{GroupID: "g3", DeletionID: "d2"}),
		person("p5", events.PersonDeletionRequested{PersonID: "p5", DeletionID: "d3"}),
		person("p5", unboundStep("p5", "d3", []string{"pg8", "pg9"})),
		person("p5", facesStep("p5", "d3", []string{"f7"})),
		person("p5", photosStep("p5", "d3", []string{"k7"})),
		person("p5", events.PersonDeleted{PersonID: "p5", DeletionID: "d3"}),
		person("p5", events.PersonCreated{PersonID: "p5", Name: "sealed-p5-new", GroupIDs: []string{"g2"},
			Faces: []events.Face{f("f8", "k8")}}),
		// p4: a deletion in progress that failed after unbinding; a second request joined it.
		person("p4", events.PersonCreated{PersonID: "p4", Name: "sealed-p4", GroupIDs: []string{"g1"},
			PermissionGroupIDs: []string{"pg2"}, Faces: []events.Face{f("f9", "k9")}}),
		person("p4", events.PersonDeletionRequested{PersonID: "p4", DeletionID: "d4"}),
		person("p4", events.PersonDeletionRequested{PersonID: "p4", DeletionID: "d5", Joins: "d4"}),
		person("p4", unboundStep("p4", "d4", []string{"pg2"})),
		person("p4", events.PersonDeletionFailed{PersonID: "p4", DeletionID: "d4", Code: "unavailable", Step: "purge_faces"}),
		person("p1", events.PermissionGroupBound{PersonID: "p1", PermissionGroupID: "pg4"}),
		person("p1", events.PermissionGroupUnbound{PersonID: "p1", PermissionGroupID: "pg4"}),
		person("p1", events.PermissionGroupBound{PersonID: "p1", PermissionGroupID: "pg3"}),
		group("g2", events.GroupDeletionRequested{GroupID: "g2", DeletionID: "d6"}),
	}
}

// writer appends steps with the right expected sequence per aggregate and remembers what it did.
type writer struct {
	s     *eventlog.Store
	next  int               // index of the next step (drives its time)
	last  map[string]uint64 // subject -> last sequence
	times map[string]time.Time
	seqs  []uint64
}

func newWriter(s *eventlog.Store) *writer {
	return &writer{s: s, last: map[string]uint64{}, times: map[string]time.Time{}}
}

func (w *writer) append(t *testing.T, steps ...step) uint64 {
	t.Helper()
	seq, err := w.tryAppend(steps...)
	require.NoError(t, err)
	return seq
}

// tryAppend is append for goroutines other than the test's.
func (w *writer) tryAppend(steps ...step) (uint64, error) {
	ctx := context.Background()
	for _, st := range steps {
		at := base.Add(time.Duration(w.next) * time.Second)
		w.next++
		data, actor := st.data, "test"
		if a, ok := data.(actedBy); ok {
			data, actor = a.data, a.actor
		}
		e, err := events.New(st.agg, st.id, data, events.Meta{CorrelationID: "req", Actor: actor, Time: at})
		if err != nil {
			return 0, err
		}
		key := st.agg + "/" + st.id
		seq, err := w.s.Append(ctx, w.last[key], e)
		if err != nil {
			return 0, err
		}
		w.last[key] = seq
		w.times[key] = at
		w.seqs = append(w.seqs, seq)
	}
	return w.seqs[len(w.seqs)-1], nil
}

// appendRounds is append for long logs: steps go out asynchronously in rounds of distinct
// subjects (a subject's events stay in order, each with its expected sequence), a round of at
// most 2,000 at a time.
func (w *writer) appendRounds(t *testing.T, steps ...step) uint64 {
	t.Helper()
	ctx := context.Background()
	var (
		round []eventlog.Pending
		keys  []string
		inRnd = map[string]bool{}
	)
	flush := func() {
		seqs, errs := w.s.AppendAsync(ctx, round)
		for i, err := range errs {
			require.NoError(t, err)
			w.last[keys[i]] = seqs[i]
			w.seqs = append(w.seqs, seqs[i])
		}
		round, keys = round[:0], keys[:0]
		clear(inRnd)
	}
	for _, st := range steps {
		key := st.agg + "/" + st.id
		if inRnd[key] || len(round) == 2000 {
			flush()
		}
		at := base.Add(time.Duration(w.next) * time.Second)
		w.next++
		data, actor := st.data, "test"
		if a, ok := data.(actedBy); ok {
			data, actor = a.data, a.actor
		}
		e, err := events.New(st.agg, st.id, data, events.Meta{CorrelationID: "req", Actor: actor, Time: at})
		require.NoError(t, err)
		round, keys, inRnd[key] = append(round, eventlog.Pending{Expected: w.last[key], Event: e}), append(keys, key), true
		w.times[key] = at
	}
	flush()
	return slices.Max(w.seqs)
}

type personRow struct {
	ID         string    `db:"person_id"`
	Name       string    `db:"name_sealed"`
	State      string    `db:"state"`
	DeletionID string    `db:"deletion_id"`
	CreatedAt  time.Time `db:"created_at"`
	UpdatedAt  time.Time `db:"updated_at"`
	Version    uint64    `db:"version"`
}

type groupRow struct {
	ID        string    `db:"group_id"`
	Name      string    `db:"name"`
	Tag       string    `db:"tag"`
	State     string    `db:"state"`
	CreatedAt time.Time `db:"created_at"`
	UpdatedAt time.Time `db:"updated_at"`
}

func pairs(t *testing.T, db *sqlx.DB, query string) []string {
	t.Helper()
	rows, err := db.Queryx(query)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a, b string
		require.NoError(t, rows.Scan(&a, &b))
		out = append(out, a+":"+b)
	}
	require.NoError(t, rows.Err())
	sort.Strings(out)
	return out
}

// assertRegistry checks the read model against what history() must produce.
func assertRegistry(t *testing.T, db *sqlx.DB, w *writer) {
	t.Helper()
	at := func(agg, id string) time.Time { return w.times[agg+"/"+id] }

	var groups []groupRow
	require.NoError(t, db.Select(&groups, `SELECT group_id, name, tag, state, created_at, updated_at FROM groups ORDER BY group_id`))
	for i := range groups {
		groups[i].CreatedAt, groups[i].UpdatedAt = groups[i].CreatedAt.UTC(), groups[i].UpdatedAt.UTC()
	}
	require.Equal(t, []groupRow{
		{ID: "g1", Name: "Staff", Tag: "hq", State: "active", CreatedAt: base, UpdatedAt: base},
		{ID: "g2", Name: "Visitors", Tag: "", State: "deleting", CreatedAt: base.Add(time.Second), UpdatedAt: at(events.AggregateGroup, "g2")},
	}, groups)

	var persons []personRow
	require.NoError(t, db.Select(&persons, `SELECT person_id, name_sealed, state, deletion_id, created_at, updated_at, version FROM persons ORDER BY person_id`))
	for i := range persons {
		persons[i].CreatedAt, persons[i].UpdatedAt = persons[i].CreatedAt.UTC(), persons[i].UpdatedAt.UTC()
	}
	p := func(id, name, state, deletion string, created time.Time) personRow {
		key := events.AggregatePerson + "/" + id
		return personRow{ID: id, Name: name, State: state, DeletionID: deletion, CreatedAt: created, UpdatedAt: w.times[key], Version: w.last[key]}
	}
	require.Equal(t, []personRow{
		p("p1", "sealed-p1", "active", "", base.Add(3*time.Second)),
		p("p3", "sealed-p3", "active", "", base.Add(5*time.Second)),
		p("p4", "sealed-p4", "deleting", "d4", base.Add(28*time.Second)),
		// re-created: its creation is the second PersonCreated, not the first.
		p("p5", "sealed-p5-new", "active", "", at(events.AggregatePerson, "p5")),
	}, persons)

	require.Equal(t, []string{"p1:g1", "p1:g2", "p3:g2", "p4:g1", "p5:g2"},
		pairs(t, db, `SELECT person_id, group_id FROM memberships`))
	require.Equal(t, []string{"p1:f2", "p1:f3", "p3:f5", "p4:f9", "p5:f8"},
		pairs(t, db, `SELECT person_id, face_id FROM faces`))
	require.Equal(t, []string{"f2:k2", "f3:k3", "f5:k5", "f8:k8", "f9:k9"},
		pairs(t, db, `SELECT face_id, photo_key FROM faces`))
	require.Equal(t, []string{"p1:pg1", "p1:pg2", "p1:pg3"},
		pairs(t, db, `SELECT person_id, permission_group_id FROM permission_bindings`))

	// The deleted person, the deleted group and everything that was p5 before its re-creation
	// leave no trace in any table.
	for table, rows := range dump(t, db) {
		for _, row := range rows {
			for _, gone := range []string{"p2", "g3", "f4", "f6", "k4", "k6", "f7", "k7", "pg8", "pg9", "sealed-p2", "sealed-p2-profile", "sealed-p5-old", "pg4"} {
				require.NotContains(t, strings.Split(row, "|"), gone, "table %s row %q", table, row)
			}
		}
	}
}

// dump returns every row of every table of the read model (goose's bookkeeping aside), as
// sorted strings with times in UTC.
func dump(t *testing.T, db *sqlx.DB) map[string][]string {
	t.Helper()
	var tables []string
	switch db.DriverName() {
	case "sqlite":
		require.NoError(t, db.Select(&tables, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`))
	default:
		require.NoError(t, db.Select(&tables, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`))
	}
	out := map[string][]string{}
	for _, table := range tables {
		if strings.HasPrefix(table, "goose_") {
			continue
		}
		rows, err := db.Queryx(`SELECT * FROM ` + table)
		require.NoError(t, err)
		var lines []string
		for rows.Next() {
			cols, err := rows.SliceScan()
			require.NoError(t, err)
			cells := make([]string, len(cols))
			for i, c := range cols {
				switch v := c.(type) {
				case time.Time:
					cells[i] = v.UTC().Format(time.RFC3339Nano)
				case []byte:
					cells[i] = string(v)
				case nil:
					cells[i] = "NULL"
				default:
					cells[i] = fmt.Sprint(v)
				}
			}
			lines = append(lines, strings.Join(cells, "|"))
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
		sort.Strings(lines)
		out[table] = lines
	}
	for _, want := range []string{"checkpoints", "groups", "persons", "memberships", "faces", "permission_bindings"} {
		require.Contains(t, out, want)
	}
	return out
}

func checkpoint(t *testing.T, db *sqlx.DB) uint64 {
	t.Helper()
	var seq uint64
	require.NoError(t, db.Get(&seq, `SELECT seq FROM checkpoints WHERE name = 'readmodel'`))
	return seq
}

func TestRunnerProjectsHistory(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		s := newStore(t)
		dbs := openDBs(t, dialect, newDSN(t, dialect))
		w := newWriter(s)
		last := w.append(t, history()...)
		r := startRunner(t, dbs.ReadModel, s, 7)
		r.waitFor(t, last)
		assertRegistry(t, dbs.ReadModel, w)
		require.Equal(t, last, checkpoint(t, dbs.ReadModel))
		require.Equal(t, last, r.Position())
	})
}

func TestRunnerFollowsLiveAppends(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		s := newStore(t)
		dbs := openDBs(t, dialect, newDSN(t, dialect))
		r := startRunner(t, dbs.ReadModel, s, 7)
		w := newWriter(s)
		// Each write waits for the read model, as an API answer does.
		for _, st := range history() {
			r.waitFor(t, w.append(t, st))
		}
		assertRegistry(t, dbs.ReadModel, w)
	})
}

func TestRunnerRestartMatchesRebuild(t *testing.T) {
	t.Parallel()
	steps := history()
	for _, cut := range []int{5, 16, 27} {
		t.Run(fmt.Sprintf("cut at %d", cut), func(t *testing.T) {
			t.Parallel()
			forEachDialect(t, func(t *testing.T, dialect string) {
				s := newStore(t)
				dsn := newDSN(t, dialect)
				dbs := openDBs(t, dialect, dsn)
				w := newWriter(s)

				// The first runner stops while it is still working through the first part.
				w.append(t, steps[:cut]...)
				first := startRunner(t, dbs.ReadModel, s, 3)
				first.waitFor(t, w.seqs[cut/2])
				first.stop()
				stoppedAt := checkpoint(t, dbs.ReadModel)
				require.GreaterOrEqual(t, stoppedAt, w.seqs[cut/2])

				// More happens while no runner is up; a new process picks up on the same database.
				last := w.append(t, steps[cut:]...)
				reopened := openDBs(t, dialect, dsn)
				second := startRunner(t, reopened.ReadModel, s, 7)
				second.waitFor(t, last)
				require.Equal(t, last, checkpoint(t, reopened.ReadModel))
				assertRegistry(t, reopened.ReadModel, w)

				// A rebuild from scratch by one runner gives exactly the same rows.
				fresh := openDBs(t, dialect, newDSN(t, dialect))
				rebuild := startRunner(t, fresh.ReadModel, s, 7)
				rebuild.waitFor(t, last)
				require.Equal(t, dump(t, fresh.ReadModel), dump(t, reopened.ReadModel))
			})
		})
	}
}

func TestRunnerReplicasShareCheckpoint(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		s := newStore(t)
		dsn := newDSN(t, dialect)
		a := openDBs(t, dialect, dsn)
		b := openDBs(t, dialect, dsn) // a second replica: its own connections to the same database
		w := newWriter(s)
		steps := history()
		w.append(t, steps[:10]...) // a backlog both replicas race for

		ra := startRunner(t, a.ReadModel, s, 3)
		rb := startRunner(t, b.ReadModel, s, 2)
		for i := 10; i < len(steps); i += 4 {
			w.append(t, steps[i:min(i+4, len(steps))]...)
		}
		last := w.seqs[len(w.seqs)-1]
		ra.waitFor(t, last)
		rb.waitFor(t, last)

		require.Equal(t, last, checkpoint(t, a.ReadModel))
		require.Equal(t, last, ra.Position())
		require.Equal(t, last, rb.Position())
		assertRegistry(t, a.ReadModel, w)
		assertRegistry(t, b.ReadModel, w)

		fresh := openDBs(t, dialect, newDSN(t, dialect))
		rebuild := startRunner(t, fresh.ReadModel, s, 500)
		rebuild.waitFor(t, last)
		require.Equal(t, dump(t, fresh.ReadModel), dump(t, a.ReadModel))
	})
}

func TestRunnerManyReplicasConcurrentWrites(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		s := newStore(t)
		dsn := newDSN(t, dialect)
		var runners []*runner
		for i := range 4 {
			dbs := openDBs(t, dialect, dsn)
			runners = append(runners, startRunner(t, dbs.ReadModel, s, 1+i))
		}
		// Writers on distinct persons append concurrently while the replicas project.
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			last uint64
		)
		for p := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("c%d", p)
				w := newWriter(s)
				seq, err := w.tryAppend(
					person(id, events.PersonCreated{PersonID: id, Name: "n", GroupIDs: []string{"g"}, Faces: []events.Face{{FaceID: id + "-f1", PhotoKey: id + "-k1"}}}),
					person(id, events.FaceAdded{PersonID: id, Face: events.Face{FaceID: id + "-f2", PhotoKey: id + "-k2"}}),
					person(id, events.FaceDeleted{PersonID: id, FaceID: id + "-f1"}),
				)
				if err == nil && p%2 == 1 {
					seq, err = w.tryAppend(
						person(id, events.PersonDeletionRequested{PersonID: id, DeletionID: "d" + id}),
						person(id, photosStep(id, "d"+id, nil)),
						person(id, events.PersonDeleted{PersonID: id, DeletionID: "d" + id}),
					)
				}
				if err != nil {
					t.Errorf("append for %s: %v", id, err)
					return
				}
				mu.Lock()
				last = max(last, seq)
				mu.Unlock()
			}()
		}
		wg.Wait()
		for _, r := range runners {
			r.waitFor(t, last)
		}
		check := openDBs(t, dialect, dsn).ReadModel
		require.Equal(t, last, checkpoint(t, check))
		require.Equal(t, []string{"c0:c0-f2", "c2:c2-f2", "c4:c4-f2", "c6:c6-f2"},
			pairs(t, check, `SELECT person_id, face_id FROM faces`))
		require.Equal(t, []string{"c0:g", "c2:g", "c4:g", "c6:g"},
			pairs(t, check, `SELECT person_id, group_id FROM memberships`))
		require.Equal(t, []string{"c0:active", "c2:active", "c4:active", "c6:active"},
			pairs(t, check, `SELECT person_id, state FROM persons`))
	})
}

func TestWaitFor(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		s := newStore(t)
		dbs := openDBs(t, dialect, newDSN(t, dialect))
		w := newWriter(s)
		last := w.append(t, history()[:4]...)
		r := startRunner(t, dbs.ReadModel, s, 7)
		r.waitFor(t, last)

		tests := []struct {
			name    string
			seq     uint64
			timeout time.Duration
			wantErr bool
		}{
			{"zero", 0, time.Second, false},
			{"reached", last, time.Second, false},
			{"reached with expired context", last, 0, false},
			{"beyond the log", last + 1, 200 * time.Millisecond, true},
			{"far beyond the log", last + 1000, 300 * time.Millisecond, true},
			{"beyond with expired context", last + 1, 0, true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				// start first: the deadline counts from WithTimeout, and a preemption between
				// the two (CI load) made the wait look shorter than the timeout.
				start := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
				defer cancel()
				err := r.WaitFor(ctx, tt.seq)
				if !tt.wantErr {
					require.NoError(t, err)
					return
				}
				require.ErrorIs(t, err, context.DeadlineExceeded)
				require.Contains(t, err.Error(), fmt.Sprint(tt.seq))
				require.GreaterOrEqual(t, time.Since(start), tt.timeout)
				require.Less(t, time.Since(start), tt.timeout+5*time.Second)
			})
		}

		// A waiter beyond the log is released by the append that reaches it.
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			done <- r.WaitFor(ctx, last+1)
		}()
		next := w.append(t, history()[4])
		require.Equal(t, last+1, next)
		require.NoError(t, <-done)
	})
}

func TestWaitForSeesOtherReplica(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		s := newStore(t)
		dsn := newDSN(t, dialect)
		dbs := openDBs(t, dialect, dsn)
		w := newWriter(s)
		last := w.append(t, history()...)
		// This process does not run its runner: another replica applies the log.
		idle := projections.NewRunner(dbs.ReadModel, s, projections.RunnerConfig{Logger: quiet}, projections.Registry{})
		other := openDBs(t, dialect, dsn)
		startRunner(t, other.ReadModel, s, 5)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, idle.WaitFor(ctx, last))
		require.Equal(t, last, idle.Position())
		assertRegistry(t, dbs.ReadModel, w)
	})
}
