package sqldb

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/erasure-dev/erasure/migrations"
)

// ReadModelFile is the SQLite file of the read model under the data directory.
const ReadModelFile = "readmodel.db"

// OpenFreshPostgres creates an empty schema of the database at rawURL, migrates the read-model
// set into it and returns a pool whose search_path is that schema: a read model built beside the
// live one (erasure replay). The caller drops the schema or swaps it in.
func OpenFreshPostgres(ctx context.Context, rawURL, schema string) (*sqlx.DB, error) {
	if err := ExecPostgres(ctx, rawURL, "CREATE SCHEMA "+QuoteIdent(schema)); err != nil {
		return nil, fmt.Errorf("create schema %s: %w", schema, err)
	}
	// Its commits do not wait for the server to flush them: a crash leaves a schema that is
	// dropped, never one that was swapped in (OpenFreshSQLite skips fsync likewise). The swap
	// commits through a pool with the server's setting, and its flush of the server's
	// write-ahead log covers every commit before it.
	db, err := openSchema(rawURL, schema, map[string]string{"synchronous_commit": "off"})
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(4)
	if err := migrations.Apply(ctx, db.DB, Postgres, migrations.SetReadModel); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// ExecPostgres runs statements on a short-lived connection to the database at rawURL (no
// search_path of erasure's: schema-level work such as creating or dropping a schema).
func ExecPostgres(ctx context.Context, rawURL string, statements ...string) error {
	db, err := openCounted("postgres", rawURL)
	if err != nil {
		return fmt.Errorf("open DATABASE_URL: %w", err)
	}
	defer db.Close()
	for _, s := range statements {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// OpenFreshSQLite creates (or truncates) the SQLite file at path, migrates the read-model set
// into it and returns it with one connection. Building it skips fsync: a crash leaves a file
// that is thrown away, never one that was swapped in (the caller syncs before it swaps).
func OpenFreshSQLite(ctx context.Context, path string) (*sqlx.DB, error) {
	// 0600 before SQLite creates it (openSQLite): it is renamed over readmodel.db, mode and all.
	// A page cache of 64 MiB (the default is 2 MiB): a rebuild writes every table from empty and
	// would otherwise read back pages it wrote a moment ago, a system call each. The rollback
	// journal is kept in memory: a fresh file that fails half-way is discarded, never opened
	// again, so it needs no journal on disk, and each page is written once instead of to a
	// write-ahead log and again into the file (a third of a replay's time). It is synced before
	// it is swapped in (swapFile), and the live model's DSN puts it back in WAL mode.
	db, err := openSQLite(path, "journal_mode(MEMORY)", "cache_size(-65536)", "synchronous(OFF)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(time.Hour)
	if err := migrations.Apply(ctx, db.DB, SQLite, migrations.SetReadModel); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// QuoteIdent quotes a PostgreSQL identifier.
func QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
