package webhooks

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/erasure-dev/erasure/events"
)

// Endpoint kinds.
const (
	kindSubscription = "subscription"
	kindCallback     = "callback" // a deletion request's own callback_url
)

// Endpoint and delivery states.
const (
	StateActive   = "active"
	StateDisabled = "disabled"

	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryDead      = "dead"
)

// Body formats.
const (
	FormatStandard = "standard" // {"type","timestamp","data"}
	FormatSophon   = "sophon"   // the Sophon management platform's deleteidentities result
)

// endpoint is a row of webhook_endpoints.
type endpoint struct {
	ID             string `db:"endpoint_id"`
	Kind           string `db:"kind"`
	URL            string `db:"url"`
	EventTypes     string `db:"event_types"`
	Format         string `db:"format"`
	Secret         string `db:"secret"`
	PreviousSecret string `db:"previous_secret"`
	PreviousUntil  int64  `db:"previous_until"`
	State          string `db:"state"`
	DisabledReason string `db:"disabled_reason"`
	EffectiveAt    int64  `db:"effective_at"` // Unix ms: outcomes recorded from then on are its
	CreatedAt      int64  `db:"created_at"`
}

func (e endpoint) wants(eventType string) bool {
	for _, t := range strings.Split(e.EventTypes, ",") {
		if t == eventType {
			return true
		}
	}
	return false
}

// takes reports whether the endpoint gets an outcome recorded at r's time: one recorded before
// the subscription took effect is not its business.
func (e endpoint) takes(r events.Recorded) bool { return r.Time.UnixMilli() >= e.EffectiveAt }

// secrets are the secrets that sign a delivery now: the current one, and the previous one
// during a rotation's overlap.
func (e endpoint) secrets(now time.Time) []string {
	if e.Secret == "" {
		return nil
	}
	if e.PreviousSecret != "" && now.UnixMilli() < e.PreviousUntil {
		return []string{e.Secret, e.PreviousSecret}
	}
	return []string{e.Secret}
}

// delivery is a row of webhook_deliveries.
type delivery struct {
	ID            int64  `db:"delivery_id"`
	EndpointID    string `db:"endpoint_id"`
	MessageID     string `db:"message_id"`
	EventType     string `db:"event_type"`
	Seq           int64  `db:"seq"`
	Body          string `db:"body"`
	State         string `db:"state"`
	Attempts      int    `db:"attempts"`
	NextAttemptAt int64  `db:"next_attempt_at"`
	Claim         string `db:"claim"`
	LastStatus    int    `db:"last_status"`
	LastError     string `db:"last_error"`
	LastLatencyMS int64  `db:"last_latency_ms"`
	LastAttemptAt int64  `db:"last_attempt_at"`
	DeliveredAt   int64  `db:"delivered_at"`
	CreatedAt     int64  `db:"created_at"`
}

const deliveryColumns = `delivery_id, endpoint_id, message_id, event_type, seq, body, state, attempts, next_attempt_at,
	claim, last_status, last_error, last_latency_ms, last_attempt_at, delivered_at, created_at`

const endpointColumns = `endpoint_id, kind, url, event_types, format, secret, previous_secret, previous_until, state,
	disabled_reason, effective_at, created_at`

// store is the SQL side: endpoints and their queues.
type store struct{ db *sqlx.DB }

func (s store) q(query string) string { return s.db.Rebind(query) }

func (s store) insertEndpoint(ctx context.Context, e endpoint) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO webhook_endpoints (`+endpointColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (endpoint_id) DO NOTHING`),
		e.ID, e.Kind, e.URL, e.EventTypes, e.Format, e.Secret, e.PreviousSecret, e.PreviousUntil, e.State,
		e.DisabledReason, e.EffectiveAt, e.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert webhook endpoint: %w", err)
	}
	return nil
}

