package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/retry"
	"github.com/erasure-dev/erasure/internal/sqldb"
)

// Replay: a read model is rebuilt from the log into fresh tables while the live ones keep
// answering, then swapped in atomically. The fresh tables are written by the projectors the live
// runner uses (one piece of code per event type), a batch of the log per transaction, so a
// replay holds one batch in memory however long the log is, and cannot drift from the live
// model.
//
//   - PostgreSQL, every projection: the fresh tables are built in a schema of their own, then one
//     transaction renames the schemas. Every pool names the read model's schema in its
//     search_path, so the next statement of any replica sees the new tables.
//   - PostgreSQL, some projections: one transaction moves the live tables out of the schema and
//     the fresh ones in.
//   - SQLite, every projection, offline (erasure replay holds the data-directory lock): a fresh
//     file is built and renamed over readmodel.db.
//   - SQLite, every projection, beside a running server (a benchmark's replay; every
//     projection stale at start): the fresh file's pages are restored into readmodel.db in one
//     transaction (SQLite's online backup).
//   - SQLite, some projections beside a running server (a projection rebuilt at start): one
//     transaction replaces the live rows of those tables with the fresh ones.
//
// The swap holds the live checkpoint still: PostgreSQL locks its row (a replica's next batch
// waits, then finds the checkpoint moved and repositions); SQLite's write lock does the same
// for a copy of rows, and a restore keeps the live runner from applying anything (applyMu).
// Under that lock the fresh tables are brought to exactly the live checkpoint, so no replica's
// read-your-writes wait can ever be satisfied by a model that lacks the write.

// ErrUnknownProjection means a replay named a projection that does not exist.
var ErrUnknownProjection = errors.New("unknown projection")

// RebuildConfig configures a rebuild.
type RebuildConfig struct {
	Dialect     string // sqldb.SQLite or sqldb.Postgres
	DatabaseURL string // PostgreSQL: the database of the live read model
	Dir         string // SQLite: the directory of readmodel.db
	// Projections names the projections to rebuild; none: every one.
	Projections []string
	// Offline means nobody else uses the SQLite read model (erasure replay holds the
	// data-directory lock): a full rebuild then swaps the file, and closes the runner's database.
	Offline   bool
	BatchSize int // events per read from the log and per transaction, default 4096
	Logger    *slog.Logger
}

// liveFile is the live SQLite read model's file.
func (c RebuildConfig) liveFile() string { return filepath.Join(c.Dir, sqldb.ReadModelFile) }

// RebuildSummary is what a rebuild did.
type RebuildSummary struct {
	Projections []string `json:"projections"`
	Events      uint64   `json:"events"`
	Checkpoint  uint64   `json:"checkpoint"`
	Swap        string   `json:"swap"`
	Seconds     float64  `json:"seconds"`
	EventsPerS  float64  `json:"events_per_s"`
}

// Names returns the names of the runner's projections that can be rebuilt on their own.
func (r *Runner) Names() []string {
	var names []string
	for _, p := range r.projectors {
		if d, ok := describe(p); ok {
			names = append(names, d.Name)
		}
	}
	return names
}

// selected returns the projectors a rebuild of names covers and whether that is all of them.
func (r *Runner) selected(names []string) ([]Projector, []Description, bool, error) {
	if len(names) == 0 {
		var ds []Description
		for _, p := range r.projectors {
			if d, ok := describe(p); ok {
				ds = append(ds, d)
			}
		}
		return r.projectors, ds, true, nil
	}
	var (
		ps []Projector
		ds []Description
	)
	for _, p := range r.projectors {
		if d, ok := describe(p); ok && slices.Contains(names, d.Name) {
			ps, ds = append(ps, p), append(ds, d)
		}
	}
	for _, n := range names {
		if !slices.ContainsFunc(ds, func(d Description) bool { return d.Name == n }) {
			return nil, nil, false, fmt.Errorf("%w %q (known: %s)", ErrUnknownProjection, n, strings.Join(r.Names(), ", "))
		}
	}
	return ps, ds, len(ps) == len(r.projectors), nil
}

// fresh is a read model being built beside the live one.
type fresh struct {
	db     *sqlx.DB
	schema string // PostgreSQL
	path   string // SQLite
	runner *Runner
}

