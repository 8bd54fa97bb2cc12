package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/sqldb"
)

// bulkLoad builds the fresh tables from the log up to target. Projectors that fold do so in
// memory; their rows go to writers that load them while the log is still being read (the audit
// trail in slices, the rest at the end). Secondary indexes are dropped for the load and built
// once at the end, which is cheaper than maintaining them row by row. Projectors that cannot
// fold apply batches as the runner would.
func (r *Runner) bulkLoad(ctx context.Context, cfg RebuildConfig, f *fresh, ps []Projector, ds []Description, target uint64) (uint64, error) {
	var (
		folds    []fold
		appliers []Projector
	)
	for _, p := range ps {
		if fp, ok := p.(folder); ok {
			folds = append(folds, fp.newFold())
		} else {
			appliers = append(appliers, p)
		}
	}
	start := time.Now()
	indexes, err := dropIndexes(ctx, cfg.Dialect, f.db, ps)
	if err != nil {
		return 0, err
	}
	// PostgreSQL loads on the server's side while the log is read and folded here; SQLite's one
	// connection loads inline.
	writers := 0
	if cfg.Dialect == sqldb.Postgres {
		writers = 2
	}
	w := newLoadWriter(ctx, f.db, cfg.Dialect, writers)
	// The log is read and decoded here while another goroutine folds: two cores' worth.
	var (
		n          uint64
		sinceFlush int
		batches    = make(chan []events.Recorded, 8)
		folded     = make(chan error, 1)
	)
	go func() {
		var err error
		for batch := range batches {
			if err != nil {
				continue // drain
			}
			err = foldBatch(ctx, f.db, folds, appliers, w, batch, &sinceFlush, cfg.FlushEvery)
		}
		if err == nil {
			for _, fd := range folds {
				if err = fd.flush(ctx, w, true); err != nil {
					break
				}
			}
		}
		folded <- err
	}()
	err = ReadLog(ctx, r.log, 1, target, cfg.BatchSize, func(batch []events.Recorded) error {
		n += uint64(len(batch))
		select {
		case batches <- slices.Clone(batch): // Follow reuses its slice
		case <-ctx.Done():
			return ctx.Err()
		}
		return w.err()
	})
	close(batches)
	err = errors.Join(err, <-folded)
	cfg.Logger.Debug("replay: log read and folded", "events", n, "seconds", time.Since(start).Seconds())
	if err = errors.Join(err, w.close()); err != nil {
		return n, err
	}
	cfg.Logger.Debug("replay: rows loaded", "seconds", time.Since(start).Seconds())
	defer func() { cfg.Logger.Debug("replay: indexes built", "seconds", time.Since(start).Seconds()) }()
	if err := createIndexes(ctx, f.db, indexes, max(1, writers)); err != nil {
		return n, err
	}
	return n, sqldb.InTx(ctx, f.db, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO checkpoints (name, seq) VALUES (?, ?)`), r.cfg.Name, int64(target)); err != nil {
			return fmt.Errorf("fresh checkpoint: %w", err)
		}
		if err := recountDeletions(ctx, tx); err != nil {
			return err
		}
		return writeVersions(ctx, tx, ds)
	})
}

// dropIndexes drops the secondary indexes of the projectors' tables in the fresh model and
// returns the statements that create them again. Projectors that apply event by event keep
// theirs: their statements look rows up.
func dropIndexes(ctx context.Context, dialect string, db *sqlx.DB, ps []Projector) ([]string, error) {
	var tables []string
	for _, p := range ps {
		if _, ok := p.(folder); !ok {
			continue
		}
		if d, ok := describe(p); ok {
			tables = append(tables, d.Tables...)
		}
	}
	if len(tables) == 0 {
		return nil, nil
	}
	var q string
	switch dialect {
	case sqldb.Postgres:
		q = `SELECT i.indexname AS name, i.indexdef AS def FROM pg_indexes i
			WHERE i.schemaname = current_schema() AND i.tablename IN (?)
			AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname AND c.connamespace = current_schema()::regnamespace)`
	default:
		q = `SELECT name, sql AS def FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN (?)`
	}
	q, args, err := sqlx.In(q, tables)
	if err != nil {
		return nil, err
	}
	var idx []struct {
		Name string `db:"name"`
		Def  string `db:"def"`
	}
	if err := db.SelectContext(ctx, &idx, db.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("list indexes: %w", err)
	}
	defs := make([]string, 0, len(idx))
	for _, i := range idx {
		if _, err := db.ExecContext(ctx, `DROP INDEX `+sqldb.QuoteIdent(i.Name)); err != nil {
			return nil, fmt.Errorf("drop index %s for the load: %w", i.Name, err)
		}
		defs = append(defs, i.Def)
	}
	return defs, nil
}

// createIndexes runs the index definitions, parallel at most n at a time.
func createIndexes(ctx context.Context, db *sqlx.DB, defs []string, n int) error {
	sem := make(chan struct{}, n)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, def := range defs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if _, err := db.ExecContext(ctx, def); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("create index after the load (%s): %w", def, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// loadWriter writes folded rows into the fresh model from background workers, each in one
// transaction of its own: COPY on PostgreSQL, multi-row INSERTs on SQLite. A table's rows always
// go to the same worker, in order. Without workers it writes inline.
type loadWriter struct {
	db      *sqlx.DB
	dialect string
	jobs    []chan loadJob
	wg      sync.WaitGroup
	mu      sync.Mutex
	errs    []error
}

type loadJob struct {
	table string
	cols  []string
	rows  [][]any
}

var _ rowWriter = (*loadWriter)(nil)

func newLoadWriter(ctx context.Context, db *sqlx.DB, dialect string, workers int) *loadWriter {
	w := &loadWriter{db: db, dialect: dialect}
	for range workers {
		jobs := make(chan loadJob, 4)
		w.jobs = append(w.jobs, jobs)
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			err := sqldb.InTx(ctx, db, func(tx *sqlx.Tx) error {
				for j := range jobs {
					if err := w.load(ctx, tx, j); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				w.fail(err)
				for range jobs { // drain, so that write never blocks
				}
			}
		}()
	}
	return w
}

func (w *loadWriter) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.errs = append(w.errs, err)
}

func (w *loadWriter) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return errors.Join(w.errs...)
}

func (w *loadWriter) write(ctx context.Context, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 {
		return w.err()
	}
	if len(w.jobs) == 0 {
		return sqldb.InTx(ctx, w.db, func(tx *sqlx.Tx) error { return w.load(ctx, tx, loadJob{table: table, cols: cols, rows: rows}) })
	}
	h := 0
	for _, c := range table {
		h += int(c)
	}
	select {
	case w.jobs[h%len(w.jobs)] <- loadJob{table: table, cols: cols, rows: rows}:
	case <-ctx.Done():
		return ctx.Err()
	}
	return w.err()
}

// close waits for every worker to commit.
func (w *loadWriter) close() error {
	for _, j := range w.jobs {
		close(j)
	}
	w.wg.Wait()
	return w.err()
}

func (w *loadWriter) load(ctx context.Context, tx *sqlx.Tx, j loadJob) error {
	if w.dialect != sqldb.Postgres {
		if err := insertRows(ctx, tx, j.table, j.cols, j.rows, ""); err != nil {
			return fmt.Errorf("replay into %s: %w", j.table, err)
		}
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, pq.CopyIn(j.table, j.cols...))
	if err != nil {
		return fmt.Errorf("copy into %s: %w", j.table, err)
	}
	defer stmt.Close()
	for _, row := range j.rows {
		if _, err := stmt.ExecContext(ctx, row...); err != nil {
			return fmt.Errorf("copy into %s: %w", j.table, err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return fmt.Errorf("copy into %s: %w", j.table, err)
	}
	return nil
}

// foldBatch folds one batch (or applies it, for projectors that cannot fold) and hands what the
// folds can write early (the audit trail) to the writers every so many events.
func foldBatch(ctx context.Context, db *sqlx.DB, folds []fold, appliers []Projector, w *loadWriter, batch []events.Recorded, sinceFlush *int, every int) error {
	for _, r := range batch {
		for _, fd := range folds {
			fd.add(r)
		}
	}
	if len(appliers) > 0 {
		if err := sqldb.InTx(ctx, db, func(tx *sqlx.Tx) error {
			for _, p := range appliers {
				if err := p.Apply(ctx, tx, batch); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return fmt.Errorf("replay at %d..%d: %w", batch[0].Seq, batch[len(batch)-1].Seq, err)
		}
	}
	if *sinceFlush += len(batch); *sinceFlush >= every {
		*sinceFlush = 0
		for _, fd := range folds {
			if err := fd.flush(ctx, w, false); err != nil {
				return err
			}
		}
	}
	return w.err()
}

// recountDeletions sets every request's item counters from its items, as the live projection
// keeps them item by item (moveItems).
func recountDeletions(ctx context.Context, tx *sqlx.Tx) error {
	_, err := tx.ExecContext(ctx, `UPDATE deletions SET
		pending = (SELECT COUNT(*) FROM deletion_items i WHERE i.deletion_id = deletions.deletion_id AND i.state = 'pending'),
		deleted = (SELECT COUNT(*) FROM deletion_items i WHERE i.deletion_id = deletions.deletion_id AND i.state = 'deleted'),
		failed = (SELECT COUNT(*) FROM deletion_items i WHERE i.deletion_id = deletions.deletion_id AND i.state = 'failed'),
		cancelled = (SELECT COUNT(*) FROM deletion_items i WHERE i.deletion_id = deletions.deletion_id AND i.state = 'cancelled')`)
	if err != nil {
		return fmt.Errorf("recount deletion items: %w", err)
	}
	return nil
}
