// Package service wires erasure together: the event log (embedded or external JetStream), the
// SQL databases (embedded SQLite or PostgreSQL), the key store, the downstream stores, the
// projections and the HTTP front doors. cmd/erasure and the end-to-end tests both start it.
package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/config"
	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/natsembed"
	"github.com/erasure-dev/erasure/internal/sqldb"
	"github.com/erasure-dev/erasure/keys"
	"github.com/erasure-dev/erasure/metrics"
	"github.com/erasure-dev/erasure/projections"
	"github.com/erasure-dev/erasure/sagas"
	"github.com/erasure-dev/erasure/stores"
	"github.com/erasure-dev/erasure/targets"
	"github.com/erasure-dev/erasure/webhooks"
)

// Service is a running erasure instance without its HTTP listener.
type Service struct {
	cfg    config.Config
	logger *slog.Logger

	unlock     func()
	embedded   *natsembed.Server
	nc         *nats.Conn
	Log        *eventlog.Store
	DBs        *sqldb.DBs
	Keys       *keys.Store
	Stores     *stores.Builtin
	Projection *projections.Runner
	App        *app.App
	// Metrics is the registry /metrics serves; webhooks and other workers report into it.
	Metrics  *metrics.Metrics
	observer *eventObserver
	// Webhooks is the webhook dispatcher (webhooks.go), run as the "webhooks" worker.
	Webhooks *webhooks.Service
	// signatures is the Tencent surface's signature ledger, shared by the replicas (signatures.go).
	signatures signatureLedger

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Option adjusts a service for tests and embedders.
type Option func(*options)

type options struct {
	readOnly bool
	without  []string
	target   func(*stores.Builtin) sagas.Stores
	retry    sagas.Retry
	ackWait  time.Duration
	// targetRetry bounds the external targets' retries (tests shorten it).
	targetRetry sagas.Retry
}

// Without skips the named background workers ("deletion-dispatcher", "person-deletion-saga",
// ...): for tests that hold a pipeline stage, or replicas that only take requests.
func Without(workers ...string) Option {
	return func(o *options) { o.without = append(o.without, workers...) }
}

// ReadOnly runs only the projection: for commands that inspect the stores (verify) and must
// not start sagas.
func ReadOnly() Option { return func(o *options) { o.readOnly = true } }

// WithAckWait sets how long a saga step may stay unacknowledged before it is redelivered.
func WithAckWait(d time.Duration) Option { return func(o *options) { o.ackWait = d } }

// WithTarget replaces the saga's downstream target, e.g. with one that fails on purpose.
func WithTarget(f func(*stores.Builtin) sagas.Stores) Option {
	return func(o *options) { o.target = f }
}

// WithRetry sets the saga's retry budget.
func WithRetry(r sagas.Retry) Option { return func(o *options) { o.retry = r } }

// WithTargetRetry sets the external targets' retry budget.
func WithTargetRetry(r sagas.Retry) Option { return func(o *options) { o.targetRetry = r } }

// Open starts everything but the HTTP listener. The stores are migrated; the projection, the
// sagas and the dispatcher run.
func Open(ctx context.Context, cfg config.Config, logger *slog.Logger, opts ...Option) (_ *Service, err error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// s is not the named result: `return nil, err` would nil it before the deferred Close.
	s := &Service{cfg: cfg, logger: logger, Metrics: metrics.New()}
	s.observer = newEventObserver(s.Metrics, logger)
	s.observer.createdAt = func(ctx context.Context, id string) (time.Time, error) {
		d, err := s.App.GetDeletion(ctx, id)
		return d.CreatedAt, err
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	var remotes []sagas.Target
	var remoteSpecs []targets.Spec
	if cfg.TargetsFile != "" {
		// Before anything opens: a wrong file stops the start with its reason.
		if remotes, remoteSpecs, err = targets.Load(cfg.TargetsFile, os.Getenv); err != nil {
			return nil, err
		}
		remotes = observeRemotes(remotes, s.Metrics)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	warnLooseDataDir(logger, cfg.DataDir, cfg.Photos())
	if s.unlock, err = lockData(cfg.DataDir); err != nil {
		return nil, err
	}
	if err := projections.RemoveLeftoverRebuilds(cfg.DataDir); err != nil {
		return nil, err
	}
	if err := s.openLog(ctx); err != nil {
		return nil, err
	}
	if cfg.DatabaseURL != "" {
		s.DBs, err = sqldb.OpenPostgres(ctx, cfg.DatabaseURL)
	} else {
		s.DBs, err = sqldb.OpenSQLite(cfg.DataDir)
	}
	if err != nil {
		return nil, err
	}
	if err := s.DBs.Migrate(ctx); err != nil {
		return nil, err
	}
	master, err := keys.LoadOrCreateMasterKey(cfg.DataDir, cfg.MasterKey)
	if err != nil {
		return nil, err
	}
	if s.Keys, err = keys.New(s.DBs.Keys, master); err != nil {
		return nil, err
	}
	if s.Stores, err = stores.NewBuiltin(s.DBs.Stores, cfg.Photos()); err != nil {
		return nil, err
	}
	s.Projection = projections.NewRunner(s.DBs.Projection, s.Log, projections.RunnerConfig{Logger: logger, Reads: s.DBs.ReadModel, AfterBatch: s.afterProjection},
		projections.All()...)
	s.Metrics.SetProjectionLag(projectionLag(s.Log, s.Projection))
	s.Metrics.SetDeletionBacklog(deletionBacklog(s.DBs.ReadModel))
	s.App = app.New(s.Log, s.DBs.ReadModel, s.Keys, s.Stores, s.Projection, logger)
	s.App.SetCatchingUp(true)
	s.App.SetBackpressure(app.Backpressure{MaxPendingItems: cfg.MaxPending})
	s.App.SetTargets(targetInfos(remoteSpecs))
	if err := s.openWebhooks(); err != nil {
		return nil, err
	}
	rebuildStale, err := s.openAudit(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.checkNotAhead(ctx); err != nil {
		return nil, err
	}

	var target sagas.Stores = s.Stores
	if o.target != nil {
		target = o.target(s.Stores)
	}
	states := projections.PersonStates{DB: s.DBs.ReadModel, Runner: s.Projection}
	progress := projections.Progress{DB: s.DBs.ReadModel}
	observeStep := func(step domain.Step, took time.Duration, err error) { s.Metrics.SagaStep(string(step), took, err) }
	saga := sagas.NewPersonDeletionSaga(s.Log, target, s.Keys, sagas.PersonDeletionConfig{
		Retry: o.retry, Logger: logger, AckWait: cmp.Or(o.ackWait, cfg.SagaAckWait), ObserveStep: observeStep,
		AfterDeletions: func(ctx context.Context) { _ = s.DBs.CheckpointOf(ctx, s.DBs.Keys, s.DBs.Stores) },
		States:         states,
		Cancellations:  progress,
		Targets:        remotes,
		TargetRetry:    o.targetRetry,
	})
	batchSaga := sagas.NewBatchDeletionSaga(s.Log, target, s.Keys, sagas.PersonDeletionConfig{
		Retry: o.retry, Logger: logger, AckWait: cmp.Or(o.ackWait, cfg.SagaAckWait), ObserveStep: observeStep,
		AfterDeletions: func(ctx context.Context) { _ = s.DBs.CheckpointOf(ctx, s.DBs.Keys, s.DBs.Stores) },
		Cancellations:  progress,
	})
	dispatcher := sagas.NewDeletionDispatcher(s.Log, logger)
	// External targets confirm person by person (per-target outcomes): those deletions keep the
	// per-person steps until target confirmations are batch events too.
	dispatcher.Batches = len(remotes) == 0
	dispatcher.States = states
	dispatcher.Pace = progress
	dispatcher.Cancellations = progress
	// A request half dispatched when its replica died comes back as soon as a saga step would.
	dispatcher.AckWait = cmp.Or(o.ackWait, cfg.SagaAckWait)
	completer := sagas.NewDeletionCompleter(s.Log, progress, logger)
	permissionDeletion := sagas.NewPermissionDeletionSaga(s.Log, s.Stores,
		projections.PermissionMembers{DB: s.DBs.ReadModel, Runner: s.Projection}, sagas.PermissionDeletionConfig{Logger: logger})

	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	groupDeletion := sagas.NewGroupDeletionSaga(s.Log, projections.GroupMembers{DB: s.DBs.ReadModel, Runner: s.Projection},
		sagas.GroupDeletionConfig{Logger: logger})
	workers := map[string]func(context.Context) error{
		"projection":           s.Projection.Run,
		"person-deletion-saga": saga.Run,
		"batch-deletion-saga":  batchSaga.Run,
		"deletion-dispatcher":  dispatcher.Run,
		"deletion-completer":   completer.Run,
		"permission-deletion":  permissionDeletion.Run,
		"group-deletion":       groupDeletion.Run,
		"webhooks":             s.Webhooks.Run,
	}
	if o.readOnly {
		workers = map[string]func(context.Context) error{"projection": s.Projection.Run}
	}
	for _, name := range o.without {
		delete(workers, name)
	}
	if rebuildStale != nil {
		workers["projection-rebuild"] = rebuildStale
	}
	for name, run := range workers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			// Labelled for the CPU profiler (bench --cpuprofile): the goroutines a worker starts
			// inherit the label, so a profile shows what each worker costs.
			pprof.Do(runCtx, pprof.Labels("worker", name), func(ctx context.Context) {
				for ctx.Err() == nil {
					if err := run(ctx); err != nil && ctx.Err() == nil {
						logger.Error("background worker stopped; restarting", "worker", name, "err", err)
					}
					select {
					case <-ctx.Done():
					case <-time.After(time.Second):
					}
				}
			})
		}()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.WaitCaughtUp(runCtx); err == nil {
			s.App.SetCatchingUp(false)
			logger.Info("read model caught up with the log", "seq", s.Projection.Position())
		}
	}()
	return s, nil
}

// WaitCaughtUp waits until the read model has applied the log as it stood when called: after a
// start or a rebuild, reads are complete from then on.
func (s *Service) WaitCaughtUp(ctx context.Context) error {
	last, err := s.Log.LastSequence(ctx)
	if err != nil {
		return err
	}
	if err := s.Projection.WaitFor(ctx, last); err != nil {
		return err
	}
	// Whoever sees the read model caught up marks it so: a caller (a test, a command) that
	// waited here must find /readyz ready, not race the start goroutine that also waits.
	s.App.SetCatchingUp(false)
	return nil
}

func (s *Service) openLog(ctx context.Context) error {
	replicas := s.cfg.StreamReplicas
	if s.cfg.NATSURL != "" {
		nc, err := nats.Connect(s.cfg.NATSURL, nats.Name("erasure"), nats.MaxReconnects(-1))
		if err != nil {
			return fmt.Errorf("connect to NATS_URL: %w", err)
		}
		s.nc = nc
		if replicas == 0 {
			replicas = min(3, max(1, len(nc.Servers())))
		}
		if v := nc.ConnectedServerVersion(); !serverAtLeast(v, 2, 12) {
			s.logger.Warn("nats-server older than 2.12: running in compatibility mode (no atomic batches); production needs 2.12+ with sync_interval: always",
				"server_version", v)
		}
	} else {
		srv, err := natsembed.Start(natsembed.Options{StoreDir: filepath.Join(s.cfg.DataDir, "jetstream"), Listen: s.cfg.NATSListen})
		if err != nil {
			return err
		}
		s.embedded = srv
		if s.nc, err = srv.Connect("erasure"); err != nil {
			return err
		}
		replicas = 1
	}
	js, err := jetstream.New(s.nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	atomic := serverAtLeast(s.nc.ConnectedServerVersion(), 2, 12)
	s.Log = eventlog.NewStore(js, eventlog.StoreConfig{Stream: s.cfg.Stream, Replicas: replicas, Atomic: atomic})
	if err := s.Log.Provision(ctx); err != nil {
		return err
	}
	s.signatures, err = openSignatureLedger(ctx, js, replicas)
	return err
}

// afterProjection hands each committed batch to the observer (metrics and the deletion log lines,
// observe.go), and truncates the SQLite write-ahead log after a batch that removed a deleted
// person's rows, so no copy of them lingers in a -wal file.
func (s *Service) afterProjection(ctx context.Context, batch []events.Recorded) {
	s.observer.batch(ctx, batch)
	for _, r := range batch {
		if _, ok := r.Data.(events.PersonDeleted); ok {
			// Through the projection's own connection, which then keeps its page cache: a
			// truncation by another connection would make it read every page back.
			_ = s.DBs.CheckpointOf(ctx, s.DBs.Projection)
			return
		}
	}
}

func serverAtLeast(v string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(strings.TrimPrefix(v, "v"), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}

// Handler returns every HTTP front door on one mux, behind the shared middleware (request ids,
// access log, metrics, panics) and the guard (authentication and limits), as served on the
// configured address (http.go).
func (s *Service) Handler() http.Handler { return s.handler(!config.Loopback(s.cfg.HTTPAddr)) }

// Serve listens on the configured address until ctx ends, then shuts down gracefully.
func (s *Service) Serve(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.HTTPAddr, err)
	}
	return s.ServeListener(ctx, ln)
}

// ServeListener serves on ln until ctx ends, then stops taking requests and lets in-flight ones
// finish within the shutdown timeout.
func (s *Service) ServeListener(ctx context.Context, ln net.Listener) error {
	srv, err := s.httpServer(ln)
	if err != nil {
		ln.Close()
		return err
	}
	errc := make(chan error, 1)
	scheme := "http"
	if srv.TLSConfig != nil {
		scheme = "https"
		go func() { errc <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { errc <- srv.Serve(ln) }()
	}
	s.logger.Info("erasure serving", "http", ln.Addr().String(), "scheme", scheme, "data", s.cfg.DataDir,
		"nats", s.natsMode(), "database", s.DBs.Dialect)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout*8/10)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.logger.Warn("http shutdown", "err", err)
	}
	return nil
}

func (s *Service) natsMode() string {
	if s.embedded != nil {
		return "embedded"
	}
	return "external"
}

// Close stops the background work and closes every store: SQLite is checkpointed, the
// embedded nats-server flushed.
func (s *Service) Close() {
	if s.cancel != nil {
		s.cancel()
	}
	// Workers stop at the next context check; a downstream call that ignores cancellation must
	// not hold the shutdown past its budget (its step is redelivered after AckWait).
	stopped := make(chan struct{})
	go func() { s.wg.Wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(s.cfg.ShutdownTimeout / 2):
		s.logger.Warn("background workers did not stop in time; closing the stores under them")
	}
	if s.DBs != nil {
		if err := s.DBs.Close(); err != nil {
			s.logger.Warn("close databases", "err", err)
		}
	}
	if s.nc != nil {
		s.nc.Close()
	}
	if s.embedded != nil {
		s.embedded.Shutdown()
	}
	if s.unlock != nil {
		s.unlock()
	}
}

// Migrate applies the migrations of every database under the data-directory lock, touching
// nothing else.
func Migrate(ctx context.Context, cfg config.Config) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	unlock, err := lockData(cfg.DataDir)
	if err != nil {
		return err
	}
	defer unlock()
	var dbs *sqldb.DBs
	if cfg.DatabaseURL != "" {
		dbs, err = sqldb.OpenPostgres(ctx, cfg.DatabaseURL)
	} else {
		dbs, err = sqldb.OpenSQLite(cfg.DataDir)
	}
	if err != nil {
		return err
	}
	defer dbs.Close()
	return dbs.Migrate(ctx)
}

// targetInfos describes the configured targets for GET /v1/targets, without secrets.
func targetInfos(specs []targets.Spec) []app.TargetInfo {
	out := make([]app.TargetInfo, len(specs))
	for i, sp := range specs {
		out[i] = app.TargetInfo{Name: sp.Name, Kind: sp.Kind, Endpoint: sp.URL, BatchSize: sp.Batch}
		if sp.Kind == targets.KindTencent {
			out[i].Rate = sp.Rate / float64(sp.Replicas)
		}
	}
	return out
}