// Rebuild rebuilds the configured projections from the log into fresh tables and swaps them in.
func (r *Runner) Rebuild(ctx context.Context, cfg RebuildConfig) (RebuildSummary, error) {
	start := time.Now()
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 4096
	}
	if cfg.Logger == nil {
		cfg.Logger = r.cfg.Logger
	}
	ps, ds, full, err := r.selected(cfg.Projections)
	if err != nil {
		return RebuildSummary{}, err
	}
	sum := RebuildSummary{}
	for _, d := range ds {
		sum.Projections = append(sum.Projections, d.Name)
	}
	// The live checkpoint row must exist: the swap locks it.
	liveCP, err := r.Checkpoint(ctx)
	if err != nil {
		return sum, err
	}
	f, err := r.openFresh(ctx, cfg, ps)
	if err != nil {
		return sum, err
	}
	cfg.Logger.Debug("replay: fresh model opened", "seconds", time.Since(start).Seconds())
	defer f.discard(context.WithoutCancel(ctx), cfg)

	// A full rebuild that replaces the whole model goes to the end of the log; one that replaces
	// rows beside the live runner must meet it at the live checkpoint.
	target := liveCP
	if full && (cfg.Dialect == sqldb.Postgres || cfg.Offline) {
		if target, err = r.log.LastSequence(ctx); err != nil {
			return sum, err
		}
	}
	if err := writeVersions(ctx, f.db, ds); err != nil {
		return sum, err
	}
	restore, err := f.leaveOutEnded(ctx, cfg, ps, target)
	if err != nil {
		return sum, err
	}
	n, err := f.catchUp(ctx, target)
	if err != nil {
		return sum, err
	}
	if err := restore(ctx); err != nil {
		return sum, err
	}
	sum.Events += n
	cfg.Logger.Info("replay: fresh read model built", "projections", sum.Projections, "events", n, "checkpoint", target,
		"seconds", time.Since(start).Seconds())

	var caughtUp uint64
	switch {
	case cfg.Dialect == sqldb.Postgres && full:
		sum.Swap = "schema"
		caughtUp, sum.Checkpoint, err = r.swapSchema(ctx, cfg, f)
	case cfg.Dialect == sqldb.Postgres:
		sum.Swap = "tables"
		caughtUp, sum.Checkpoint, err = r.swapTables(ctx, cfg, f, ds)
	case full && cfg.Offline:
		sum.Swap = "file"
		caughtUp, sum.Checkpoint, err = r.swapFile(ctx, cfg, f)
	case full && samePageSize(ctx, r.db, f.db):
		sum.Swap = "restore"
		caughtUp, sum.Checkpoint, err = r.swapRestore(ctx, cfg, f)
	default:
		sum.Swap = "copy"
		caughtUp, sum.Checkpoint, err = r.swapRows(ctx, cfg, f, ps, ds)
	}
	sum.Events += caughtUp
	if err != nil {
		return sum, err
	}
	sum.Seconds = time.Since(start).Seconds()
	if sum.Seconds > 0 {
		sum.EventsPerS = float64(sum.Events) / sum.Seconds
	}
	cfg.Logger.Info("replay: swapped in", "projections", sum.Projections, "swap", sum.Swap, "events", sum.Events,
		"seconds", sum.Seconds, "events_per_s", int(sum.EventsPerS))
	return sum, nil
}

func (r *Runner) openFresh(ctx context.Context, cfg RebuildConfig, ps []Projector) (*fresh, error) {
	f := &fresh{}
	var err error
	switch cfg.Dialect {
	case sqldb.Postgres:
		var live string
		if err := r.db.GetContext(ctx, &live, `SELECT current_schema()`); err != nil {
			return nil, fmt.Errorf("live schema: %w", err)
		}
		f.schema = live + "_replay_" + events.NewID()[:12]
		f.db, err = sqldb.OpenFreshPostgres(ctx, cfg.DatabaseURL, f.schema)
		if err != nil {
			_ = sqldb.ExecPostgres(context.WithoutCancel(ctx), cfg.DatabaseURL, "DROP SCHEMA IF EXISTS "+sqldb.QuoteIdent(f.schema)+" CASCADE")
			return nil, err
		}
	case sqldb.SQLite:
		f.path = filepath.Join(cfg.Dir, freshPrefix+events.NewID()[:12]+".db")
		if f.db, err = sqldb.OpenFreshSQLite(ctx, f.path); err != nil {
			removeSQLite(f.path)
			return nil, err
		}
	default:
		return nil, fmt.Errorf("replay: unknown dialect %q", cfg.Dialect)
	}
	f.runner = NewRunner(f.db, r.log, RunnerConfig{Name: r.cfg.Name, BatchSize: cfg.BatchSize, Logger: cfg.Logger}, ps...)
	return f, nil
}

