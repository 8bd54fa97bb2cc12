package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// ErrNotFound means the read model holds no row for what a query names: no such deletion,
// person, group, face or permission group (or not in the state asked for). The read side wraps
// it with what was asked; the application layer maps it to the sentinel its callers branch on.
var ErrNotFound = errors.New("not in the read model")

// Queries answers every read of the read models that the application layer makes: deletion
// requests and their items, the registry, permission groups, the targets' figures, the audit
// trail and what is left of deleted persons. The sagas' reads are PersonStates, GroupMembers,
// PermissionMembers and Progress; the tables are written by the projectors only.
//
// Every statement is written once for both dialects, bound through Rebind; the few that differ
// by dialect check DriverName.
type Queries struct{ DB *sqlx.DB }

// Ping reports whether the read model's database answers.
func (q Queries) Ping(ctx context.Context) error { return q.DB.PingContext(ctx) }

// get reads one row into dst; no row is ErrNotFound, wrapped with what.
func (q Queries) get(ctx context.Context, what string, dst any, query string, args ...any) error {
	err := q.DB.GetContext(ctx, dst, q.DB.Rebind(query), args...)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// selectIn reads the rows of query, whose one "IN (?)" takes list, into dst.
func (q Queries) selectIn(ctx context.Context, dst any, query string, args ...any) error {
	query, args, err := sqlx.In(query, args...)
	if err != nil {
		return err
	}
	return q.DB.SelectContext(ctx, dst, q.DB.Rebind(query), args...)
}
