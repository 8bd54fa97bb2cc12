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
	"os"
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
	// Projection is the read model's pool the projection writes through. On SQLite it is one
	// connection of its own: in WAL mode a connection drops its whole page cache whenever it
	// starts reading after another connection wrote or checkpointed, so a projection borrowing
	// whichever pooled connection a reader had used read its indexes back from the file at
	// every batch. Being the only writer (and truncating the log itself), this connection's
	// cache stays valid. On PostgreSQL it is ReadModel.
	Projection *sqlx.DB
	Keys       *sqlx.DB
	Stores     *sqlx.DB
}

// OpenSQLite opens (creating if needed) the embedded databases under dir.
func OpenSQLite(dir string) (*DBs, error) {
	open := func(name, synchronous string, more ...string) (*sqlx.DB, error) {
		path := filepath.Join(dir, name)
		db, err := openSQLite(path, append([]string{"journal_mode(WAL)", "synchronous(" + synchronous + ")", "cache_size(-16384)"}, more...)...)
		if err != nil {
			return nil, err
		}
		// Four idle connections, not database/sql's two: it closed every other connection a
		// burst opened as it was returned, and closing a SQLite connection frees its whole page
		// cache (a madvise a page) that the next open reads back from disk with the schema.
		// That churn was 3 % of a bulk deletion's CPU. Not eight: each idle connection may hold
		// up to its 16 MiB of cache, outside the Go heap (and GOMEMLIMIT).
		db.SetMaxOpenConns(8)
		db.SetMaxIdleConns(4)
		db.SetConnMaxIdleTime(time.Minute)
		if err := db.Ping(); err != nil {
			db.Close()
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		return db, nil
	}
	d := &DBs{Dialect: SQLite}
	var err error
	// The keys and the built-in stores sync every commit (FULL): a key destroyed or a face purged
	// is gone on disk before its step is recorded, power cut or not. The read model need not (NORMAL:
	// in WAL mode a power cut may lose its last commits, never its consistency): it is rebuilt
	// from the log, its checkpoint commits with its rows, and a lost tail is applied again at the
	// next start. A sync per projection commit cost a bulk deletion wall time and nothing else.
	if d.ReadModel, err = open(ReadModelFile, "NORMAL"); err != nil {
		return nil, err
	}
	// Its statement journals stay in memory (temp_store): a multi-row statement inside a
	// transaction saves the pages it changes so that it can be undone alone, and past 64 KiB
	// SQLite spilled them to a temporary file (a write system call a page, and a deleted
	// person's rows in a file outside the database). In memory they are unbounded, which suits
	// this pool alone: its statements apply a batch of a few hundred events, while a migration
	// or a rebuild's table copy (the other pools) may rewrite a whole table in one statement.
	if d.Projection, err = open(ReadModelFile, "NORMAL", "temp_store(MEMORY)"); err != nil {
		d.Close()
		return nil, err
	}
	d.Projection.SetMaxOpenConns(1)
	d.Projection.SetMaxIdleConns(1)
	d.Projection.SetConnMaxIdleTime(0) // kept: its cache is the point
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

// CreatePrivate creates the SQLite file at path with mode 0600 unless it exists, before SQLite
// opens it: SQLite would create it 0644 (less the umask), readable by every user who can enter
// the directory, and it gives the -wal and -shm files it creates beside it the main file's mode.
// An existing file keeps its mode (the server warns at start about a loose one).
func CreatePrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return f.Close()
}

// openSQLite opens the SQLite file at path, creating it 0600 if needed (CreatePrivate), with
// the pragmas every erasure database needs and the given ones, which differ between a live
// database and a fresh one being built. secure_delete overwrites freed pages, so a deleted
// person's rows do not linger in the file; _txlock=immediate takes the write lock at BEGIN,
// avoiding upgrade deadlocks. The busy timeout comes first, so the pragmas after it wait for a
// lock instead of failing.
func openSQLite(path string, pragmas ...string) (*sqlx.DB, error) {
	if err := CreatePrivate(path); err != nil {
		return nil, err
	}
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)"
	for _, p := range pragmas {
		dsn += "&_pragma=" + p
	}
	dsn += "&_pragma=secure_delete(ON)&_pragma=foreign_keys(ON)&_txlock=immediate"
	db, err := openCounted("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// openSchema opens a pool on the database at rawURL whose search_path is schema, so erasure's
// unqualified table names resolve in that schema, with the given session settings (lib/pq
// sends a connection string's unknown parameters as such).
func openSchema(rawURL, schema string, settings map[string]string) (*sqlx.DB, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	for k, v := range settings {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	db, err := openCounted("postgres", u.String())
	if err != nil {
		return nil, fmt.Errorf("open schema %s: %w", schema, err)
	}
	return db, nil
}

// OpenPostgres opens the three schemas of the database at rawURL, creating the schemas if needed.
func OpenPostgres(ctx context.Context, rawURL string) (*DBs, error) {
	base, err := openCounted("postgres", rawURL)
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
		db, err := openSchema(rawURL, schema, nil)
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(16)
		db.SetMaxIdleConns(8)
		return db, nil
	}
	d := &DBs{Dialect: Postgres}
	if d.ReadModel, err = open(SchemaReadModel); err != nil {
		return nil, err
	}
	d.Projection = d.ReadModel
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
	return d.CheckpointOf(ctx, d.ReadModel, d.Keys, d.Stores)
}

// CheckpointOf truncates the write-ahead logs of some of the databases: those a component just
// deleted rows from. A truncation waits for the database's readers and makes readers starting
// meanwhile wait (SQLite's busy handler sleeps 1 to 100 ms), so each is truncated by the one
// that deleted from it, not by everyone after every deletion.
func (d *DBs) CheckpointOf(ctx context.Context, dbs ...*sqlx.DB) error {
	if d.Dialect != SQLite {
		return nil
	}
	var errs []error
	for _, db := range dbs {
		if db == nil {
			continue
		}
		if err := TruncateWAL(ctx, db); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ErrCheckpointBusy means a truncating checkpoint gave up: a reader or a writer kept it from
// copying the whole write-ahead log into the database and emptying it. SQLite reports it as a
// result row, not as an error.
var ErrCheckpointBusy = errors.New("write-ahead log not truncated: the database was busy")

// TruncateWAL copies a SQLite database's write-ahead log into the database file and truncates it
// (PRAGMA wal_checkpoint(TRUNCATE)); ErrCheckpointBusy when readers or a writer kept it from
// finishing within the busy timeout.
func TruncateWAL(ctx context.Context, q sqlx.QueryerContext) error {
	var busy, frames, copied int64
	if err := q.QueryRowxContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &copied); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if busy != 0 {
		return fmt.Errorf("%w (%d of %d frames copied)", ErrCheckpointBusy, copied, frames)
	}
	return nil
}

// Close checkpoints (SQLite) and closes every database.
func (d *DBs) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errs := []error{d.Checkpoint(ctx)}
	for _, db := range []*sqlx.DB{d.Projection, d.ReadModel, d.Keys, d.Stores} {
		if db != nil { // Projection may be ReadModel: closing a pool twice is a no-op
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
