package app

import (
	"context"
	"strings"
)

// Leftover is something still held of a deleted person.
type Leftover struct {
	PersonID string `json:"person_id"`
	Where    string `json:"where"`
}

// Verify scans the downstream stores, the read model and the key store for anything left of
// persons the log says were deleted (and that were not registered again since).
func (a *App) Verify(ctx context.Context) ([]Leftover, error) {
	ids, err := a.reads.DeletedPersons(ctx)
	if err != nil {
		return nil, err
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
		remnants, err := a.reads.Remnants(ctx, chunk)
		if err != nil {
			return nil, err
		}
		for _, r := range remnants {
			found = append(found, Leftover{PersonID: r.PersonID, Where: "read_model." + r.Table})
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
