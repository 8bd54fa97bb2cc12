// Package migrations embeds erasure's SQL schema for PostgreSQL and SQLite and applies it with
// goose. Each schema set (readmodel, keys, stores) has its own version table, because the sets
// live apart: the key store is never touched by a read-model rebuild.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed postgres sqlite
var files embed.FS

// Schema sets.
const (
	SetReadModel = "readmodel"
	SetKeys      = "keys"
	SetStores    = "stores"
)

// Apply brings db's schema set up to date. dialect is "postgres" or "sqlite".
func Apply(ctx context.Context, db *sql.DB, dialect, set string) error {
	dir, err := fs.Sub(files, dialect+"/"+set)
	if err != nil {
		return fmt.Errorf("migrations %s/%s: %w", dialect, set, err)
	}
	var opts []goose.ProviderOption
	gd := goose.DialectSQLite3
	if dialect == "postgres" {
		gd = goose.DialectPostgres
		// Several replicas may start at once; the session lock lets one migrate at a time.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID(set)))
		if err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(gd, db, dir, opts...)
	if err != nil {
		return fmt.Errorf("migrations %s/%s: %w", dialect, set, err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate %s/%s: %w", dialect, set, err)
	}
	return nil
}

func lockID(set string) int64 {
	id := int64(0x6572617375726500) // "erasure\0"
	for _, c := range set {
		id += int64(c)
	}
	return id
}
