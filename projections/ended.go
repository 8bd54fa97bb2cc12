package projections

import (
	"context"
	"fmt"
	"slices"

	"github.com/jmoiron/sqlx"

	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/sqldb"
)

// endedTable holds, in a replay's fresh database and only while it catches up with the log,
// the sequence of each person's last PersonDeleted.
const endedTable = "replay_ended"

// ended is what a replay's registry leaves out: every event on a person's own subject up to
// the person's last PersonDeleted, that one included, up to upTo. PersonDeleted removes every
// row of the person the registry holds (persons, memberships, faces, bindings), and none of
// these events writes any other row, so the tables end the same without them; the deletion
// itself then has nothing left to remove. In a replay of a log of bulk deletions they were
// most of the registry's work: rows inserted to be deleted again. Events after upTo were not
// looked at and are all applied.
type ended struct {
	upTo uint64
}

// personDeleted is the registered name of PersonDeleted.
var personDeleted, _, _ = events.TypeOf(events.PersonDeleted{})

// markEnded fills endedTable in db, a replay's fresh database, from the types of the persons'
// events up to to, read without their data, batch at a time; it returns how many deletions it
// read.
func markEnded(ctx context.Context, db *sqlx.DB, log *eventlog.Store, to uint64, batch int) (*ended, int, error) {
	create := `CREATE TABLE ` + endedTable + ` (person_id TEXT PRIMARY KEY, seq BIGINT NOT NULL)`
	if db.DriverName() != sqldb.Postgres {
		create += ` WITHOUT ROWID`
	}
	if _, err := db.ExecContext(ctx, create); err != nil {
		return nil, 0, fmt.Errorf("create %s: %w", endedTable, err)
	}
	n := 0
	err := log.ReadTypes(ctx, events.AggregatePerson, to, batch, func(ts []eventlog.Typed) error {
		last := map[string]int64{} // one row per person a statement: a later deletion wins
		var ids []string
		for _, t := range ts {
			if t.Type != personDeleted {
				continue
			}
			if _, ok := last[t.AggregateID]; !ok {
				ids = append(ids, t.AggregateID)
			}
			last[t.AggregateID] = int64(t.Seq)
		}
		if len(ids) == 0 {
			return nil
		}
		seqs := make([]int64, len(ids))
		for i, id := range ids {
			seqs[i] = last[id]
		}
		n += len(ids)
		return sqldb.InTx(ctx, db, func(tx *sqlx.Tx) error {
			src, args := rowsFrom(tx, textColumn("id", ids), intColumn("seq", seqs))
			// WHERE true: SQLite reads ON after a bare FROM as a join's.
			return execSQL(ctx, tx, `INSERT INTO `+endedTable+` (person_id, seq) SELECT u.id, u.seq FROM `+src+` WHERE true
				ON CONFLICT (person_id) DO UPDATE SET seq = excluded.seq`, args...)
		})
	})
	if err != nil {
		return nil, 0, fmt.Errorf("persons' ends: %w", err)
	}
	return &ended{upTo: to}, n, nil
}

// dropEnded removes endedTable once the replay has applied every event up to its upTo.
func dropEnded(ctx context.Context, db *sqlx.DB) error {
	if _, err := db.ExecContext(ctx, `DROP TABLE IF EXISTS `+endedTable); err != nil {
		return fmt.Errorf("drop %s: %w", endedTable, err)
	}
	return nil
}

// leaveOut returns batch without the events of persons' own subjects up to their last
// PersonDeleted (a new slice: the batch is every projector's).
func (e *ended) leaveOut(ctx context.Context, tx *sqlx.Tx, batch []events.Recorded) ([]events.Recorded, error) {
	var ids []string
	seen := map[string]bool{}
	for _, r := range batch {
		if r.Seq <= e.upTo && onlyOfItsPerson(r) && !seen[r.AggregateID] {
			seen[r.AggregateID] = true
			ids = append(ids, r.AggregateID)
		}
	}
	if len(ids) == 0 {
		return batch, nil
	}
	in, list := inList(tx, ids)
	rows, err := querySQL(ctx, tx, `SELECT person_id, seq FROM `+endedTable+` WHERE person_id `+in, list)
	if err != nil {
		return nil, fmt.Errorf("read persons' ends: %w", err)
	}
	defer rows.Close()
	deletedAt := map[string]uint64{}
	for rows.Next() {
		var (
			id  string
			seq int64
		)
		if err := rows.Scan(&id, &seq); err != nil {
			return nil, fmt.Errorf("read persons' ends: %w", err)
		}
		deletedAt[id] = uint64(seq)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read persons' ends: %w", err)
	}
	if len(deletedAt) == 0 {
		return batch, nil
	}
	kept := make([]events.Recorded, 0, len(batch))
	for _, r := range batch {
		if r.Seq <= deletedAt[r.AggregateID] && onlyOfItsPerson(r) {
			continue
		}
		kept = append(kept, r)
	}
	return kept, nil
}

// onlyOfItsPerson tells an event on a person's own subject that names that person and no other,
// so that what the registry writes for it is the person's rows alone. Every such event is; the
// check keeps a future one that is not from being left out.
func onlyOfItsPerson(r events.Recorded) bool {
	if r.Aggregate != events.AggregatePerson {
		return false
	}
	if id, ok := events.PersonIDOf(r.Data); ok {
		return id == r.AggregateID
	}
	ids := events.PersonIDsOf(r.Data) // a step of the per-person path
	return len(ids) > 0 && !slices.ContainsFunc(ids, func(id string) bool { return id != r.AggregateID })
}
