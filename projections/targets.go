package projections

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
)

// TargetOutcomes projects each external target's outcome for a person's deletion: pending once
// the built-in stores are purged, deleted when the target confirmed, failed with the last error
// after the retry budget, pending again on an operator's retry.
type TargetOutcomes struct{}

var _ Projector = TargetOutcomes{}

// TargetOutcomesVersion is the version of TargetOutcomes' code (see versions.go).
const TargetOutcomesVersion = 1

// Describe describes the target outcomes projection.
func (TargetOutcomes) Describe() Description {
	return Description{Name: "target_outcomes", Version: TargetOutcomesVersion, Tables: []string{"target_outcomes"}}
}

// Apply applies a batch of events. Only deletions with external targets write here, so the
// bulk path of a deployment without targets costs nothing but the type switch.
func (TargetOutcomes) Apply(ctx context.Context, tx *sqlx.Tx, batch []events.Recorded) error {
	for _, r := range batch {
		if err := applyTargetOutcome(ctx, tx, r); err != nil {
			return fmt.Errorf("%s at %d: %w", r.Type, r.Seq, err)
		}
	}
	return nil
}

func applyTargetOutcome(ctx context.Context, tx *sqlx.Tx, r events.Recorded) error {
	exec := func(query string, args ...any) error { return execSQL(ctx, tx, query, args...) }
	switch e := r.Data.(type) {
	case events.PhotosPurged:
		ids := events.PersonIDsOf(e)
		if len(ids) > 1 && len(e.Targets) > 0 {
			// A batch's persons: every person × target in one statement.
			q := `INSERT INTO target_outcomes (person_id, saga_id, target, state, updated_at)
				SELECT p.value, ?, t.value, 'pending', ? FROM json_each(?) AS p, json_each(?) AS t WHERE true ON CONFLICT DO NOTHING`
			persons, targets := any(jsonList(ids)), any(jsonList(e.Targets))
			if isPostgres(tx) {
				q = `INSERT INTO target_outcomes (person_id, saga_id, target, state, updated_at)
					SELECT p, ?::text, t, 'pending', ?::timestamptz FROM unnest(?::text[]) AS p, unnest(?::text[]) AS t ON CONFLICT DO NOTHING`
				persons, targets = pq.Array(ids), pq.Array(e.Targets)
			}
			return exec(q, e.DeletionID, r.Time, persons, targets)
		}
		for _, id := range ids {
			for _, t := range e.Targets {
				if err := exec(`INSERT INTO target_outcomes (person_id, saga_id, target, state, updated_at)
					VALUES (?, ?, ?, 'pending', ?) ON CONFLICT DO NOTHING`, id, e.DeletionID, t, r.Time); err != nil {
					return err
				}
			}
		}
	case events.PersonRemovedFromTargets:
		for _, t := range e.Targets {
			if err := exec(`UPDATE target_outcomes SET state = 'deleted', attempts = attempts + ?, last_error = '', updated_at = ?
				WHERE person_id = ? AND saga_id = ? AND target = ?`, max(e.Attempts, 1), r.Time, e.PersonID, e.DeletionID, t); err != nil {
				return err
			}
		}
	case events.PersonDeletionFailed:
		if e.Step != string(domain.StepDeleteFromTargets) {
			return nil
		}
		for _, t := range e.Targets {
			if err := exec(`UPDATE target_outcomes SET state = 'failed', attempts = attempts + ?, last_error = ?, updated_at = ?
				WHERE person_id = ? AND saga_id = ? AND target = ?`, max(e.Attempts, 1), e.Message, r.Time, e.PersonID, e.DeletionID, t); err != nil {
				return err
			}
		}
	case events.PersonDeletionRequested:
		if e.ResumeAt != string(domain.StepDeleteFromTargets) {
			return nil
		}
		return exec(`UPDATE target_outcomes SET state = 'pending', updated_at = ?
			WHERE person_id = ? AND saga_id = ? AND state = 'failed'`, r.Time, e.PersonID, e.DeletionID)
	}
	return nil
}

// TargetOutcome is one target's outcome for one person's deletion.
type TargetOutcome struct {
	PersonID  string `db:"person_id" json:"-"`
	SagaID    string `db:"saga_id" json:"-"`
	Target    string `db:"target" json:"target"`
	State     string `db:"state" json:"state"`
	Attempts  int    `db:"attempts" json:"attempts"`
	LastError string `db:"last_error" json:"last_error,omitempty"`
}

// TargetOutcomesOf returns the target outcomes of the persons' deletions, keyed by person id
// and saga id ("person\x00saga").
func TargetOutcomesOf(ctx context.Context, db *sqlx.DB, personIDs []string) (map[string][]TargetOutcome, error) {
	out := map[string][]TargetOutcome{}
	if len(personIDs) == 0 {
		return out, nil
	}
	q, args, err := sqlx.In(`SELECT person_id, saga_id, target, state, attempts, last_error FROM target_outcomes
		WHERE person_id IN (?) ORDER BY person_id, saga_id, target`, personIDs)
	if err != nil {
		return nil, err
	}
	var rows []TargetOutcome
	if err := sqlx.SelectContext(ctx, db, &rows, db.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("target outcomes: %w", err)
	}
	for _, r := range rows {
		k := r.PersonID + "\x00" + r.SagaID
		out[k] = append(out[k], r)
	}
	return out, nil
}
