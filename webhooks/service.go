package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
)

// Errors callers branch on.
var (
	// ErrNotFound means no such subscription or delivery.
	ErrNotFound = errors.New("not found")
	// ErrUnknownEventType means a subscription asked for an event type that does not exist.
	ErrUnknownEventType = errors.New("unknown webhook event type")
	// ErrDisabled means the subscription is disabled (its receiver answered 410 Gone): it gets
	// nothing more, and nothing is redelivered to it.
	ErrDisabled = errors.New("webhook is disabled")
)

// Item is one item of a deletion request as the read model shows it.
type Item struct {
	Position int64
	PersonID string
	State    string // pending, deleted, failed, cancelled
	Code     string
	Step     string
}

// Items is the read side the dispatcher asks about a deletion's items.
type Items interface {
	// Items returns the deletion's items at positions from..to (to < 0: to the end) once the
	// read model has applied the log up to seq, in position order.
	Items(ctx context.Context, deletionID string, seq uint64, from, to int64) ([]Item, error)
}

// Deps are what the dispatcher runs on.
type Deps struct {
	DB     *sqlx.DB // the stores database: endpoints and queues live beside the built-in stores
	Log    *eventlog.Store
	JS     jetstream.JetStream // the intake's durable consumer
	Stream string              // the log's stream name
	Items  Items
	Logger *slog.Logger
	// Observer, if set, counts delivery attempts by outcome (/metrics).
	Observer Observer
	// Exclusive says that no other process sends deliveries (the embedded mode, under the data
	// directory's lock), so claims found at start are stale.
	Exclusive bool
}

// Observer counts delivery attempts by outcome: "delivered" (2xx), "failed" (to be retried) or
// "dead_lettered" (the schedule is spent, or the receiver is gone).
type Observer interface{ WebhookDelivery(outcome string) }

// Service is the webhook dispatcher and the subscriptions' application service.
type Service struct {
	cfg    Config
	deps   Deps
	logger *slog.Logger
	store  store
	sender *sender
	prefix string // the log's subject prefix
	wake   chan struct{}

	subsMu     sync.Mutex
	subs       []endpoint
	subsLoaded time.Time
}

// New returns the dispatcher; Run starts it.
func New(cfg Config, deps Deps) (*Service, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	return &Service{cfg: cfg, deps: deps, logger: deps.Logger, store: store{db: deps.DB}, sender: newSender(cfg),
		prefix: strings.TrimSuffix(deps.Log.Subject("x", "x"), ".x.x"), wake: make(chan struct{}, 1)}, nil
}

// Run consumes the log into the queues and sends the deliveries until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	// Each labelled for the CPU profiler apart from the "webhooks" worker they run in.
	go pprof.Do(ctx, pprof.Labels("worker", "webhook-intake"), func(ctx context.Context) { errc <- s.runIntake(ctx) })
	go pprof.Do(ctx, pprof.Labels("worker", "webhook-scheduler"), func(ctx context.Context) { errc <- s.runScheduler(ctx) })
	err := <-errc
	cancel()
	return errors.Join(err, <-errc)
}

// activeSubscriptions returns the active subscriptions, read at most Settle/2 ago: a
// subscription takes effect only Settle after it was stored (see Subscribe), so no replica
// misses it.
func (s *Service) activeSubscriptions(ctx context.Context) ([]endpoint, error) {
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	if time.Since(s.subsLoaded) < s.cfg.Settle/2 {
		return s.subs, nil
	}
	subs, err := s.store.subscriptions(ctx, true)
	if err != nil {
		return nil, err
	}
	s.subs, s.subsLoaded = subs, time.Now()
	return subs, nil
}

func (s *Service) forgetSubscriptions() {
	s.subsMu.Lock()
	s.subsLoaded = time.Time{}
	s.subsMu.Unlock()
}

