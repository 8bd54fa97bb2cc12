package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/keys"
	"github.com/erasure-dev/erasure/projections"
)

// FaceRecord is one face to register downstream: its feature record and registration photo.
// Neither ever enters the log.
type FaceRecord struct {
	FaceID   string
	PhotoKey string
	Photo    []byte
	Feature  []byte
}

// Registrar writes a registration into the downstream stores before its event is appended.
type Registrar interface {
	Register(ctx context.Context, personID string, faces []FaceRecord, permissionGroupIDs []string) error
	RemoveFace(ctx context.Context, personID, faceID, photoKey string) error
	UnbindPermissionGroups(ctx context.Context, personIDs []string) error
	Photo(personID, photoKey string) ([]byte, error)
	PermissionDirectory
	// Leftovers lists what the stores still hold of the persons, as "store:person_id".
	Leftovers(ctx context.Context, personIDs []string) ([]string, error)
}

// App is the application layer.
type App struct {
	log        *eventlog.Store
	reads      projections.Queries // every read of the read model
	keys       *keys.Store
	stores     Registrar
	projection *projections.Runner
	logger     *slog.Logger
	// WriteTimeout bounds how long a write waits for the read model to show it.
	WriteTimeout time.Duration
	catchingUp   atomic.Bool
	receipts     receiptSigning // set by SetReceiptSigner (audit.go)
	// CheckCallback refuses a deletion request's callback URL (one that reaches a private
	// address, say): set by the service to the webhook dispatcher's check.
	CheckCallback func(ctx context.Context, url string) error
	targets       []TargetInfo
	backpressure  Backpressure // bounds of bulk intakes (backpressure.go); zero: none
	webhooks      *Webhooks    // set by SetWebhooks (webhooks.go); nil: no dispatcher
}

// TargetInfo describes a configured external target, without its secrets.
type TargetInfo struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"` // sophon, tencent, http
	Endpoint string `json:"endpoint"`
	// BatchSize is how many persons one call deletes (1: one call a person).
	BatchSize int `json:"batch_size"`
	// Rate is the calls per second this replica allows itself (0: unlimited).
	Rate float64 `json:"rate,omitempty"`
}

// SetTargets records the external targets deletions fan out to (GET /v1/targets).
func (a *App) SetTargets(ts []TargetInfo) { a.targets = ts }

// Targets returns the external targets deletions fan out to.
func (a *App) Targets() []TargetInfo { return append([]TargetInfo{}, a.targets...) }

// SetCatchingUp marks the read model as still replaying the log (not ready).
func (a *App) SetCatchingUp(v bool) { a.catchingUp.Store(v) }

// New returns the application layer over its stores.
func New(log *eventlog.Store, rm *sqlx.DB, ks *keys.Store, stores Registrar, projection *projections.Runner, logger *slog.Logger) *App {
	if logger == nil {
		logger = slog.Default()
	}
	return &App{log: log, reads: projections.Queries{DB: rm}, keys: ks, stores: stores, projection: projection, logger: logger, WriteTimeout: 30 * time.Second}
}

// decider is an aggregate rebuilt from history that decides commands.
type decider interface{ Decide(cmd any) ([]any, error) }

// execute runs cmd on an aggregate through the log (eventlog.Store.Execute).
func (a *App) execute(ctx context.Context, meta events.Meta, aggregate, id string, rebuild func([]any) decider, cmd any) (uint64, error) {
	seq, err := a.log.Execute(ctx, meta, aggregate, id, func(h []any) ([]any, error) { return rebuild(h).Decide(cmd) })
	if errors.Is(err, eventlog.ErrBusy) {
		return 0, fmt.Errorf("%w: %v", ErrBusy, err)
	}
	return seq, err
}

func personDecider(id string) func([]any) decider {
	return func(h []any) decider { return domain.PersonFromHistory(id, h) }
}

func groupDecider(id string) func([]any) decider {
	return func(h []any) decider { return domain.GroupFromHistory(id, h) }
}

// waitVisible waits until the read model has applied seq, so the caller's next read sees it.
func (a *App) waitVisible(ctx context.Context, seq uint64) error {
	if seq == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.WriteTimeout)
	defer cancel()
	return a.projection.WaitFor(ctx, seq)
}

// Ready reports whether the log and the read model answer.
func (a *App) Ready(ctx context.Context) error {
	if _, err := a.log.LastSequence(ctx); err != nil {
		return fmt.Errorf("event log: %w", err)
	}
	if err := a.reads.Ping(ctx); err != nil {
		return fmt.Errorf("read model: %w", err)
	}
	if a.catchingUp.Load() {
		return fmt.Errorf("read model: catching up with the log (at %d)", a.projection.Position())
	}
	return nil
}
