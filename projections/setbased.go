package projections

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
)

// The deletion path appends its events in batches, so the log holds long runs of one type over
// distinct persons (a bulk deletion: each person's PersonDeletionRequested, then each one's
// PersonDeleted). Such a run is applied with a handful of set-based statements whatever its
// length, on both dialects: on PostgreSQL every statement is a round trip, on SQLite every
// statement costs its bind, step and B-tree descents, so a few statements a person capped both.
// The statements are the same text on both dialects but for the table a run's rows come from
// (rowsFrom) and the list of its persons (inList); runs that could interact (the same person
// twice) and the rare events take the per-event path (applyRegistry, applyDeletion), which
// writes the same rows.

// runs splits a batch into maximal runs of one event type over distinct aggregates and
// distinct persons: a step event counts for every person it lists (a batch's event lists many,
// on the batch's subject), so no person is changed twice by one run's statements.
func runs(batch []events.Recorded) [][]events.Recorded {
	var out [][]events.Recorded
	start := 0
	seen := map[string]bool{}
	var keys []string
	for i, r := range batch {
		keys = append(keys[:0], r.Aggregate+"."+r.AggregateID)
		for _, id := range events.PersonIDsOf(r.Data) {
			if k := events.AggregatePerson + "." + id; k != keys[0] {
				keys = append(keys, k)
			}
		}
		split := i > start && r.Type != batch[start].Type
		for _, k := range keys {
			split = split || (i > start && seen[k])
		}
		if split {
			out = append(out, batch[start:i])
			start = i
			clear(seen)
		}
		for _, k := range keys {
			seen[k] = true
		}
	}
	if start < len(batch) {
		out = append(out, batch[start:])
	}
	return out
}

// isPostgres tells the dialect of tx: the few constructs whose SQL text differs are chosen by it
// (rowsFrom, inList), never a projector's statements.
func isPostgres(tx *sqlx.Tx) bool { return tx.DriverName() == "postgres" }

// column is one column of the rows a set-based statement reads: its name in the statement,
// its PostgreSQL type, and its values ([]string, []int64 or []time.Time), one per row.
type column struct {
	name, pgType string
	values       any
}

func textColumn(name string, v []string) column    { return column{name, "text", v} }
func intColumn(name string, v []int64) column      { return column{name, "bigint", v} }
func timeColumn(name string, v []time.Time) column { return column{name, "timestamptz", v} }

// rowsFrom returns a FROM item named u whose rows are the columns' values side by side, with its
// arguments: the one place where the dialects' SQL differs for a run's rows.
//
//   - PostgreSQL: unnest of one typed array per column.
//   - SQLite: json_each over one JSON array of rows, each row an array read by position. A time
//     is the text modernc.org/sqlite writes for a bound time.Time (sqliteTime), so a row written
//     here is byte for byte the row the per-event path writes.
//
// The text depends only on the columns, so the batch's statement cache prepares it once.
func rowsFrom(tx *sqlx.Tx, cols ...column) (string, []any) {
	var sb strings.Builder
	if isPostgres(tx) {
		args := make([]any, len(cols))
		sb.WriteString("unnest(")
		for i, c := range cols {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("?::" + c.pgType + "[]")
			args[i] = pq.Array(c.values)
		}
		sb.WriteString(") AS u(")
		for i, c := range cols {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(c.name)
		}
		sb.WriteString(")")
		return sb.String(), args
	}
	sb.WriteString("(SELECT ")
	for i, c := range cols {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("value ->> " + strconv.Itoa(i) + " AS " + c.name)
	}
	sb.WriteString(" FROM json_each(?)) AS u")
	return sb.String(), []any{jsonRows(cols)}
}

// jsonRows is the columns as a JSON array of rows: [[v0, v1, ...], ...].
func jsonRows(cols []column) string {
	n := 0
	if len(cols) > 0 {
		n = columnLen(cols[0])
	}
	b := make([]byte, 0, 32*n*len(cols)+2)
	b = append(b, '[')
	for row := range n {
		if row > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for i, c := range cols {
			if i > 0 {
				b = append(b, ',')
			}
			switch v := c.values.(type) {
			case []string:
				b = appendString(b, v[row])
			case []int64:
				b = strconv.AppendInt(b, v[row], 10)
			case []time.Time:
				b = appendString(b, sqliteTime(v[row]))
			default:
				panic("projections: a column of " + c.pgType + " holds an unsupported type")
			}
		}
		b = append(b, ']')
	}
	return string(append(b, ']'))
}

