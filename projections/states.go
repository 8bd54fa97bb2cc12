package projections

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/sagas"
)

// PersonStates answers the sagas' batch reads of persons from the read model.
type PersonStates struct {
	DB     *sqlx.DB
	Runner *Runner
}

var _ sagas.PersonStates = PersonStates{}

// WaitFor waits until the read model has applied seq.
func (p PersonStates) WaitFor(ctx context.Context, seq uint64) error {
	return p.Runner.WaitFor(ctx, seq)
}

// Persons returns the existing persons among ids (deleted or unknown ones are absent). Rows are
// scanned into locals rather than through sqlx's reflection: the dispatcher reads every person
// of a bulk here, and reflection was half of its reads' cost.
func (p PersonStates) Persons(ctx context.Context, ids []string, parts sagas.StateParts) (map[string]sagas.PersonState, error) {
	out := make(map[string]sagas.PersonState, len(ids))
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		err := p.queryIn(ctx, `SELECT person_id, state, deletion_id, version FROM persons WHERE person_id IN (?)`, chunk,
			func(rows *sql.Rows) error {
				var id, state, deletion string
				var version uint64
				if err := rows.Scan(&id, &state, &deletion, &version); err != nil {
					return err
				}
				out[id] = sagas.PersonState{Version: version, PersonSnapshot: domain.PersonSnapshot{
					Status: domain.PersonStatus(state), DeletionID: deletion}}
				return nil
			})
		if err != nil {
			return nil, err
		}
		for _, q := range []struct {
			part sagas.StateParts
			sql  string
			add  func(s *sagas.PersonState, v string)
		}{
			{sagas.WithGroups, `SELECT person_id, group_id AS v FROM memberships WHERE person_id IN (?) ORDER BY person_id, added_at, group_id`,
				func(s *sagas.PersonState, v string) { s.GroupIDs = append(s.GroupIDs, v) }},
			{sagas.WithPermissionGroups, `SELECT person_id, permission_group_id AS v FROM permission_bindings WHERE person_id IN (?) ORDER BY person_id, bound_at, permission_group_id`,
				func(s *sagas.PersonState, v string) { s.PermissionGroupIDs = append(s.PermissionGroupIDs, v) }},
		} {
			if parts&q.part == 0 {
				continue
			}
			err := p.queryIn(ctx, q.sql, chunk, func(rows *sql.Rows) error {
				var id, v string
				if err := rows.Scan(&id, &v); err != nil {
					return err
				}
				if s, ok := out[id]; ok {
					q.add(&s, v)
					out[id] = s
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		if parts&sagas.WithFaces == 0 {
			continue
		}
		err = p.queryIn(ctx, `SELECT person_id, face_id, photo_key FROM faces WHERE person_id IN (?) ORDER BY person_id, added_at, face_id`, chunk,
			func(rows *sql.Rows) error {
				var id string
				var f events.Face
				if err := rows.Scan(&id, &f.FaceID, &f.PhotoKey); err != nil {
					return err
				}
				if s, ok := out[id]; ok {
					s.Faces = append(s.Faces, f)
					out[id] = s
				}
				return nil
			})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// queryIn runs query with its IN (?) expanded to ids and hands each row to scan.
func (p PersonStates) queryIn(ctx context.Context, query string, ids []string, scan func(*sql.Rows) error) error {
	q, args, err := sqlx.In(query, ids)
	if err != nil {
		return err
	}
	rows, err := p.DB.QueryContext(ctx, p.DB.Rebind(q), args...)
	if err != nil {
		return fmt.Errorf("person states: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("person states: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("person states: %w", err)
	}
	return nil
}
