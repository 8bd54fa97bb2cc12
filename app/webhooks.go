package app

import (
	"context"
	"time"

	"github.com/erasure-dev/erasure/webhooks"
)

// WebhookDispatcher is the webhook dispatcher as the application layer drives it
// (webhooks.Service): the subscriptions, their deliveries, and the check of a callback URL.
type WebhookDispatcher interface {
	Subscribe(ctx context.Context, url string, eventTypes []string) (webhooks.Subscription, error)
	Subscriptions(ctx context.Context) ([]webhooks.Subscription, error)
	Get(ctx context.Context, id string) (webhooks.Subscription, error)
	Unsubscribe(ctx context.Context, id string) error
	Rotate(ctx context.Context, id string, overlap time.Duration) (webhooks.Subscription, error)
	Deliveries(ctx context.Context, id, state string, after int64, limit int) ([]webhooks.Delivery, error)
	Redeliver(ctx context.Context, id string, deliveryID int64) (webhooks.Delivery, error)
	CheckURL(ctx context.Context, url string) error
}

var _ WebhookDispatcher = (*webhooks.Service)(nil)

// Webhook is a webhook subscription; WebhookDelivery is one event's delivery to it.
type (
	Webhook         = webhooks.Subscription
	WebhookDelivery = webhooks.Delivery
)

// Webhooks manages the webhook subscriptions and their deliveries: the one path a front door
// takes to them, as to everything else.
type Webhooks struct{ d WebhookDispatcher }

// SetWebhooks has the application layer manage webhooks with d, and check a deletion request's
// callback URL with it (one that reaches a private address, say).
func (a *App) SetWebhooks(d WebhookDispatcher) {
	a.webhooks = &Webhooks{d: d}
	a.Deletions.CheckCallback = d.CheckURL
}

// Webhooks returns the management of webhook subscriptions; nil when the service has no
// dispatcher.
func (a *App) Webhooks() *Webhooks { return a.webhooks }

// Subscribe subscribes url to the event types (all of them if none), answering its secret.
func (w *Webhooks) Subscribe(ctx context.Context, url string, eventTypes []string) (Webhook, error) {
	return w.d.Subscribe(ctx, url, eventTypes)
}

// List returns every subscription.
func (w *Webhooks) List(ctx context.Context) ([]Webhook, error) { return w.d.Subscriptions(ctx) }

// Get returns the subscription id.
func (w *Webhooks) Get(ctx context.Context, id string) (Webhook, error) { return w.d.Get(ctx, id) }

// Delete ends the subscription id.
func (w *Webhooks) Delete(ctx context.Context, id string) error { return w.d.Unsubscribe(ctx, id) }

// RotateSecret gives the subscription a new secret; the old one keeps signing beside it for
// overlap (0: the dispatcher's default).
func (w *Webhooks) RotateSecret(ctx context.Context, id string, overlap time.Duration) (Webhook, error) {
	return w.d.Rotate(ctx, id, overlap)
}

// Deliveries returns a page of the subscription's deliveries after the cursor after (a delivery
// id), in the state given (webhooks.DeliveryPending, DeliveryDelivered or DeliveryDead; empty:
// any).
func (w *Webhooks) Deliveries(ctx context.Context, id, state string, after int64, limit int) ([]WebhookDelivery, error) {
	return w.d.Deliveries(ctx, id, state, after, limit)
}

// Redeliver queues a delivery of the subscription again at once, whatever its state: a dead
// letter once the receiver is fixed, or a delivered message the receiver lost.
func (w *Webhooks) Redeliver(ctx context.Context, id string, deliveryID int64) (WebhookDelivery, error) {
	return w.d.Redeliver(ctx, id, deliveryID)
}