func columnLen(c column) int {
	switch v := c.values.(type) {
	case []string:
		return len(v)
	case []int64:
		return len(v)
	case []time.Time:
		return len(v)
	}
	return 0
}

// sqliteTime is the text modernc.org/sqlite stores for a bound time.Time: its default write
// format, time.Time's String (the read model's DSNs set no _time_format and no _timezone;
// TestSQLiteTimeIsWhatTheDriverWrites holds it to what the driver does).
func sqliteTime(t time.Time) string { return t.String() }

// inList returns a condition on a column ("IN ...", "= ANY(...)") that holds for the ids, with
// its one argument: a run's or a batch event's persons in one statement on either dialect.
func inList(tx *sqlx.Tx, ids []string) (string, any) {
	if isPostgres(tx) {
		return `= ANY(?)`, pq.Array(ids)
	}
	return `IN (SELECT value FROM json_each(?))`, jsonList(ids)
}

// personRun holds the columns of a run of events on persons' own subjects.
type personRun struct {
	ids, deletions []string
	seqs           []int64
	times          []time.Time
}

// errNotOnItsSubject means a person's own event (its creation, deletion request or terminal
// event) was recorded on another subject, which no version of erasure does: the read model
// would be wrong to guess where it belongs.
var errNotOnItsSubject = errors.New("a person's own event is not on its subject")

// newPersonRun returns the columns of a run of persons' own events (runs keeps a run's
// subjects distinct).
func newPersonRun(run []events.Recorded) (personRun, error) {
	pr := personRun{}
	for _, r := range run {
		id, own := events.PersonIDOf(r.Data)
		if !own || r.Aggregate != events.AggregatePerson || r.AggregateID != id {
			return pr, fmt.Errorf("%s of %q on %s.%s: %w", r.Type, id, r.Aggregate, r.AggregateID, errNotOnItsSubject)
		}
		pr.ids = append(pr.ids, id)
		pr.seqs = append(pr.seqs, int64(r.Seq))
		pr.times = append(pr.times, r.Time)
		pr.deletions = append(pr.deletions, events.DeletionIDOf(r.Data))
	}
	return pr, nil
}

func (pr personRun) touch(ctx context.Context, tx *sqlx.Tx) error {
	src, args := rowsFrom(tx, textColumn("id", pr.ids), intColumn("seq", pr.seqs), timeColumn("t", pr.times))
	return execSQL(ctx, tx, `UPDATE persons AS p SET updated_at = u.t, version = u.seq
		FROM `+src+` WHERE p.person_id = u.id`, args...)
}

func (pr personRun) deleteFrom(ctx context.Context, tx *sqlx.Tx, tables ...string) error {
	in, list := inList(tx, pr.ids)
	for _, t := range tables {
		if err := execSQL(ctx, tx, `DELETE FROM `+t+` WHERE person_id `+in, list); err != nil {
			return err
		}
	}
	return nil
}

// moveItems is moveItems (deletions.go) for the run: every person's items of its saga
// (deletion_items.saga_id = the event's deletion) move from one state to another, set (which
// may read u.t, the event's time, and take setArgs) changes more columns, and the requests'
// counters move by what moved, in two statements and one per request touched.
func (pr personRun) moveItems(ctx context.Context, tx *sqlx.Tx, from, to, set string, setArgs []any, more ...column) error {
	cols := append([]column{textColumn("id", pr.ids), textColumn("saga", pr.deletions), timeColumn("t", pr.times)}, more...)
	src, srcArgs := rowsFrom(tx, cols...)
	args := append(append(append([]any{to}, setArgs...), srcArgs...), from)
	return moveItemsBy(ctx, tx, from, to, `UPDATE deletion_items AS i SET state = ?, `+set+` FROM `+src+`
		WHERE i.person_id = u.id AND i.saga_id = u.saga AND i.state = ? RETURNING deletion_id`, args...)
}

