package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
)

// Leftover is something still held of a deleted person.
type Leftover struct {
	PersonID string `json:"person_id"`
	Where    string `json:"where"`
}

// Verify scans the downstream stores, the read model and the key store for anything left of
// persons the log says were deleted (and that were not registered again since).
func (a *App) Verify(ctx context.Context) ([]Leftover, error) {
	var ids []string
	if err := a.rm.SelectContext(ctx, &ids, `SELECT DISTINCT d.person_id FROM deleted_persons d
		WHERE NOT EXISTS (SELECT 1 FROM persons p WHERE p.person_id = d.person_id) ORDER BY d.person_id`); err != nil {
		return nil, fmt.Errorf("list deleted persons: %w", err)
	}
	var found []Leftover
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		left, err := a.stores.Leftovers(ctx, chunk)
		if err != nil {
			return nil, err
		}
		for _, l := range left { // "store:person"
			where, id, _ := strings.Cut(l, ":")
			found = append(found, Leftover{PersonID: id, Where: where})
		}
		for _, table := range []string{"memberships", "faces", "permission_bindings"} {
			q, args, err := sqlx.In(`SELECT DISTINCT person_id FROM `+table+` WHERE person_id IN (?)`, chunk)
			if err != nil {
				return nil, err
			}
			var rows []string
			if err := a.rm.SelectContext(ctx, &rows, a.rm.Rebind(q), args...); err != nil {
				return nil, fmt.Errorf("scan %s: %w", table, err)
			}
			for _, id := range rows {
				found = append(found, Leftover{PersonID: id, Where: "read_model." + table})
			}
		}
		for _, id := range chunk {
			has, err := a.keys.Has(ctx, id)
			if err != nil {
				return nil, err
			}
			if has {
				found = append(found, Leftover{PersonID: id, Where: "key_store"})
			}
		}
	}
	return found, nil
}
