package sqldb

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
	"modernc.org/sqlite"
)

// Restore replaces every page of the SQLite database conn is open on with the pages of the
// SQLite file at src, in one write transaction (SQLite's online backup, restoring): readers on
// other connections see the whole old database or the whole new one. conn must have no
// transaction open. In WAL mode the replaced pages stay in the write-ahead log until a
// checkpoint truncates it, which the caller does when they held personal data.
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
		b, err := r.NewRestore("file:" + src)
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