// listedRun holds the persons a run of step events lists, as columns: each with the event's
// time, and its sequence where the event is on the person's own subject (0: a batch's event,
// which leaves the person's version alone; see versionOwner).
type listedRun struct {
	ids   []string
	seqs  []int64
	times []time.Time
}

func newListedRun(run []events.Recorded) listedRun {
	var lr listedRun
	for _, r := range run {
		owner := versionOwner(r)
		for _, id := range events.PersonIDsOf(r.Data) {
			var seq int64
			if id == owner {
				seq = int64(r.Seq)
			}
			lr.ids = append(lr.ids, id)
			lr.seqs = append(lr.seqs, seq)
			lr.times = append(lr.times, r.Time)
		}
	}
	return lr
}

// touch moves the version and time of the persons whose own subject the run's events are on.
// A batch's event moves neither: it is not the person's event (a read-your-writes wait is for
// the person's own sequence), and rewriting every row of a batch at each of its steps for a
// time no query reads was a fifth of the registry projector's cost.
func (lr listedRun) touch(ctx context.Context, tx *sqlx.Tx) error {
	var own listedRun
	for i, seq := range lr.seqs {
		if seq > 0 {
			own.ids, own.seqs, own.times = append(own.ids, lr.ids[i]), append(own.seqs, seq), append(own.times, lr.times[i])
		}
	}
	if len(own.ids) == 0 {
		return nil
	}
	src, args := rowsFrom(tx, textColumn("id", own.ids), intColumn("seq", own.seqs), timeColumn("t", own.times))
	return execSQL(ctx, tx, `UPDATE persons AS p SET updated_at = u.t, version = u.seq
		FROM `+src+` WHERE p.person_id = u.id`, args...)
}

func (lr listedRun) deleteFrom(ctx context.Context, tx *sqlx.Tx, table string) error {
	if len(lr.ids) == 0 {
		return nil
	}
	in, list := inList(tx, lr.ids)
	return execSQL(ctx, tx, `DELETE FROM `+table+` WHERE person_id `+in, list)
}

// registryRun applies a run to the registry tables set-based; false: not a run it handles.
// Each case writes what applyRegistry writes for each of the run's events.
func registryRun(ctx context.Context, tx *sqlx.Tx, run []events.Recorded) (bool, error) {
	switch run[0].Data.(type) {
	case events.PersonCreated:
		pr, err := newPersonRun(run)
		if err != nil {
			return true, err
		}
		return true, createPersons(ctx, tx, pr, run)
	case events.PersonDeletionRequested:
		pr, err := newPersonRun(run)
		if err != nil {
			return true, err
		}
		// A request that joins a running deletion only moves the person's version.
		starts := make([]int64, len(run))
		for i, r := range run {
			if r.Data.(events.PersonDeletionRequested).Joins == "" {
				starts[i] = 1
			}
		}
		src, args := rowsFrom(tx, textColumn("id", pr.ids), intColumn("seq", pr.seqs), timeColumn("t", pr.times),
			textColumn("d", pr.deletions), intColumn("starts", starts))
		return true, execSQL(ctx, tx, `UPDATE persons AS p SET updated_at = u.t, version = u.seq,
			state = CASE WHEN u.starts = 1 THEN 'deleting' ELSE p.state END,
			deletion_id = CASE WHEN u.starts = 1 THEN u.d ELSE p.deletion_id END
			FROM `+src+` WHERE p.person_id = u.id`, args...)
	case events.PermissionGroupsUnbound, events.PhotosPurged:
		lr := newListedRun(run)
		if err := lr.touch(ctx, tx); err != nil {
			return true, err
		}
		table := "permission_bindings"
		if _, ok := run[0].Data.(events.PhotosPurged); ok {
			table = "faces"
		}
		return true, lr.deleteFrom(ctx, tx, table)
	case events.FacesPurged:
		return true, newListedRun(run).touch(ctx, tx)
	case events.PersonDeletionFailed:
		pr, err := newPersonRun(run)
		if err != nil {
			return true, err
		}
		return true, pr.touch(ctx, tx)
	case events.PersonDeletionCancelled:
		pr, err := newPersonRun(run)
		if err != nil {
			return true, err
		}
		src, args := rowsFrom(tx, textColumn("id", pr.ids), intColumn("seq", pr.seqs), timeColumn("t", pr.times))
		return true, execSQL(ctx, tx, `UPDATE persons AS p SET state = 'active', deletion_id = '', updated_at = u.t, version = u.seq
			FROM `+src+` WHERE p.person_id = u.id`, args...)
	case events.DeletionBatchStarted, events.DeletionBatchCompleted:
		return true, nil // no registry change
	case events.PersonDeleted:
		pr, err := newPersonRun(run)
		if err != nil {
			return true, err
		}
		// Every row of the person: a replay relies on it to leave out what came before (ended.go).
		return true, pr.deleteFrom(ctx, tx, "memberships", "faces", "permission_bindings", "persons")
	}
	return false, nil
}

