package sqldb

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
	"modernc.org/sqlite"
)

// Restore replaces every page of the SQLite database conn is open on with the pages of the
// SQLite file at src, in one write transaction (SQLite's online backup, restoring): readers on
// other connections see the whole old database or the whole new one, and a crash before the
// commit leaves the old one. conn must have no transaction open, and both files the same page
// size. In WAL mode the new pages go to the write-ahead log, and the old ones stay in the
// database file until a checkpoint copies the new ones over them (TruncateWAL). The copy, once
// begun, runs to its end whatever ctx does: it is one transaction.
func Restore(ctx context.Context, conn *sqlx.Conn, src string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return conn.Raw(func(dc any) error {
		if c, ok := dc.(*countingConn); ok {
			dc = c.inner
		}
		r, ok := dc.(interface {
			NewRestore(srcURI string) (*sqlite.Backup, error)
		})
		if !ok {
			return fmt.Errorf("restore %s: %T is not a SQLite connection", src, dc)
		}
		// Read-only: SQLite would otherwise create a missing src, and restore its no pages as an
		// empty database over the live one.
		b, err := r.NewRestore("file:" + src + "?mode=ro")
		if err != nil {
			return fmt.Errorf("restore %s: %w", src, err)
		}
		_, err = b.Step(-1) // every page at once: one transaction, whatever the size
		if ferr := b.Finish(); err == nil {
			err = ferr
		}
		if err != nil {
			return fmt.Errorf("restore %s: %w", src, err)
		}
		return nil
	})
}
