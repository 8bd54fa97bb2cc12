package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/erasure-dev/erasure/config"
	"github.com/erasure-dev/erasure/internal/sqldb"
	"github.com/erasure-dev/erasure/projections"
	"github.com/erasure-dev/erasure/receipts"
)

// openAudit sets up the receipts' signing key and finds the projections whose code changed
// since their tables were built. It returns the worker that rebuilds those beside the live
// tables, or nil when none did.
func (s *Service) openAudit(ctx context.Context) (func(context.Context) error, error) {
	signer, err := receipts.LoadOrCreateSigner(s.cfg.DataDir, s.cfg.SigningKey)
	if err != nil {
		return nil, err
	}
	s.App.SetReceiptSigner(signer, s.cfg.Stream)
	stale, err := s.Projection.Stale(ctx)
	if err != nil || len(stale) == 0 {
		return nil, err
	}
	s.logger.Info("projections built by another version of their code; rebuilding them beside the live tables", "projections", stale)
	cfg := s.rebuildConfig()
	return func(ctx context.Context) error {
		if err := s.Projection.RebuildStale(ctx, cfg, stale); err != nil {
			return fmt.Errorf("rebuild %v: %w", stale, err)
		}
		<-ctx.Done() // done: the worker loop must not run it again
		return nil
	}, nil
}

// Rebuild rebuilds every read model from the log into fresh tables and swaps them in while the
// service runs: erasure replay's path, online (the benchmark's replay figure).
func (s *Service) Rebuild(ctx context.Context) (projections.RebuildSummary, error) {
	return s.Projection.Rebuild(ctx, s.rebuildConfig())
}

// ErrReadModelAhead means the read model's checkpoint is past the log's last event.
var ErrReadModelAhead = errors.New("the read model is ahead of the log")

// checkNotAhead refuses to start on a read model whose checkpoint is past the log's last event:
// it was built from another stream (a fresh embedded log beside a PostgreSQL database used
// before, a stream recreated), and following on from that checkpoint would silently skip this
// log's events up to it.
func (s *Service) checkNotAhead(ctx context.Context) error {
	cp, err := s.Projection.Checkpoint(ctx)
	if err != nil {
		return err
	}
	last, err := s.Log.LastSequence(ctx)
	if err != nil {
		// A guard, not a reason to stay down: the log may still be electing a leader.
		s.logger.Warn("cannot compare the read model's checkpoint with the log", "err", err)
		return nil
	}
	if cp <= last {
		return nil
	}
	return fmt.Errorf("%w: it has applied up to event %d, the log ends at %d; it was built from another stream: "+
		"point DATABASE_URL (or --data) at the read model of this log, or drop the read model and start again to rebuild it",
		ErrReadModelAhead, cp, last)
}

func (s *Service) rebuildConfig() projections.RebuildConfig {
	return projections.RebuildConfig{Dialect: s.DBs.Dialect, DatabaseURL: s.cfg.DatabaseURL, Dir: s.cfg.DataDir, Logger: s.logger}
}

// Replay rebuilds read models from the log into fresh tables and swaps them in (erasure replay),
// under the data-directory lock. names selects projections; none: all. With DATABASE_URL it works
// beside running replicas, which keep answering from the live tables until the swap.
func Replay(ctx context.Context, cfg config.Config, logger *slog.Logger, names []string) (projections.RebuildSummary, error) {
	if err := cfg.Validate(); err != nil {
		return projections.RebuildSummary{}, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return projections.RebuildSummary{}, fmt.Errorf("data directory: %w", err)
	}
	s := &Service{cfg: cfg, logger: logger}
	defer s.Close()
	var err error
	if s.unlock, err = lockData(cfg.DataDir); err != nil {
		return projections.RebuildSummary{}, err
	}
	if err := projections.RemoveLeftoverRebuilds(cfg.DataDir); err != nil {
		return projections.RebuildSummary{}, err
	}
	if err := s.openLog(ctx); err != nil {
		return projections.RebuildSummary{}, err
	}
	if cfg.DatabaseURL != "" {
		s.DBs, err = sqldb.OpenPostgres(ctx, cfg.DatabaseURL)
	} else {
		s.DBs, err = sqldb.OpenSQLite(cfg.DataDir)
	}
	if err != nil {
		return projections.RebuildSummary{}, err
	}
	if err := s.DBs.Migrate(ctx); err != nil {
		return projections.RebuildSummary{}, err
	}
	// The rebuild reads and writes through one pool, which a file swap closes before it renames
	// the fresh file over readmodel.db: no other connection may still hold the replaced file.
	if s.DBs.Projection != s.DBs.ReadModel {
		if err := s.DBs.ReadModel.Close(); err != nil {
			return projections.RebuildSummary{}, err
		}
		s.DBs.ReadModel = s.DBs.Projection
	}
	runner := projections.NewRunner(s.DBs.ReadModel, s.Log, projections.RunnerConfig{Logger: logger}, projections.All()...)
	rc := s.rebuildConfig()
	rc.Projections = names
	// Embedded mode: the lock keeps every server away from readmodel.db.
	rc.Offline = cfg.DatabaseURL == ""
	sum, err := runner.Rebuild(ctx, rc)
	if sum.Swap == "file" && err == nil {
		s.DBs.ReadModel, s.DBs.Projection = nil, nil // closed and replaced by the swap
	}
	// A swap that failed may not have closed the pool yet: s.Close does (closing twice is a
	// no-op).
	return sum, err
}
