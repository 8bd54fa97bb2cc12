package projections

import (
	"context"
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

// Persons returns the existing persons among ids (deleted or unknown ones are absent).
func (p PersonStates) Persons(ctx context.Context, ids []string, parts sagas.StateParts) (map[string]sagas.PersonState, error) {
	out := make(map[string]sagas.PersonState, len(ids))
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		var rows []struct {
			PersonID   string `db:"person_id"`
			State      string `db:"state"`
			DeletionID string `db:"deletion_id"`
			Version    uint64 `db:"version"`
		}
		if err := p.selectIn(ctx, &rows, `SELECT person_id, state, deletion_id, version FROM persons WHERE person_id IN (?)`, chunk); err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[r.PersonID] = sagas.PersonState{Version: r.Version, PersonSnapshot: domain.PersonSnapshot{
				Status: domain.PersonStatus(r.State), DeletionID: r.DeletionID}}
		}
		var pairs []struct {
			PersonID string `db:"person_id"`
			Value    string `db:"v"`
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
			pairs = pairs[:0]
			if err := p.selectIn(ctx, &pairs, q.sql, chunk); err != nil {
				return nil, err
			}
			for _, pr := range pairs {
				if s, ok := out[pr.PersonID]; ok {
					q.add(&s, pr.Value)
					out[pr.PersonID] = s
				}
			}
		}
		if parts&sagas.WithFaces == 0 {
			continue
		}
		var faces []struct {
			PersonID string `db:"person_id"`
			FaceID   string `db:"face_id"`
			PhotoKey string `db:"photo_key"`
		}
		if err := p.selectIn(ctx, &faces, `SELECT person_id, face_id, photo_key FROM faces WHERE person_id IN (?) ORDER BY person_id, added_at, face_id`, chunk); err != nil {
			return nil, err
		}
		for _, f := range faces {
			if s, ok := out[f.PersonID]; ok {
				s.Faces = append(s.Faces, events.Face{FaceID: f.FaceID, PhotoKey: f.PhotoKey})
				out[f.PersonID] = s
			}
		}
	}
	return out, nil
}

func (p PersonStates) selectIn(ctx context.Context, dst any, query string, ids []string) error {
	q, args, err := sqlx.In(query, ids)
	if err != nil {
		return err
	}
	if err := p.DB.SelectContext(ctx, dst, p.DB.Rebind(q), args...); err != nil {
		return fmt.Errorf("person states: %w", err)
	}
	return nil
}