func (s store) endpoint(ctx context.Context, id string) (endpoint, error) {
	var e endpoint
	err := s.db.GetContext(ctx, &e, s.q(`SELECT `+endpointColumns+` FROM webhook_endpoints WHERE endpoint_id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return endpoint{}, fmt.Errorf("webhook %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return endpoint{}, fmt.Errorf("webhook %s: %w", id, err)
	}
	return e, nil
}

func (s store) subscription(ctx context.Context, id string) (endpoint, error) {
	e, err := s.endpoint(ctx, id)
	if err == nil && e.Kind != kindSubscription {
		return endpoint{}, fmt.Errorf("webhook %s: %w", id, ErrNotFound)
	}
	return e, err
}

// subscriptions lists the subscriptions, oldest first; only the active ones when active.
func (s store) subscriptions(ctx context.Context, active bool) ([]endpoint, error) {
	q := `SELECT ` + endpointColumns + ` FROM webhook_endpoints WHERE kind = 'subscription'`
	if active {
		q += ` AND state = 'active'`
	}
	out := []endpoint{}
	if err := s.db.SelectContext(ctx, &out, q+` ORDER BY created_at, endpoint_id`); err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return out, nil
}

// deleteSubscription removes a subscription and its queue; false when there was none.
func (s store) deleteSubscription(ctx context.Context, id string) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM webhook_endpoints WHERE endpoint_id = ? AND kind = 'subscription'`), id)
	if err != nil {
		return false, fmt.Errorf("delete webhook %s: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

func (s store) rotate(ctx context.Context, id, secret string, previousUntil int64) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE webhook_endpoints SET previous_secret = secret, previous_until = ?, secret = ?
		WHERE endpoint_id = ?`), previousUntil, secret, id)
	if err != nil {
		return fmt.Errorf("rotate webhook %s: %w", id, err)
	}
	return nil
}

// disable stops an endpoint (its receiver answered 410 Gone): what it still had queued is
// dead-lettered, so it shows in the deliveries listing with the reason.
func (s store) disable(ctx context.Context, id, reason string, now time.Time) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("disable webhook %s: %w", id, err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE webhook_endpoints SET state = 'disabled', disabled_reason = ? WHERE endpoint_id = ?`),
		reason, id); err != nil {
		return fmt.Errorf("disable webhook %s: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE webhook_deliveries SET state = 'dead', claim = '', last_error = ?
		WHERE endpoint_id = ? AND state = 'pending'`), "endpoint disabled: "+reason, id); err != nil {
		return fmt.Errorf("disable webhook %s: %w", id, err)
	}
	return tx.Commit()
}

// newDelivery is a delivery to queue.
type newDelivery struct {
	endpoint  string
	messageID string
	eventType string
	seq       uint64
	body      []byte
}

// enqueue queues deliveries, creating the callback endpoints they need, in one transaction. A
// delivery already queued (the same message for the same endpoint: an event handled twice) is
// left as it is.
func (s store) enqueue(ctx context.Context, callbacks []endpoint, ds []newDelivery, now time.Time) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("queue deliveries: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	for _, e := range callbacks {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO webhook_endpoints (`+endpointColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (endpoint_id) DO NOTHING`),
			e.ID, e.Kind, e.URL, e.EventTypes, e.Format, e.Secret, e.PreviousSecret, e.PreviousUntil, e.State,
			e.DisabledReason, e.EffectiveAt, e.CreatedAt); err != nil {
			return fmt.Errorf("queue deliveries: callback endpoint: %w", err)
		}
	}
	ms := now.UnixMilli()
	for _, d := range ds {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO webhook_deliveries
			(endpoint_id, message_id, event_type, seq, body, state, next_attempt_at, created_at)
			VALUES (?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (endpoint_id, message_id) DO NOTHING`),
			d.endpoint, d.messageID, d.eventType, int64(d.seq), string(d.body), ms, ms); err != nil {
			return fmt.Errorf("queue deliveries: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("queue deliveries: %w", err)
	}
	return nil
}

// dueEndpoints lists active endpoints with a delivery due at now.
func (s store) dueEndpoints(ctx context.Context, now time.Time, limit int) ([]string, error) {
	var ids []string
	err := s.db.SelectContext(ctx, &ids, s.q(`SELECT DISTINCT d.endpoint_id FROM webhook_deliveries d
		JOIN webhook_endpoints e ON e.endpoint_id = d.endpoint_id
		WHERE d.state = 'pending' AND d.next_attempt_at <= ? AND e.state = 'active' LIMIT ?`), now.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("due webhook endpoints: %w", err)
	}
	return ids, nil
}

// nextDue returns when the next pending delivery is due, false when none is pending.
func (s store) nextDue(ctx context.Context) (time.Time, bool, error) {
	var ms sql.NullInt64
	if err := s.db.GetContext(ctx, &ms, `SELECT MIN(next_attempt_at) FROM webhook_deliveries WHERE state = 'pending'`); err != nil {
		return time.Time{}, false, fmt.Errorf("next webhook delivery: %w", err)
	}
	if !ms.Valid {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(ms.Int64), true, nil
}

// claim takes up to n of an endpoint's due deliveries for this sender until the given time:
// another sender (a replica, or this one after a restart) takes a delivery only once its claim
// has run out, so a delivery is in flight at most once at a time, and one whose sender died is
// sent again.
func (s store) claim(ctx context.Context, endpointID, token string, now, until time.Time, n int) ([]delivery, error) {
	var ids []int64
	if err := s.db.SelectContext(ctx, &ids, s.q(`SELECT delivery_id FROM webhook_deliveries
		WHERE endpoint_id = ? AND state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, delivery_id LIMIT ?`),
		endpointID, now.UnixMilli(), n); err != nil {
		return nil, fmt.Errorf("claim deliveries of %s: %w", endpointID, err)
	}
	claimed := 0
	for _, id := range ids {
		res, err := s.db.ExecContext(ctx, s.q(`UPDATE webhook_deliveries SET claim = ?, next_attempt_at = ?
			WHERE delivery_id = ? AND state = 'pending' AND next_attempt_at <= ?`), token, until.UnixMilli(), id, now.UnixMilli())
		if err != nil {
			return nil, fmt.Errorf("claim delivery %d: %w", id, err)
		}
		if k, _ := res.RowsAffected(); k == 1 {
			claimed++
		}
	}
	if claimed == 0 {
		return nil, nil
	}
	var out []delivery
	if err := s.db.SelectContext(ctx, &out, s.q(`SELECT `+deliveryColumns+` FROM webhook_deliveries
		WHERE endpoint_id = ? AND claim = ? AND state = 'pending' ORDER BY delivery_id`), endpointID, token); err != nil {
		return nil, fmt.Errorf("claimed deliveries of %s: %w", endpointID, err)
	}
	return out, nil
}

// outcome is what one attempt did to a delivery.
type outcome struct {
	state     string
	next      time.Time // the next attempt, when still pending
	status    int
	err       string
	latency   time.Duration
	at        time.Time
	delivered bool
}

// record stores an attempt's outcome, if the delivery is still this sender's claim.
func (s store) record(ctx context.Context, d delivery, o outcome) error {
	var deliveredAt int64
	if o.delivered {
		deliveredAt = o.at.UnixMilli()
	}
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE webhook_deliveries SET state = ?, attempts = attempts + 1, next_attempt_at = ?,
		claim = '', last_status = ?, last_error = ?, last_latency_ms = ?, last_attempt_at = ?, delivered_at = ?
		WHERE delivery_id = ? AND claim = ?`),
		o.state, o.next.UnixMilli(), o.status, o.err, o.latency.Milliseconds(), o.at.UnixMilli(), deliveredAt, d.ID, d.Claim)
	if err != nil {
		return fmt.Errorf("record delivery %d: %w", d.ID, err)
	}
	return nil
}

// release hands a claimed delivery back without counting an attempt: the sender is shutting
// down, and the next one should not wait for the claim to run out.
func (s store) release(ctx context.Context, d delivery, now time.Time) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE webhook_deliveries SET claim = '', next_attempt_at = ?
		WHERE delivery_id = ? AND claim = ? AND state = 'pending'`), now.UnixMilli(), d.ID, d.Claim)
	return err
}

