package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/keys"
)

// PersonFilter narrows a paged listing of active persons.
type PersonFilter struct {
	PersonID           string   // exactly this person
	NameContains       string   // name contains this text, case-insensitive
	PermissionGroupIDs []string // bound to at least one of these
}

// FindPersons returns one page (offset, limit) of the active persons matching f, in registration
// order, and how many match in all. Names are sealed in the read model, so a name filter opens
// every candidate's name: a scan, acceptable for the size of a Sophon edge library and the price
// of never keeping a name in clear.
func (a *App) FindPersons(ctx context.Context, f PersonFilter, offset, limit int) ([]Person, int, error) {
	where, args := []string{`p.state = 'active'`}, []any{}
	if f.PersonID != "" {
		where, args = append(where, `p.person_id = ?`), append(args, f.PersonID)
	}
	if len(f.PermissionGroupIDs) > 0 {
		where = append(where, `EXISTS (SELECT 1 FROM permission_bindings b WHERE b.person_id = p.person_id
			AND b.permission_group_id IN (?`+strings.Repeat(", ?", len(f.PermissionGroupIDs)-1)+`))`)
		for _, id := range f.PermissionGroupIDs {
			args = append(args, id)
		}
	}
	cond := strings.Join(where, " AND ")
	var ids []string
	total := 0
	if f.NameContains == "" {
		if err := a.rm.GetContext(ctx, &total, a.rm.Rebind(`SELECT COUNT(*) FROM persons p WHERE `+cond), args...); err != nil {
			return nil, 0, fmt.Errorf("count persons: %w", err)
		}
		if err := a.rm.SelectContext(ctx, &ids, a.rm.Rebind(`SELECT p.person_id FROM persons p WHERE `+cond+`
			ORDER BY p.created_at, p.person_id LIMIT ? OFFSET ?`), append(args, limit, offset)...); err != nil {
			return nil, 0, fmt.Errorf("list persons: %w", err)
		}
	} else {
		var rows []personRow
		if err := a.rm.SelectContext(ctx, &rows, a.rm.Rebind(`SELECT p.person_id, p.name_sealed, p.profile_sealed, p.state, p.deletion_id
			FROM persons p WHERE `+cond+` ORDER BY p.created_at, p.person_id`), args...); err != nil {
			return nil, 0, fmt.Errorf("list persons: %w", err)
		}
		needle := strings.ToLower(f.NameContains)
		for _, r := range rows {
			name, err := a.keys.Open(ctx, r.PersonID, events.Sealed(r.NameSealed))
			if errors.Is(err, keys.ErrShredded) {
				continue // deleted meanwhile
			}
			if err != nil {
				return nil, 0, err
			}
			if !strings.Contains(strings.ToLower(name), needle) {
				continue
			}
			if total >= offset && len(ids) < limit {
				ids = append(ids, r.PersonID)
			}
			total++
		}
	}
	persons := make([]Person, 0, len(ids))
	for _, id := range ids {
		p, err := a.GetPerson(ctx, id)
		if errors.Is(err, domain.ErrPersonNotFound) {
			continue // deleted between the two reads
		}
		if err != nil {
			return nil, 0, err
		}
		persons = append(persons, p)
	}
	return persons, total, nil
}
