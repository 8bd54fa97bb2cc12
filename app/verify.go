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

// leftoverScanner is the part of the downstream stores (Registrar) that Audit.Verify asks.
type leftoverScanner interface {
	// Leftovers lists what the stores still hold of the persons, as "store:person_id".
	Leftovers(ctx context.Context, personIDs []string) ([]string, error)
}

// Verify scans the downstream stores, the read model and the key store for anything left of
// persons the log says were deleted (and that were not registered again since).
func (au *Audit) Verify(ctx context.Context) ([]Leftover, error) {
	ids, err := au.reads.DeletedPersons(ctx)
	if err != nil {
		return nil, err
	}
	var found []Leftover
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		left, err := au.stores.Leftovers(ctx, chunk)
		if err != nil {
			return nil, err
		}
		for _, l := range left { // "store:person"
			where, id, _ := strings.Cut(l, ":")
			found = append(found, Leftover{PersonID: id, Where: where})
		}
		remnants, err := au.reads.Remnants(ctx, chunk)
		if err != nil {
			return nil, err
		}
		for _, r := range remnants {
			found = append(found, Leftover{PersonID: r.PersonID, Where: "read_model." + r.Table})
		}
		for _, id := range chunk {
			has, err := au.keys.Has(ctx, id)
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
