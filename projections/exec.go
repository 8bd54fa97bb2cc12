package projections

import (
	"context"

	"github.com/jmoiron/sqlx"
)

type stmtCacheKey struct{}

// stmtCache holds a batch transaction's prepared statements: a projection runs the same few
// statements thousands of times a batch, and preparing each once saves the parse (SQLite) or a
// round trip's worth of planning (PostgreSQL) on every event.
type stmtCache struct {
	tx    *sqlx.Tx
	stmts map[string]*sqlx.Stmt
}

func withStmtCache(ctx context.Context, tx *sqlx.Tx) context.Context {
	return context.WithValue(ctx, stmtCacheKey{}, &stmtCache{tx: tx, stmts: map[string]*sqlx.Stmt{}})
}

// execSQL runs query (with ? placeholders) in tx, through the batch's statement cache when the
// runner set one up. The statements close with the transaction.
func execSQL(ctx context.Context, tx *sqlx.Tx, query string, args ...any) error {
	c, ok := ctx.Value(stmtCacheKey{}).(*stmtCache)
	if !ok || c.tx != tx {
		_, err := tx.ExecContext(ctx, tx.Rebind(query), args...)
		return err
	}
	stmt, ok := c.stmts[query]
	if !ok {
		var err error
		if stmt, err = tx.PreparexContext(ctx, tx.Rebind(query)); err != nil {
			return err
		}
		c.stmts[query] = stmt
	}
	_, err := stmt.ExecContext(ctx, args...)
	return err
}