// deletionsRun applies a run to the deletion tables set-based; false: not a run it handles.
// Each case writes what applyDeletion writes for each of the run's events, and moves the
// requests' counters by the same amounts.
func deletionsRun(ctx context.Context, tx *sqlx.Tx, run []events.Recorded) (bool, error) {
	switch run[0].Data.(type) {
	case events.PersonDeletionRequested:
		pr, err := newPersonRun(run)
		if err != nil {
			return true, err
		}
		// A new request's items join their saga; an operator's retry (rare) runs the failed items
		// of its saga again.
		var started personRun
		var sagas []string
		for i, r := range run {
			e := r.Data.(events.PersonDeletionRequested)
			saga := cmp.Or(e.Joins, e.DeletionID)
			if e.ResumeAt != "" {
				if err := moveItems(ctx, tx, ItemFailed, ItemPending, `error_code = '', error_message = '', error_step = '', updated_at = ?`,
					[]any{r.Time}, `person_id = ? AND saga_id = ? AND error_code = ?`, e.PersonID, saga, domain.CodeStepFailed); err != nil {
					return true, err
				}
				continue
			}
			started.ids, started.deletions = append(started.ids, pr.ids[i]), append(started.deletions, pr.deletions[i])
			started.times, sagas = append(started.times, pr.times[i]), append(sagas, saga)
		}
		if len(sagas) == 0 {
			return true, nil
		}
		src, args := rowsFrom(tx, textColumn("d", started.deletions), textColumn("id", started.ids), textColumn("saga", sagas), timeColumn("t", started.times))
		return true, execSQL(ctx, tx, `UPDATE deletion_items AS i SET saga_id = u.saga, updated_at = u.t
			FROM `+src+` WHERE i.deletion_id = u.d AND i.person_id = u.id AND i.state = 'pending'`, args...)
	case events.PersonDeleted:
		pr, err := newPersonRun(run)
		if err != nil {
			return true, err
		}
		if err := pr.moveItems(ctx, tx, ItemPending, ItemDeleted, `updated_at = u.t`, nil); err != nil {
			return true, err
		}
		src, args := rowsFrom(tx, textColumn("id", pr.ids), textColumn("d", pr.deletions), timeColumn("t", pr.times), intColumn("seq", pr.seqs))
		// WHERE true: SQLite reads ON after a bare FROM as a join's.
		return true, execSQL(ctx, tx, `INSERT INTO deleted_persons (person_id, deletion_id, deleted_at, seq)
			SELECT u.id, u.d, u.t, u.seq FROM `+src+` WHERE true ON CONFLICT DO NOTHING`, args...)
	case events.PersonDeletionFailed:
		pr, err := newPersonRun(run)
		if err != nil {
			return true, err
		}
		codes, messages, steps := make([]string, len(run)), make([]string, len(run)), make([]string, len(run))
		for i, r := range run {
			e := r.Data.(events.PersonDeletionFailed)
			codes[i], messages[i], steps[i] = e.Code, e.Message, e.Step
		}
		return true, pr.moveItems(ctx, tx, ItemPending, ItemFailed, `error_code = u.code, error_message = u.message, error_step = u.step, updated_at = u.t`,
			nil, textColumn("code", codes), textColumn("message", messages), textColumn("step", steps))
	case events.PersonDeletionCancelled:
		pr, err := newPersonRun(run)
		if err != nil {
			return true, err
		}
		return true, pr.moveItems(ctx, tx, ItemPending, ItemCancelled, `error_code = ?, error_message = ?, updated_at = u.t`,
			[]any{domain.CodeCancelled, itemMessage(domain.CodeCancelled)})
	case events.PermissionGroupsUnbound, events.FacesPurged, events.PhotosPurged,
		events.DeletionBatchStarted, events.DeletionBatchCompleted:
		return true, nil // no deletion-table change
	}
	return false, nil
}

