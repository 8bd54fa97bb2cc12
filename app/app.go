package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/keys"
	"github.com/erasure-dev/erasure/projections"
)

// App is the application layer: the capabilities composed, each holding only what it uses
// (doc.go says which lives where). Their methods are promoted, so a front door calls
// a.CreatePerson or a.RequestDeletion on App as on the capability. App itself answers
// readiness and holds the webhook management, which the service sets once it runs a
// dispatcher. WriteTimeout (30 s unless set after New) bounds how long any capability's write
// waits for the read model to show it.
type App struct {
	*writes
	*Registry
	*Deletions
	*Audit
	reads      projections.Queries // Ready pings the read model through it
	catchingUp atomic.Bool
	webhooks   *Webhooks // set by SetWebhooks (webhooks.go); nil: no dispatcher
}

// SetCatchingUp marks the read model as still replaying the log (not ready).
func (a *App) SetCatchingUp(v bool) { a.catchingUp.Store(v) }

// New returns the application layer over its stores.
func New(log *eventlog.Store, rm *sqlx.DB, ks *keys.Store, stores Registrar, projection *projections.Runner, logger *slog.Logger) *App {
	if logger == nil {
		logger = slog.Default()
	}
	w := &writes{log: log, projection: projection, WriteTimeout: 30 * time.Second}
	reads := projections.Queries{DB: rm}
	registry := &Registry{writes: w, reads: reads, keys: ks, stores: stores, logger: logger}
	return &App{
		writes:    w,
		Registry:  registry,
		Deletions: &Deletions{writes: w, reads: reads, registry: registry, logger: logger},
		Audit:     &Audit{log: log, reads: reads, keys: ks, stores: stores},
		reads:     reads,
	}
}

// Ready reports whether the log and the read model answer.
func (a *App) Ready(ctx context.Context) error {
	if _, err := a.writes.log.LastSequence(ctx); err != nil {
		return fmt.Errorf("event log: %w", err)
	}
	if err := a.reads.Ping(ctx); err != nil {
		return fmt.Errorf("read model: %w", err)
	}
	if a.catchingUp.Load() {
		return fmt.Errorf("read model: catching up with the log (at %d)", a.writes.projection.Position())
	}
	return nil
}