// leaveOutEnded makes the fresh tables catch up to target through a runner whose registry, if
// it is rebuilt (ps), leaves out what a person's later deletion removes again (ended); restore
// goes back to the runner of ps, which applies what follows in full, and drops endedTable
// before anything is swapped in. The live runner's projectors are never touched.
func (f *fresh) leaveOutEnded(ctx context.Context, cfg RebuildConfig, ps []Projector, target uint64) (restore func(context.Context) error, err error) {
	i := slices.IndexFunc(ps, func(p Projector) bool { _, ok := p.(Registry); return ok })
	if i < 0 {
		return func(context.Context) error { return nil }, nil
	}
	start := time.Now()
	e, n, err := markEnded(ctx, f.db, f.runner.log, target, cfg.BatchSize)
	if err != nil {
		return nil, err
	}
	cfg.Logger.Debug("replay: persons' deletions read", "deletions", n, "seconds", time.Since(start).Seconds())
	first := slices.Clone(ps)
	first[i] = Registry{ended: e}
	all := f.runner
	f.runner = NewRunner(f.db, all.log, all.cfg, first...)
	return func(ctx context.Context) error {
		f.runner = all
		return dropEnded(ctx, f.db)
	}, nil
}

func (f *fresh) close() {
	if f.db != nil {
		_ = f.db.Close()
		f.db = nil
	}
}

// discard removes a fresh model that was not swapped in.
func (f *fresh) discard(ctx context.Context, cfg RebuildConfig) {
	f.close()
	if f.schema != "" {
		if err := sqldb.ExecPostgres(ctx, cfg.DatabaseURL, "DROP SCHEMA IF EXISTS "+sqldb.QuoteIdent(f.schema)+" CASCADE"); err != nil {
			cfg.Logger.Warn("replay: drop unused schema", "schema", f.schema, "err", err)
		}
	}
	if f.path != "" {
		removeSQLite(f.path)
	}
}

// freshPrefix begins the name of every fresh SQLite file a rebuild builds in the data directory.
const freshPrefix = "readmodel.replay-"

