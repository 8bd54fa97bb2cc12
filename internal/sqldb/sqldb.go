// Package sqldb opens erasure's SQL databases: the read model, the key store and the built-in
// downstream stores. Embedded mode keeps each in its own SQLite file under the data directory;
// with DATABASE_URL they are three schemas of one PostgreSQL database, so the key store still
// lives apart from the read-model tables.
package sqldb

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"  // PostgreSQL driver
	_ "modernc.org/sqlite" // embedded SQLite driver

	"github.com/erasure-dev/erasure/migrations"
)

// Dialects.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
)

// PostgreSQL schemas of the three sets.
const (
	SchemaReadModel = "erasure_rm"
	SchemaKeys      = "erasure_keys"
	SchemaStores    = "erasure_stores"
)

// DBs are the three databases erasure keeps.
type DBs struct {
	Dialect   string
	ReadModel *sqlx.DB
	Keys      *sqlx.DB
	Stores    *sqlx.DB

	checkpointDue chan struct{} // CheckpointSoon's request to RunCheckpoints
}

// OpenSQLite opens (creating if needed) the embedded databases under dir.
func OpenSQLite(dir string) (*DBs, error) {
	open := func(name, synchronous string) (*sqlx.DB, error) {
		path := filepath.Join(dir, name)
		// secure_delete overwrites freed pages, so a deleted person's rows do not linger in the
		// file; _txlock=immediate takes the write lock at BEGIN, avoiding upgrade deadlocks; a
		// 16 MB page cache per connection keeps most of a 100,000-person model in memory
		// (the 2 MB default read them back with a pread each).
		dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
			"&_pragma=synchronous(" + synchronous + ")&_pragma=secure_delete(ON)&_pragma=foreign_keys(ON)" +
			"&_pragma=cache_size(-16384)&_txlock=immediate"
		db, err := sqlx.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		db.SetMaxOpenConns(8)
		db.SetConnMaxIdleTime(time.Minute)
		if err := db.Ping(); err != nil {
			db.Close()
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		return db, nil
	}
	d := &DBs{Dialect: SQLite, checkpointDue: make(chan struct{}, 1)}
	var err error
	// The read model is derived: its checkpoint commits with its rows, so a power loss that
	// drops its last transactions (NORMAL in WAL mode never corrupts) only re-applies them from
	// the log. A destroyed key or a purged store row must survive one: FULL syncs every commit.
	if d.ReadModel, err = open("readmodel.db", "NORMAL"); err != nil {
		return nil, err
	}
	if d.Keys, err = open("keys.db", "FULL"); err != nil {
		d.Close()
		return nil, err
	}
	if d.Stores, err = open("stores.db", "FULL"); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// OpenPostgres opens the three schemas of the database at rawURL, creating the schemas if needed.
func OpenPostgres(ctx context.Context, rawURL string) (*DBs, error) {
	base, err := sqlx.Open("postgres", rawURL)
	if err != nil {
		return nil, fmt.Errorf("open DATABASE_URL: %w", err)
	}
	defer base.Close()
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := base.PingContext(pingCtx); err != nil {
		return nil, fmt.Errorf("connect to DATABASE_URL: %w", err)
	}
	for _, s := range []string{SchemaReadModel, SchemaKeys, SchemaStores} {
		if _, err := base.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+s); err != nil && !isUniqueViolation(err) {
			return nil, fmt.Errorf("create schema %s: %w", s, err)
		}
	}
	open := func(schema string) (*sqlx.DB, error) {
		u, err := url.Parse(rawURL)
		if err != nil {
			return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		db, err := sqlx.Open("postgres", u.String())
		if err != nil {
			return nil, fmt.Errorf("open schema %s: %w", schema, err)
		}
		db.SetMaxOpenConns(16)
		db.SetMaxIdleConns(8)
		return db, nil
	}
	d := &DBs{Dialect: Postgres}
	if d.ReadModel, err = open(SchemaReadModel); err != nil {
		return nil, err
	}
	if d.Keys, err = open(SchemaKeys); err != nil {
		d.Close()
		return nil, err
	}
	if d.Stores, err = open(SchemaStores); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// isUniqueViolation: two replicas creating the same schema at once race in the catalog.
func isUniqueViolation(err error) bool {
	type coder interface{ SQLState() string }
	var c coder
	return errors.As(err, &c) && c.SQLState() == "23505"
}

// Migrate applies the embedded migrations to every set.
func (d *DBs) Migrate(ctx context.Context) error {
	for _, s := range []struct {
		db  *sqlx.DB
		set string
	}{{d.ReadModel, migrations.SetReadModel}, {d.Keys, migrations.SetKeys}, {d.Stores, migrations.SetStores}} {
		if err := migrations.Apply(ctx, s.db.DB, d.Dialect, s.set); err != nil {
			return err
		}
	}
	return nil
}

// Ping checks that every database answers.
func (d *DBs) Ping(ctx context.Context) error {
	for _, db := range []*sqlx.DB{d.ReadModel, d.Keys, d.Stores} {
		if err := db.PingContext(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Checkpoint truncates SQLite write-ahead logs, so deleted rows leave no copy in a -wal file.
func (d *DBs) Checkpoint(ctx context.Context) error {
	if d.Dialect != SQLite {
		return nil
	}
	var errs []error
	for _, db := range []*sqlx.DB{d.ReadModel, d.Keys, d.Stores} {
		if db == nil {
			continue
		}
		if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// CheckpointSoon asks RunCheckpoints to truncate the write-ahead logs: after a deletion, so the
// deleted rows' copies leave the -wal files within an interval (and at Close).
func (d *DBs) CheckpointSoon() {
	select {
	case d.checkpointDue <- struct{}{}:
	default: // one is already due
	}
}

// RunCheckpoints checkpoints when one is due, at most once per interval, until ctx ends.
// Truncating after every batch that deleted someone cost about 5% of a bulk deletion's CPU,
// and more in writes (each checkpoint rewrote the same hot pages into the files again).
func (d *DBs) RunCheckpoints(ctx context.Context, interval time.Duration) {
	if d.Dialect != SQLite {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.checkpointDue:
		}
		_ = d.Checkpoint(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// Close checkpoints (SQLite) and closes every database.
func (d *DBs) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errs := []error{d.Checkpoint(ctx)}
	for _, db := range []*sqlx.DB{d.ReadModel, d.Keys, d.Stores} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	return errors.Join(errs...)
}

// InTx runs fn in a transaction on db, committing when fn succeeds.
func InTx(ctx context.Context, db *sqlx.DB, fn func(*sqlx.Tx) error) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