// Subscription is a webhook subscription. Secret is set only in the answers that create or
// rotate it: it is shown once.
type Subscription struct {
	ID                      string
	URL                     string
	EventTypes              []string
	State                   string
	DisabledReason          string
	CreatedAt               time.Time
	Secret                  string
	PreviousSecretExpiresAt *time.Time
}

func toSubscription(e endpoint) Subscription {
	sub := Subscription{ID: e.ID, URL: e.URL, EventTypes: strings.Split(e.EventTypes, ","), State: e.State,
		DisabledReason: e.DisabledReason, CreatedAt: time.UnixMilli(e.CreatedAt).UTC()}
	if e.PreviousSecret != "" && time.Now().UnixMilli() < e.PreviousUntil {
		t := time.UnixMilli(e.PreviousUntil).UTC()
		sub.PreviousSecretExpiresAt = &t
	}
	return sub
}

// CheckURL refuses a target that is not an http(s) URL, or that reaches a private address
// while those are not allowed: for callback URLs given with a deletion request.
func (s *Service) CheckURL(ctx context.Context, raw string) error {
	_, err := s.sender.guard.checkURL(ctx, raw)
	return err
}

// Subscribe creates a subscription to the event types (none: all of them) and returns it with
// its secret. It gets the outcomes recorded from the moment of the answer on.
func (s *Service) Subscribe(ctx context.Context, rawURL string, eventTypes []string) (Subscription, error) {
	types := []string{}
	for _, t := range eventTypes {
		if !knownType(t) {
			return Subscription{}, fmt.Errorf("%w: %q (known: %s)", ErrUnknownEventType, t, strings.Join(EventTypes, ", "))
		}
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	if len(types) == 0 {
		types = EventTypes
	}
	if _, err := s.sender.guard.checkURL(ctx, rawURL); err != nil {
		return Subscription{}, err
	}
	// Every replica's intake reads the subscriptions at most Settle/2 ago: a subscription takes
	// effect Settle after it is stored, when every one of them knows it, so that none skips an
	// outcome recorded from then on. The answer waits until then.
	now := time.Now()
	e := endpoint{ID: "wh_" + events.NewID(), Kind: kindSubscription, URL: rawURL, EventTypes: strings.Join(types, ","),
		Format: FormatStandard, Secret: NewSecret(), State: StateActive, EffectiveAt: now.Add(s.cfg.Settle).UnixMilli(),
		CreatedAt: now.UnixMilli()}
	if err := s.store.insertEndpoint(ctx, e); err != nil {
		return Subscription{}, err
	}
	s.forgetSubscriptions()
	time.Sleep(time.Until(time.UnixMilli(e.EffectiveAt)))
	sub := toSubscription(e)
	sub.Secret = e.Secret
	return sub, nil
}

// Subscriptions lists every subscription, oldest first.
func (s *Service) Subscriptions(ctx context.Context) ([]Subscription, error) {
	es, err := s.store.subscriptions(ctx, false)
	if err != nil {
		return nil, err
	}
	out := make([]Subscription, len(es))
	for i, e := range es {
		out[i] = toSubscription(e)
	}
	return out, nil
}

// Get returns one subscription.
func (s *Service) Get(ctx context.Context, id string) (Subscription, error) {
	e, err := s.store.subscription(ctx, id)
	if err != nil {
		return Subscription{}, err
	}
	return toSubscription(e), nil
}

// Unsubscribe deletes a subscription and its queue: nothing more is sent to it.
func (s *Service) Unsubscribe(ctx context.Context, id string) error {
	ok, err := s.store.deleteSubscription(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("webhook %s: %w", id, ErrNotFound)
	}
	s.forgetSubscriptions()
	return nil
}

// Rotate gives a subscription a new secret and returns it. The old one keeps signing beside it
// (two signatures in webhook-signature) for overlap (0: Config.RotationOverlap).
func (s *Service) Rotate(ctx context.Context, id string, overlap time.Duration) (Subscription, error) {
	if overlap <= 0 {
		overlap = s.cfg.RotationOverlap
	}
	if _, err := s.store.subscription(ctx, id); err != nil {
		return Subscription{}, err
	}
	secret := NewSecret()
	if err := s.store.rotate(ctx, id, secret, time.Now().Add(overlap).UnixMilli()); err != nil {
		return Subscription{}, err
	}
	e, err := s.store.subscription(ctx, id)
	if err != nil {
		return Subscription{}, err
	}
	sub := toSubscription(e)
	sub.Secret = secret
	return sub, nil
}

// Delivery is one message queued for one subscription, as the API shows it.
type Delivery struct {
	ID            int64
	MessageID     string // the webhook-id header: the receiver's dedup key
	EventType     string
	State         string // pending, delivered, dead
	Attempts      int    // since it was queued or last redelivered
	NextAttemptAt *time.Time
	LastStatus    int
	LastError     string
	LastLatency   time.Duration
	LastAttemptAt *time.Time
	DeliveredAt   *time.Time
	CreatedAt     time.Time
}

func toDelivery(d delivery) Delivery {
	at := func(ms int64) *time.Time {
		if ms == 0 {
			return nil
		}
		t := time.UnixMilli(ms).UTC()
		return &t
	}
	out := Delivery{ID: d.ID, MessageID: d.MessageID, EventType: d.EventType, State: d.State, Attempts: d.Attempts,
		LastStatus: d.LastStatus, LastError: d.LastError, LastLatency: time.Duration(d.LastLatencyMS) * time.Millisecond,
		LastAttemptAt: at(d.LastAttemptAt), DeliveredAt: at(d.DeliveredAt), CreatedAt: time.UnixMilli(d.CreatedAt).UTC()}
	if d.State == DeliveryPending {
		out.NextAttemptAt = at(d.NextAttemptAt)
	}
	return out
}

// Deliveries lists a subscription's deliveries after the cursor (a delivery id), oldest first,
// optionally in one state.
func (s *Service) Deliveries(ctx context.Context, id, state string, after int64, limit int) ([]Delivery, error) {
	if _, err := s.store.subscription(ctx, id); err != nil {
		return nil, err
	}
	ds, err := s.store.deliveries(ctx, id, state, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Delivery, len(ds))
	for i, d := range ds {
		out[i] = toDelivery(d)
	}
	return out, nil
}

// Redeliver queues a delivery again at once, with a fresh retry schedule and the same
// webhook-id, whatever its state: a dead letter after the receiver was fixed, or a delivered
// message the receiver lost.
func (s *Service) Redeliver(ctx context.Context, id string, deliveryID int64) (Delivery, error) {
	e, err := s.store.subscription(ctx, id)
	if err != nil {
		return Delivery{}, err
	}
	if e.State != StateActive {
		return Delivery{}, fmt.Errorf("webhook %s: %w (%s)", id, ErrDisabled, e.DisabledReason)
	}
	if err := s.store.redeliver(ctx, id, deliveryID, time.Now()); err != nil {
		return Delivery{}, err
	}
	s.wakeScheduler()
	d, err := s.store.delivery(ctx, id, deliveryID)
	if err != nil {
		return Delivery{}, err
	}
	return toDelivery(d), nil
}

func jsonBody(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("webhook body: %w", err)
	}
	return b, nil
}

// Backlog counts the deliveries waiting (pending, retries included) and dead-lettered, over
// every endpoint: for /metrics.
func (s *Service) Backlog(ctx context.Context) (pending, dead int, err error) {
	var rows []struct {
		State string `db:"state"`
		N     int    `db:"n"`
	}
	if err := s.store.db.SelectContext(ctx, &rows, `SELECT state, COUNT(*) AS n FROM webhook_deliveries
		WHERE state IN ('pending', 'dead') GROUP BY state`); err != nil {
		return 0, 0, fmt.Errorf("webhook backlog: %w", err)
	}
	for _, r := range rows {
		if r.State == DeliveryPending {
			pending = r.N
		} else {
			dead = r.N
		}
	}
	return pending, dead, nil
}