// releaseAll hands back every claim: only for the embedded mode, where the data-directory lock
// guarantees that no other process is sending.
func (s store) releaseAll(ctx context.Context, now time.Time) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE webhook_deliveries SET claim = '', next_attempt_at = ?
		WHERE state = 'pending' AND claim <> ''`), now.UnixMilli())
	return err
}

func (s store) deliveries(ctx context.Context, endpointID, state string, after int64, limit int) ([]delivery, error) {
	q := `SELECT ` + deliveryColumns + ` FROM webhook_deliveries WHERE endpoint_id = ? AND delivery_id > ?`
	args := []any{endpointID, after}
	if state != "" {
		q += ` AND state = ?`
		args = append(args, state)
	}
	q += ` ORDER BY delivery_id LIMIT ?`
	args = append(args, limit)
	out := []delivery{}
	if err := s.db.SelectContext(ctx, &out, s.q(q), args...); err != nil {
		return nil, fmt.Errorf("deliveries of %s: %w", endpointID, err)
	}
	return out, nil
}

func (s store) delivery(ctx context.Context, endpointID string, id int64) (delivery, error) {
	var d delivery
	err := s.db.GetContext(ctx, &d, s.q(`SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE endpoint_id = ? AND delivery_id = ?`),
		endpointID, id)
	if errors.Is(err, sql.ErrNoRows) {
		return delivery{}, fmt.Errorf("delivery %d of webhook %s: %w", id, endpointID, ErrNotFound)
	}
	if err != nil {
		return delivery{}, fmt.Errorf("delivery %d of webhook %s: %w", id, endpointID, err)
	}
	return d, nil
}

// redeliver queues a delivery again, whatever its state, with a fresh retry schedule.
func (s store) redeliver(ctx context.Context, endpointID string, id int64, now time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?, claim = ''
		WHERE endpoint_id = ? AND delivery_id = ?`), now.UnixMilli(), endpointID, id)
	if err != nil {
		return fmt.Errorf("redeliver %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delivery %d of webhook %s: %w", id, endpointID, ErrNotFound)
	}
	return nil
}
