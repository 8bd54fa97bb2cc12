package projections

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// Description names a projection, the version of its code and the tables it alone writes. A
// projection whose stored version differs from its code's is rebuilt from the log at start.
type Description struct {
	Name    string
	Version int
	Tables  []string
}

// Describer is implemented by projectors that a replay can rebuild on their own.
type Describer interface {
	Describe() Description
}

// Versions of the projectors' code. Bump one whenever its projector changes what it writes for
// some event (a new column, a fixed rule): every database then rebuilds that projection from
// the log at its next start, beside the live tables, and swaps it in.
const (
	RegistryVersion    = 1
	DeletionsVersion   = 3 // 2: deleted_groups; 3: actor and source of requests, actor of group deletions
	PermissionsVersion = 1
	AuditVersion       = 2 // 2: a batch's own entries are listed under the batch (audit_batches)
)

// Describe describes the registry projection.
func (Registry) Describe() Description {
	return Description{Name: "registry", Version: RegistryVersion,
		Tables: []string{"groups", "persons", "memberships", "faces", "permission_bindings"}}
}

// Describe describes the deletions projection.
func (Deletions) Describe() Description {
	return Description{Name: "deletions", Version: DeletionsVersion,
		Tables: []string{"deletions", "deletion_items", "deleted_persons", "deleted_groups"}}
}

// Describe describes the permissions projection.
func (Permissions) Describe() Description {
	return Description{Name: "permissions", Version: PermissionsVersion, Tables: []string{"permission_groups"}}
}

// Describe describes the audit projection.
func (Audit) Describe() Description {
	return Description{Name: "audit", Version: AuditVersion, Tables: []string{"audit_log", "audit_persons", "audit_batches"}}
}

func describe(p Projector) (Description, bool) {
	if d, ok := p.(Describer); ok {
		return d.Describe(), true
	}
	return Description{}, false
}

// storedVersions reads the versions the tables were built with.
func storedVersions(ctx context.Context, q sqlx.QueryerContext) (map[string]int, error) {
	var rows []struct {
		Name    string `db:"name"`
		Version int    `db:"version"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT name, version FROM projection_versions`); err != nil {
		return nil, fmt.Errorf("read projection versions: %w", err)
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.Name] = r.Version
	}
	return out, nil
}

// writeVersions records that the described projections' tables are built by the current code.
func writeVersions(ctx context.Context, e sqlx.ExtContext, ds []Description) error {
	for _, d := range ds {
		if _, err := e.ExecContext(ctx, e.Rebind(`INSERT INTO projection_versions (name, version) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET version = excluded.version`), d.Name, d.Version); err != nil {
			return fmt.Errorf("write projection version %s: %w", d.Name, err)
		}
	}
	return nil
}

// Stale returns the projections whose tables were built by another version of their code (or
// by none: a projection added since). A read model that has applied nothing yet is current by
// definition: its versions are recorded and nothing is stale.
func (r *Runner) Stale(ctx context.Context) ([]string, error) {
	cp, err := r.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	var ds []Description
	for _, p := range r.projectors {
		if d, ok := describe(p); ok {
			ds = append(ds, d)
		}
	}
	if cp == 0 {
		return nil, writeVersions(ctx, r.db, ds)
	}
	stored, err := storedVersions(ctx, r.db)
	if err != nil {
		return nil, err
	}
	var stale []string
	for _, d := range ds {
		if v, ok := stored[d.Name]; !ok || v != d.Version {
			stale = append(stale, d.Name)
		}
	}
	return stale, nil
}