// createPersons writes what applyRegistry writes for each PersonCreated of the run: a
// re-created person starts clean, then its row, memberships, faces and bindings, a statement
// per table for the whole run.
func createPersons(ctx context.Context, tx *sqlx.Tx, pr personRun, run []events.Recorded) error {
	if err := pr.deleteFrom(ctx, tx, "memberships", "faces", "permission_bindings", "persons"); err != nil {
		return err
	}
	names, profiles := make([]string, len(run)), make([]string, len(run))
	var (
		member   [2][]string // person, group
		memberAt []time.Time
		face     [3][]string // face, person, photo key
		faceAt   []time.Time
		bound    [2][]string // person, permission group
		boundAt  []time.Time
	)
	for i, r := range run {
		e := r.Data.(events.PersonCreated)
		names[i], profiles[i] = string(e.Name), string(e.Profile)
		for _, g := range e.GroupIDs {
			member[0], member[1], memberAt = append(member[0], e.PersonID), append(member[1], g), append(memberAt, r.Time)
		}
		for _, f := range e.Faces {
			face[0], face[1], face[2] = append(face[0], f.FaceID), append(face[1], e.PersonID), append(face[2], f.PhotoKey)
			faceAt = append(faceAt, r.Time)
		}
		for _, g := range e.PermissionGroupIDs {
			bound[0], bound[1], boundAt = append(bound[0], e.PersonID), append(bound[1], g), append(boundAt, r.Time)
		}
	}
	src, args := rowsFrom(tx, textColumn("id", pr.ids), textColumn("name", names), textColumn("profile", profiles),
		timeColumn("t", pr.times), intColumn("seq", pr.seqs))
	// WHERE true: SQLite reads ON after a bare FROM as a join's.
	if err := execSQL(ctx, tx, `INSERT INTO persons (person_id, name_sealed, profile_sealed, state, deletion_id, created_at, updated_at, version)
		SELECT u.id, u.name, u.profile, 'active', '', u.t, u.t, u.seq FROM `+src+` WHERE true`, args...); err != nil {
		return err
	}
	if len(memberAt) > 0 {
		src, args := rowsFrom(tx, textColumn("id", member[0]), textColumn("g", member[1]), timeColumn("t", memberAt))
		if err := execSQL(ctx, tx, `INSERT INTO memberships (person_id, group_id, added_at)
			SELECT u.id, u.g, u.t FROM `+src+` WHERE true ON CONFLICT DO NOTHING`, args...); err != nil {
			return err
		}
	}
	if len(faceAt) > 0 {
		src, args := rowsFrom(tx, textColumn("f", face[0]), textColumn("id", face[1]), textColumn("k", face[2]), timeColumn("t", faceAt))
		if err := execSQL(ctx, tx, `INSERT INTO faces (face_id, person_id, photo_key, added_at)
			SELECT u.f, u.id, u.k, u.t FROM `+src+` WHERE true ON CONFLICT DO NOTHING`, args...); err != nil {
			return err
		}
	}
	if len(boundAt) > 0 {
		src, args := rowsFrom(tx, textColumn("id", bound[0]), textColumn("g", bound[1]), timeColumn("t", boundAt))
		if err := execSQL(ctx, tx, `INSERT INTO permission_bindings (person_id, permission_group_id, bound_at)
			SELECT u.id, u.g, u.t FROM `+src+` WHERE true ON CONFLICT DO NOTHING`, args...); err != nil {
			return err
		}
	}
	return nil
}
