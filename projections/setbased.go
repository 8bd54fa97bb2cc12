package projections

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/erasure-dev/erasure/events"
)

// On PostgreSQL every statement is a round trip, so a projection that runs a few statements per
// event caps at a few thousand events a second. The deletion path appends its events in
// batches, so the log holds long runs of one type over distinct persons; such a run is applied
// with a handful of set-based statements (unnest of arrays) instead. Runs that could interact
// (the same person twice) and SQLite (in-process, no round trip) take the per-event path.

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

func setBased(tx *sqlx.Tx) bool { return tx.DriverName() == "postgres" }

// personRun holds the columns of a run of person events, as arrays for unnest.
type personRun struct {
	ids, deletions []string
	seqs           []int64
	times          []time.Time
}

func newPersonRun(run []events.Recorded, deletionOf func(any) string) personRun {
	pr := personRun{}
	for _, r := range run {
		pr.ids = append(pr.ids, r.AggregateID)
		pr.seqs = append(pr.seqs, int64(r.Seq))
		pr.times = append(pr.times, r.Time)
		pr.deletions = append(pr.deletions, deletionOf(r.Data))
	}
	return pr
}

func (pr personRun) touch(ctx context.Context, tx *sqlx.Tx) error {
	_, err := tx.ExecContext(ctx, `UPDATE persons p SET updated_at = u.t, version = u.seq
		FROM unnest($1::text[], $2::bigint[], $3::timestamptz[]) AS u(id, seq, t) WHERE p.person_id = u.id`,
		pq.Array(pr.ids), pq.Array(pr.seqs), pq.Array(pr.times))
	return err
}

func (pr personRun) deleteFrom(ctx context.Context, tx *sqlx.Tx, tables ...string) error {
	for _, t := range tables {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE person_id = ANY($1)`, pq.Array(pr.ids)); err != nil {
			return err
		}
	}
	return nil
}

// listedRun holds the persons a run of step events lists, as arrays for unnest: each with the
// event's time, and its sequence where the event is on the person's own subject (0: a batch's
// event, which leaves the person's version alone; see versionOwner).
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

func (lr listedRun) touch(ctx context.Context, tx *sqlx.Tx) error {
	if len(lr.ids) == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE persons p SET updated_at = u.t, version = CASE WHEN u.seq > 0 THEN u.seq ELSE p.version END
		FROM unnest($1::text[], $2::bigint[], $3::timestamptz[]) AS u(id, seq, t) WHERE p.person_id = u.id`,
		pq.Array(lr.ids), pq.Array(lr.seqs), pq.Array(lr.times))
	return err
}

func (lr listedRun) deleteFrom(ctx context.Context, tx *sqlx.Tx, table string) error {
	if len(lr.ids) == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE person_id = ANY($1)`, pq.Array(lr.ids))
	return err
}

// registryRun applies a run to the registry tables set-based; false: not a run it handles.
func registryRun(ctx context.Context, tx *sqlx.Tx, run []events.Recorded) (bool, error) {
	pr := newPersonRun(run, events.DeletionIDOf)
	switch run[0].Data.(type) {
	case events.PersonDeletionRequested:
		var starts personRun
		for i, r := range run {
			if r.Data.(events.PersonDeletionRequested).Joins == "" {
				starts.ids = append(starts.ids, pr.ids[i])
				starts.seqs = append(starts.seqs, pr.seqs[i])
				starts.times = append(starts.times, pr.times[i])
				starts.deletions = append(starts.deletions, pr.deletions[i])
			}
		}
		if err := pr.touch(ctx, tx); err != nil {
			return true, err
		}
		_, err := tx.ExecContext(ctx, `UPDATE persons p SET state = 'deleting', deletion_id = u.d
			FROM unnest($1::text[], $2::text[]) AS u(id, d) WHERE p.person_id = u.id`, pq.Array(starts.ids), pq.Array(starts.deletions))
		return true, err
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
		return true, pr.touch(ctx, tx)
	case events.DeletionBatchStarted, events.DeletionBatchCompleted:
		return true, nil // no registry change
	case events.PersonDeleted:
		return true, pr.deleteFrom(ctx, tx, "memberships", "faces", "permission_bindings", "persons")
	}
	return false, nil
}

// deletionsRun applies a run to the deletion tables set-based; false: not a run it handles.
func deletionsRun(ctx context.Context, tx *sqlx.Tx, run []events.Recorded) (bool, error) {
	switch run[0].Data.(type) {
	case events.PersonDeletionRequested:
		pr := newPersonRun(run, events.DeletionIDOf)
		sagas := make([]string, len(run))
		for i, r := range run {
			e := r.Data.(events.PersonDeletionRequested)
			if e.ResumeAt != "" {
				return false, nil // an operator's retry: rare, per event
			}
			sagas[i] = e.DeletionID
			if e.Joins != "" {
				sagas[i] = e.Joins
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE deletion_items i SET saga_id = u.saga, updated_at = u.t
			FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) AS u(d, id, saga, t)
			WHERE i.deletion_id = u.d AND i.person_id = u.id AND i.state = 'pending'`,
			pq.Array(pr.deletions), pq.Array(pr.ids), pq.Array(sagas), pq.Array(pr.times))
		return true, err
	case events.PersonDeleted:
		pr := newPersonRun(run, events.DeletionIDOf)
		if _, err := tx.ExecContext(ctx, `WITH moved AS (
				UPDATE deletion_items i SET state = 'deleted', updated_at = u.t
				FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS u(id, saga, t)
				WHERE i.person_id = u.id AND i.saga_id = u.saga AND i.state = 'pending'
				RETURNING i.deletion_id)
			UPDATE deletions d SET pending = d.pending - m.n, deleted = d.deleted + m.n
			FROM (SELECT deletion_id, COUNT(*) AS n FROM moved GROUP BY deletion_id) m WHERE d.deletion_id = m.deletion_id`,
			pq.Array(pr.ids), pq.Array(pr.deletions), pq.Array(pr.times)); err != nil {
			return true, err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO deleted_persons (person_id, deletion_id, deleted_at, seq)
			SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bigint[]) ON CONFLICT DO NOTHING`,
			pq.Array(pr.ids), pq.Array(pr.deletions), pq.Array(pr.times), pq.Array(pr.seqs))
		return true, err
	case events.PermissionGroupsUnbound, events.FacesPurged, events.PhotosPurged,
		events.DeletionBatchStarted, events.DeletionBatchCompleted:
		return true, nil // no deletion-table change
	}
	return false, nil
}