// RemoveLeftoverRebuilds removes the fresh SQLite files of rebuilds that a crash interrupted
// under dir: each holds a copy of the read model, deleted persons' rows included until their
// deletion, which no later deletion would remove. The caller holds the data directory, so no
// rebuild is running.
func RemoveLeftoverRebuilds(dir string) error {
	leftovers, err := filepath.Glob(filepath.Join(dir, freshPrefix+"*"))
	if err != nil {
		return fmt.Errorf("leftover rebuilds: %w", err)
	}
	var errs []error
	for _, p := range leftovers {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func removeSQLite(path string) {
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		_ = os.Remove(p)
	}
}

// errStopReading ends ReadLog early without an error.
var errStopReading = errors.New("stop reading")

// ReadLog delivers the log's events from..to (inclusive) to fn in batches of at most max, in
// order, and returns once to is delivered. fn may end it early by returning errStopReading.
func ReadLog(ctx context.Context, log *eventlog.Store, from, to uint64, max int, fn func([]events.Recorded) error) error {
	if from == 0 {
		from = 1
	}
	if from > to {
		return nil
	}
	err := log.Follow(ctx, from, max, func(_ context.Context, batch []events.Recorded) error {
		if batch[len(batch)-1].Seq >= to {
			i, _ := slices.BinarySearchFunc(batch, to, func(r events.Recorded, seq uint64) int { return cmpSeq(r.Seq, seq) })
			if i < len(batch) && batch[i].Seq == to {
				i++
			}
			if i > 0 {
				if err := fn(batch[:i]); err != nil {
					return err
				}
			}
			return errStopReading
		}
		return fn(batch)
	})
	if errors.Is(err, errStopReading) {
		return nil
	}
	return err
}

func cmpSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// catchUp applies the log to the fresh model, through its own runner, up to to. The log is
// read and decoded on one goroutine while the batch before is applied on another: two cores'
// worth, with a few batches in memory at most.
func (f *fresh) catchUp(ctx context.Context, to uint64) (uint64, error) {
	cp, err := f.runner.Checkpoint(ctx)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		n       uint64
		batches = make(chan []events.Recorded, 2)
		applied = make(chan error, 1)
	)
	go func() {
		var err error
		for batch := range batches {
			if err == nil {
				if err = f.runner.applyBatch(ctx, cp, batch, func(last uint64) { cp = last }); err != nil {
					cancel() // stops the reader
				}
			}
		}
		applied <- err
	}()
	err = ReadLog(ctx, f.runner.log, cp+1, to, f.runner.cfg.BatchSize, func(batch []events.Recorded) error {
		n += uint64(len(batch))
		select {
		case batches <- slices.Clone(batch): // Follow reuses its slice
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(batches)
	if aerr := <-applied; aerr != nil {
		return n, aerr // the reader's error, if any, is the cancellation it caused
	}
	return n, err
}

// lockCheckpoint takes the live checkpoint row for the rest of tx and returns it.
func (r *Runner) lockCheckpoint(ctx context.Context, tx *sqlx.Tx) (uint64, error) {
	var cp int64
	if err := tx.GetContext(ctx, &cp, tx.Rebind(`SELECT seq FROM checkpoints WHERE name = ? FOR UPDATE`), r.cfg.Name); err != nil {
		return 0, fmt.Errorf("lock checkpoint %s: %w", r.cfg.Name, err)
	}
	return uint64(cp), nil
}

// preCatchUp brings the fresh model close to the live one before the swap's lock, so that the
// lock is held for a few events at most.
func (r *Runner) preCatchUp(ctx context.Context, f *fresh, full bool) (uint64, error) {
	to, err := r.Checkpoint(ctx)
	if err != nil {
		return 0, err
	}
	if full {
		if to, err = r.log.LastSequence(ctx); err != nil {
			return 0, err
		}
	}
	return f.catchUp(ctx, to)
}

func (r *Runner) swapSchema(ctx context.Context, cfg RebuildConfig, f *fresh) (uint64, uint64, error) {
	n, err := r.preCatchUp(ctx, f, true)
	if err != nil {
		return n, 0, err
	}
	var live string
	if err := r.db.GetContext(ctx, &live, `SELECT current_schema()`); err != nil {
		return n, 0, fmt.Errorf("live schema: %w", err)
	}
	old := live + "_old_" + events.NewID()[:12]
	err = sqldb.InTx(ctx, r.db, func(tx *sqlx.Tx) error {
		cp, err := r.lockCheckpoint(ctx, tx)
		if err != nil {
			return err
		}
		m, err := f.catchUp(ctx, cp)
		n += m
		if err != nil {
			return err
		}
		// A replica blocked on the old row finds it moved, rolls back and repositions on the new
		// schema instead of applying its batch to a mix of both.
		for _, q := range []string{
			`UPDATE checkpoints SET seq = -1 WHERE name = $1`,
			`ALTER SCHEMA ` + sqldb.QuoteIdent(live) + ` RENAME TO ` + sqldb.QuoteIdent(old),
			`ALTER SCHEMA ` + sqldb.QuoteIdent(f.schema) + ` RENAME TO ` + sqldb.QuoteIdent(live),
		} {
			args := []any{}
			if strings.Contains(q, "$1") {
				args = append(args, r.cfg.Name)
			}
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("swap schemas: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return n, 0, err
	}
	f.schema = "" // it is the live schema now
	if err := sqldb.ExecPostgres(context.WithoutCancel(ctx), cfg.DatabaseURL, "DROP SCHEMA "+sqldb.QuoteIdent(old)+" CASCADE"); err != nil {
		cfg.Logger.Warn("replay: drop the replaced schema", "schema", old, "err", err)
	}
	cp, err := r.Checkpoint(ctx)
	return n, cp, err
}

func (r *Runner) swapTables(ctx context.Context, cfg RebuildConfig, f *fresh, ds []Description) (uint64, uint64, error) {
	n, err := r.preCatchUp(ctx, f, false)
	if err != nil {
		return n, 0, err
	}
	var live string
	if err := r.db.GetContext(ctx, &live, `SELECT current_schema()`); err != nil {
		return n, 0, fmt.Errorf("live schema: %w", err)
	}
	old := live + "_old_" + events.NewID()[:12]
	if err := sqldb.ExecPostgres(ctx, cfg.DatabaseURL, "CREATE SCHEMA "+sqldb.QuoteIdent(old)); err != nil {
		return n, 0, fmt.Errorf("create schema %s: %w", old, err)
	}
	defer func() {
		if err := sqldb.ExecPostgres(context.WithoutCancel(ctx), cfg.DatabaseURL, "DROP SCHEMA "+sqldb.QuoteIdent(old)+" CASCADE"); err != nil {
			cfg.Logger.Warn("replay: drop the replaced tables", "schema", old, "err", err)
		}
	}()
	var cp uint64
	err = sqldb.InTx(ctx, r.db, func(tx *sqlx.Tx) error {
		cp, err = r.lockCheckpoint(ctx, tx)
		if err != nil {
			return err
		}
		m, err := f.catchUp(ctx, cp)
		n += m
		if err != nil {
			return err
		}
		if got, err := f.runner.Checkpoint(ctx); err != nil || got != cp {
			return fmt.Errorf("fresh tables at %d, live ones at %d: %w", got, cp, errors.Join(err, ErrCheckpointMoved))
		}
		for _, d := range ds {
			for _, t := range d.Tables {
				for _, q := range []string{
					`ALTER TABLE ` + sqldb.QuoteIdent(live) + `.` + sqldb.QuoteIdent(t) + ` SET SCHEMA ` + sqldb.QuoteIdent(old),
					`ALTER TABLE ` + sqldb.QuoteIdent(f.schema) + `.` + sqldb.QuoteIdent(t) + ` SET SCHEMA ` + sqldb.QuoteIdent(live),
				} {
					if _, err := tx.ExecContext(ctx, q); err != nil {
						return fmt.Errorf("swap table %s: %w", t, err)
					}
				}
			}
		}
		return writeVersions(ctx, tx, ds)
	})
	return n, cp, err
}

// swapFile renames the fresh SQLite file over the live one. Nobody else has it open (the caller
// holds the data-directory lock); the runner's own database is closed first.
func (r *Runner) swapFile(ctx context.Context, cfg RebuildConfig, f *fresh) (n, cp uint64, err error) {
	n, err = r.preCatchUp(ctx, f, true)
	if err != nil {
		return n, 0, err
	}
	if cp, err = f.runner.Checkpoint(ctx); err != nil {
		return n, 0, err
	}
	live := cfg.liveFile()
	if err := keepMigrationHistory(ctx, f.db, live); err != nil {
		return n, 0, err
	}
	// Durable before it is swapped in: the fresh file was built without fsync.
	for _, q := range []string{`PRAGMA synchronous = FULL`, `PRAGMA wal_checkpoint(TRUNCATE)`} {
		if _, err := f.db.ExecContext(ctx, q); err != nil {
			return n, 0, fmt.Errorf("sync fresh read model: %w", err)
		}
	}
	f.close()
	if err := syncFile(f.path); err != nil {
		return n, 0, err
	}
	if _, err := r.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return n, 0, fmt.Errorf("checkpoint live read model: %w", err)
	}
	if err := r.db.Close(); err != nil {
		return n, 0, fmt.Errorf("close live read model: %w", err)
	}
	// A write-ahead log left beside readmodel.db would be applied to the new file on open.
	for _, p := range []string{live + "-wal", live + "-shm", f.path + "-wal", f.path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return n, 0, fmt.Errorf("swap read model: %w", err)
		}
	}
	if err := os.Rename(f.path, live); err != nil {
		return n, 0, fmt.Errorf("swap read model: %w", err)
	}
	f.path = ""
	return n, cp, syncFile(cfg.Dir)
}

func syncFile(path string) error {
	fd, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	defer fd.Close()
	if err := fd.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return nil
}

// swapRestore replaces the live SQLite file's pages with the fresh file's, beside a running
// server: a full rebuild's every table, in one write transaction through a connection of the
// live runner's pool (sqldb.Restore). Copying the rows instead (swapRows) rebuilt each live
// table's B-trees row by row, with secure_delete clearing every page the old rows left: 4.5 s
// of a 100,000-person replay's 17 s.
//
// The live runner applies nothing meanwhile (applyMu): the fresh file, caught up to the live
// checkpoint, is the live model as of it. SQLite's read model has no other writer (one process
// holds the data directory).
func (r *Runner) swapRestore(ctx context.Context, cfg RebuildConfig, f *fresh) (n, cp uint64, err error) {
	if n, err = r.preCatchUp(ctx, f, false); err != nil {
		return n, 0, err
	}
	if cp, err = r.restoreHeld(ctx, cfg, f, &n); err != nil {
		return n, 0, err
	}
	// Committed, whatever ctx does now. The live file's old pages stay in it until the new ones
	// are copied over them; readers can hold that off, so it is retried for a while, beside the
	// live runner, which goes on meanwhile.
	truncate := retry.Policy{Initial: 50 * time.Millisecond, Max: time.Second, MaxElapsed: time.Minute}
	if err := retry.Do(context.WithoutCancel(ctx), truncate, func(ctx context.Context) error {
		return sqldb.TruncateWAL(ctx, r.cfg.Reads)
	}); err != nil {
		// The swap stands; the next checkpoint (after the next deletion's batch) finishes it.
		cfg.Logger.Error("replay: restored, but the read model's old pages are still in its file", "err", err)
	}
	return n, cp, nil
}

// restoreHeld catches the fresh file up to the live checkpoint and restores it into the live
// file, with the live runner held (applyMu), and returns that checkpoint.
func (r *Runner) restoreHeld(ctx context.Context, cfg RebuildConfig, f *fresh, n *uint64) (uint64, error) {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	conn, err := r.db.Connx(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var liveCP uint64
	if err := conn.GetContext(ctx, &liveCP, `SELECT seq FROM checkpoints WHERE name = ?`, r.cfg.Name); err != nil {
		return 0, fmt.Errorf("read live checkpoint: %w", err)
	}
	m, err := f.catchUp(ctx, liveCP)
	*n += m
	if err != nil {
		return 0, err
	}
	freshCP, err := f.runner.Checkpoint(ctx)
	if err != nil {
		return 0, err
	}
	if freshCP != liveCP {
		return 0, fmt.Errorf("fresh read model at %d, the live one at %d", freshCP, liveCP)
	}
	if err := keepMigrationHistory(ctx, f.db, cfg.liveFile()); err != nil {
		return 0, err
	}
	f.close() // quiescent before its pages are read
	if err := sqldb.Restore(ctx, conn, f.path); err != nil {
		return 0, fmt.Errorf("swap read model: %w", err)
	}
	return liveCP, nil
}

// keepMigrationHistory copies the live SQLite file's migration history (goose's table: which
// migration ran when) over the fresh file's, which was migrated a moment ago: a swap, by restore
// or by rename, replaces the read model's rows, not the record of how its schema came to be.
// (PostgreSQL's schema swap renames the fresh schema, history and all.)
func keepMigrationHistory(ctx context.Context, fresh *sqlx.DB, live string) error {
	conn, err := fresh.Connx(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS live`, "file:"+live+"?mode=ro"); err != nil {
		return fmt.Errorf("attach live read model: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `DETACH DATABASE live`) //nolint:errcheck // the connection closes next
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("keep the migration history: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	for _, q := range []string{`DELETE FROM main.goose_db_version`,
		`INSERT INTO main.goose_db_version (id, version_id, is_applied, tstamp)
			SELECT id, version_id, is_applied, tstamp FROM live.goose_db_version`} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("keep the migration history: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("keep the migration history: %w", err)
	}
	return nil
}

// samePageSize tells whether two SQLite databases have one page size, which a restore into a
// database in WAL mode needs (both are SQLite's default unless someone changed one).
func samePageSize(ctx context.Context, a, b *sqlx.DB) bool {
	var pa, pb int
	return a.GetContext(ctx, &pa, `PRAGMA page_size`) == nil && b.GetContext(ctx, &pb, `PRAGMA page_size`) == nil && pa == pb
}

// swapRows replaces the live rows of the rebuilt tables with the fresh ones in one transaction
// on the live SQLite file: for a partial rebuild beside a running server (or a full one whose
// fresh file's page size differs from the live one's, which a restore cannot take). The live
// file is attached to the fresh model's connection, whose write transaction then locks both: the
// live checkpoint holds still while the last events are applied to the fresh tables
// (unqualified names are the fresh file's) and the rows are copied over.
func (r *Runner) swapRows(ctx context.Context, cfg RebuildConfig, f *fresh, ps []Projector, ds []Description) (uint64, uint64, error) {
	n, err := r.preCatchUp(ctx, f, false)
	if err != nil {
		return n, 0, err
	}
	conn, err := f.db.Connx(ctx)
	if err != nil {
		return n, 0, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS live`, cfg.liveFile()); err != nil {
		return n, 0, fmt.Errorf("attach live read model: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `DETACH DATABASE live`) //nolint:errcheck // the connection is closed next
	// Rows deleted from the live file must not linger in its free pages.
	if _, err := conn.ExecContext(ctx, `PRAGMA live.secure_delete = ON`); err != nil {
		return n, 0, fmt.Errorf("attach live read model: %w", err)
	}
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return n, 0, fmt.Errorf("begin swap: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	var liveCP, freshCP int64
	if err := tx.GetContext(ctx, &liveCP, `SELECT seq FROM live.checkpoints WHERE name = ?`, r.cfg.Name); err != nil {
		return n, 0, fmt.Errorf("read live checkpoint: %w", err)
	}
	if err := tx.GetContext(ctx, &freshCP, `SELECT seq FROM main.checkpoints WHERE name = ?`, r.cfg.Name); err != nil {
		return n, 0, fmt.Errorf("read fresh checkpoint: %w", err)
	}
	if freshCP > liveCP {
		return n, 0, fmt.Errorf("fresh tables at %d, beyond the live ones at %d", freshCP, liveCP)
	}
	err = ReadLog(ctx, r.log, uint64(freshCP)+1, uint64(liveCP), cfg.BatchSize, func(batch []events.Recorded) error {
		n += uint64(len(batch))
		for _, p := range ps {
			if err := p.Apply(ctx, tx, batch); err != nil {
				return fmt.Errorf("replay at %d..%d: %w", batch[0].Seq, batch[len(batch)-1].Seq, err)
			}
		}
		return nil
	})
	if err != nil {
		return n, 0, err
	}
	for _, d := range ds {
		for _, t := range d.Tables {
			for _, q := range []string{`DELETE FROM live.` + t, `INSERT INTO live.` + t + ` SELECT * FROM main.` + t} {
				if _, err := tx.ExecContext(ctx, q); err != nil {
					return n, 0, fmt.Errorf("swap table %s: %w", t, err)
				}
			}
		}
	}
	for _, d := range ds {
		if _, err := tx.ExecContext(ctx, `INSERT INTO live.projection_versions (name, version) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET version = excluded.version`, d.Name, d.Version); err != nil {
			return n, 0, fmt.Errorf("write projection version %s: %w", d.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return n, 0, fmt.Errorf("commit swap: %w", err)
	}
	return n, uint64(liveCP), nil
}

// RebuildStale rebuilds the projections whose code version changed since their tables were
// built (see Stale), beside the live tables, and swaps them in. Among replicas sharing a
// PostgreSQL database one does it; the others keep applying the log to the live tables.
func (r *Runner) RebuildStale(ctx context.Context, cfg RebuildConfig, stale []string) error {
	if len(stale) == 0 {
		return nil
	}
	if cfg.Logger == nil {
		cfg.Logger = r.cfg.Logger
	}
	if cfg.Dialect == sqldb.Postgres {
		conn, err := r.db.Connx(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		var got bool
		if err := conn.GetContext(ctx, &got, `SELECT pg_try_advisory_lock($1)`, rebuildLockID); err != nil {
			return fmt.Errorf("rebuild lock: %w", err)
		}
		if !got {
			cfg.Logger.Info("another replica is rebuilding the stale projections", "projections", stale)
			return nil
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, rebuildLockID) //nolint:errcheck // released with the session anyway
		// Another replica may have finished the rebuild just before.
		if stale, err = r.Stale(ctx); err != nil || len(stale) == 0 {
			return err
		}
	}
	cfg.Projections, cfg.Offline = stale, false
	cfg.Logger.Info("rebuilding projections whose code changed", "projections", stale)
	_, err := r.Rebuild(ctx, cfg)
	return err
}

// rebuildLockID is the PostgreSQL advisory lock a start-time rebuild holds ("erasure" + 0x5250).
const rebuildLockID = int64(0x6572617375725250)
