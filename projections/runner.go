package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
)

// Projector applies events to its tables inside the runner's transaction.
type Projector interface {
	Apply(ctx context.Context, tx *sqlx.Tx, batch []events.Recorded) error
}

// ErrCheckpointMoved means another replica applied the batch first; the runner repositions.
var ErrCheckpointMoved = errors.New("projection checkpoint moved")

// defaultBatchSize is how many events the runner applies in one transaction by default (4,000
// measured no faster end to end).
const defaultBatchSize = 500

// RunnerConfig configures a Runner.
type RunnerConfig struct {
	Name      string // checkpoint name, default "readmodel"
	BatchSize int    // events per transaction at most, default defaultBatchSize
	Logger    *slog.Logger
	// Reads, when set, is the pool the checkpoint is read through (WaitFor's polls, lag and
	// backpressure figures), so that those reads do not queue for the one connection the
	// projection writes through on SQLite (sqldb.DBs.Projection). Default: the runner's db.
	Reads *sqlx.DB
	// AfterBatch runs after each committed batch (SQLite: truncate the write-ahead log once a
	// batch removed a deleted person's rows).
	AfterBatch func(ctx context.Context, batch []events.Recorded)
}

// Runner follows the log and keeps the read model's tables and checkpoint in step.
type Runner struct {
	cfg        RunnerConfig
	db         *sqlx.DB
	log        *eventlog.Store
	projectors []Projector
	labels     []pprof.LabelSet // the CPU profiler's "projector" label of each projector

	// applyMu is held while a batch is applied, and by a rebuild restoring the live file
	// (swapRestore), which must see no commit between reading the checkpoint and replacing it.
	applyMu sync.Mutex

	mu       sync.Mutex
	position uint64
	advanced chan struct{} // closed and replaced whenever position moves
}

// NewRunner returns a runner applying projectors to db.
func NewRunner(db *sqlx.DB, log *eventlog.Store, cfg RunnerConfig, projectors ...Projector) *Runner {
	if cfg.Name == "" {
		cfg.Name = "readmodel"
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = defaultBatchSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Reads == nil {
		cfg.Reads = db
	}
	labels := make([]pprof.LabelSet, len(projectors))
	for i, p := range projectors {
		labels[i] = pprof.Labels("projector", strings.TrimPrefix(fmt.Sprintf("%T", p), "projections."))
	}
	// A copy: a replay's fresh runner starts from the live runner's list.
	return &Runner{cfg: cfg, db: db, log: log, projectors: slices.Clone(projectors), labels: labels, advanced: make(chan struct{})}
}

// Run applies the log until ctx ends. It restarts following after transient errors.
func (r *Runner) Run(ctx context.Context) error {
	for {
		err := r.follow(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if !errors.Is(err, ErrCheckpointMoved) {
			r.cfg.Logger.Warn("projection interrupted; resuming", "projection", r.cfg.Name, "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
}

func (r *Runner) follow(ctx context.Context) error {
	cp, err := r.Checkpoint(ctx)
	if err != nil {
		return err
	}
	r.advance(cp)
	return r.log.Follow(ctx, cp+1, r.cfg.BatchSize, func(ctx context.Context, batch []events.Recorded) error {
		for {
			i := 0 // what another replica applied meanwhile is skipped
			for i < len(batch) && batch[i].Seq <= cp {
				i++
			}
			if i == len(batch) {
				return nil
			}
			err := r.applyBatch(ctx, cp, batch[i:], func(last uint64) { cp = last })
			if !errors.Is(err, ErrCheckpointMoved) {
				return err
			}
			// Another replica got there first. Going on with this consumer, skipping what it
			// applied, avoids a new consumer per lost race: replicas racing on every batch
			// would create them faster than the server expires them, up to its per-stream
			// limit (1,000 by default in nats-server 2.15). Far behind, or moved back (a
			// rebuild), follow again from the checkpoint.
			moved, err := r.Checkpoint(ctx)
			if err != nil {
				return err
			}
			if moved <= cp || moved > batch[len(batch)-1].Seq+uint64(16*r.cfg.BatchSize) {
				return ErrCheckpointMoved
			}
			cp = moved
			r.advance(moved)
		}
	})
}

func (r *Runner) applyBatch(ctx context.Context, from uint64, batch []events.Recorded, done func(uint64)) error {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	last := batch[len(batch)-1].Seq
	tx, err := r.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("projection %s: begin: %w", r.cfg.Name, err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	// The guard makes replicas sharing one database safe: only the one whose view of the
	// checkpoint is current commits the batch.
	res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE checkpoints SET seq = ? WHERE name = ? AND seq = ?`), last, r.cfg.Name, from)
	if err != nil {
		return fmt.Errorf("projection %s: checkpoint: %w", r.cfg.Name, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrCheckpointMoved
	}
	applyCtx := withStmtCache(ctx, tx)
	for i, p := range r.projectors {
		// Labelled so that a CPU profile shows what each projector costs.
		pprof.Do(applyCtx, r.labels[i], func(ctx context.Context) { err = p.Apply(ctx, tx, batch) })
		if err != nil {
			return fmt.Errorf("projection %s at %d..%d: %w", r.cfg.Name, batch[0].Seq, last, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("projection %s: commit: %w", r.cfg.Name, err)
	}
	done(last)
	r.advance(last)
	if r.cfg.AfterBatch != nil {
		r.cfg.AfterBatch(ctx, batch)
	}
	return nil
}

// Checkpoint returns the last applied stream sequence, creating the checkpoint row if needed.
func (r *Runner) Checkpoint(ctx context.Context) (uint64, error) {
	var seq uint64
	err := r.cfg.Reads.GetContext(ctx, &seq, r.db.Rebind(`SELECT seq FROM checkpoints WHERE name = ?`), r.cfg.Name)
	if errors.Is(err, sql.ErrNoRows) {
		_, err = r.db.ExecContext(ctx, r.db.Rebind(`INSERT INTO checkpoints (name, seq) VALUES (?, 0) ON CONFLICT (name) DO NOTHING`), r.cfg.Name)
		if err != nil {
			return 0, fmt.Errorf("create checkpoint %s: %w", r.cfg.Name, err)
		}
		return r.Checkpoint(ctx)
	}
	if err != nil {
		return 0, fmt.Errorf("read checkpoint %s: %w", r.cfg.Name, err)
	}
	return seq, nil
}

func (r *Runner) advance(seq uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if seq > r.position {
		r.position = seq
		close(r.advanced)
		r.advanced = make(chan struct{})
	}
}

// WaitFor blocks until the read model has applied the log up to seq: a write's answer waits
// for it so that the next read sees the write. Another replica may be the one applying, so
// besides the in-process signal it polls the checkpoint.
func (r *Runner) WaitFor(ctx context.Context, seq uint64) error {
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for {
		r.mu.Lock()
		pos, ch := r.position, r.advanced
		r.mu.Unlock()
		if pos >= seq {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for read model to reach %d (at %d): %w", seq, pos, ctx.Err())
		case <-ch:
		case <-poll.C:
			if cp, err := r.Checkpoint(ctx); err == nil {
				r.advance(cp)
			}
		}
	}
}

// Position returns the last sequence this process knows to be applied.
func (r *Runner) Position() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.position
}
