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
	stmt, err := cachedStmt(ctx, tx, query)
	if err != nil {
		return err
	}
	if stmt == nil {
		_, err = tx.ExecContext(ctx, tx.Rebind(query), args...)
		return err
	}
	_, err = stmt.ExecContext(ctx, args...)
	return err
}

// querySQL is execSQL for a statement that returns rows; the caller closes them.
func querySQL(ctx context.Context, tx *sqlx.Tx, query string, args ...any) (*sqlx.Rows, error) {
	stmt, err := cachedStmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	if stmt == nil {
		return tx.QueryxContext(ctx, tx.Rebind(query), args...)
	}
	return stmt.QueryxContext(ctx, args...)
}

// cachedStmt returns the batch's prepared statement for query, preparing it on first use; nil
// when the runner set up no cache for tx. (Parsing the same statements again for every event
// took a sixth of the projection's time.)
func cachedStmt(ctx context.Context, tx *sqlx.Tx, query string) (*sqlx.Stmt, error) {
	c, ok := ctx.Value(stmtCacheKey{}).(*stmtCache)
	if !ok || c.tx != tx {
		return nil, nil
	}
	stmt, ok := c.stmts[query]
	if !ok {
		var err error
		if stmt, err = tx.PreparexContext(ctx, tx.Rebind(query)); err != nil {
			return nil, err
		}
		c.stmts[query] = stmt
	}
	return stmt, nil
}
