package app

import (
	"context"
	"errors"
	"strings"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/keys"
	"github.com/erasure-dev/erasure/projections"
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
func (reg *Registry) FindPersons(ctx context.Context, f PersonFilter, offset, limit int) ([]Person, int, error) {
	active := projections.ActivePersonFilter{PersonID: f.PersonID, PermissionGroupIDs: f.PermissionGroupIDs}
	var ids []string
	total := 0
	if f.NameContains == "" {
		var err error
		if ids, total, err = reg.reads.ActivePersonIDs(ctx, active, offset, limit); err != nil {
			return nil, 0, err
		}
	} else {
		rows, err := reg.reads.ActivePersonRows(ctx, active)
		if err != nil {
			return nil, 0, err
		}
		needle := strings.ToLower(f.NameContains)
		for _, r := range rows {
			name, err := reg.keys.Open(ctx, r.PersonID, events.Sealed(r.NameSealed))
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
		p, err := reg.GetPerson(ctx, id)
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
