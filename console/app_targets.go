package console

import (
	"context"
	"errors"

	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/webhooks"
)

// The Targets and Webhooks pages' calls into the application layer (the console's convention:
// every call to app passes through a backend method; app.go holds the rest).

type (
	targetStatus    = app.TargetStatus
	webhook         = app.Webhook
	webhookDelivery = app.WebhookDelivery
)

// The states a webhook delivery is in (webhooks' own names, as GET /v1/webhooks/{id}/deliveries
// takes them).
const (
	deliveryPending   = webhooks.DeliveryPending
	deliveryDelivered = webhooks.DeliveryDelivered
	deliveryDead      = webhooks.DeliveryDead
	// webhookActive is the state of a subscription that gets deliveries (else: disabled).
	webhookActive = webhooks.StateActive
)

// webhookEventTypes are the event types a subscription may ask for, in the documentation's order.
func webhookEventTypes() []string { return append([]string{}, webhooks.EventTypes...) }

func (b backend) targetStatuses(ctx context.Context) ([]targetStatus, error) {
	return b.app.TargetStatuses(ctx)
}

// errNoWebhooks means the service runs no webhook dispatcher (app.SetWebhooks was not called).
var errNoWebhooks = errors.New("this service manages no webhooks")

func (b backend) webhooks() (*app.Webhooks, error) {
	w := b.app.Webhooks()
	if w == nil {
		return nil, errNoWebhooks
	}
	return w, nil
}

func (b backend) listWebhooks(ctx context.Context) ([]webhook, error) {
	w, err := b.webhooks()
	if err != nil {
		return nil, err
	}
	return w.List(ctx)
}

func (b backend) webhook(ctx context.Context, id string) (webhook, error) {
	w, err := b.webhooks()
	if err != nil {
		return webhook{}, err
	}
	return w.Get(ctx, id)
}

// subscribeWebhook answers the subscription with its secret, which no later call returns.
func (b backend) subscribeWebhook(ctx context.Context, url string, eventTypes []string) (webhook, error) {
	w, err := b.webhooks()
	if err != nil {
		return webhook{}, err
	}
	return w.Subscribe(ctx, url, eventTypes)
}

func (b backend) deleteWebhook(ctx context.Context, id string) error {
	w, err := b.webhooks()
	if err != nil {
		return err
	}
	return w.Delete(ctx, id)
}

// rotateWebhookSecret answers the subscription with its new secret; the old one keeps signing
// for the dispatcher's default overlap.
func (b backend) rotateWebhookSecret(ctx context.Context, id string) (webhook, error) {
	w, err := b.webhooks()
	if err != nil {
		return webhook{}, err
	}
	return w.RotateSecret(ctx, id, 0)
}

func (b backend) webhookDeliveries(ctx context.Context, id, state string, after int64, limit int) ([]webhookDelivery, error) {
	w, err := b.webhooks()
	if err != nil {
		return nil, err
	}
	return w.Deliveries(ctx, id, state, after, limit)
}

func (b backend) redeliver(ctx context.Context, id string, deliveryID int64) (webhookDelivery, error) {
	w, err := b.webhooks()
	if err != nil {
		return webhookDelivery{}, err
	}
	return w.Redeliver(ctx, id, deliveryID)
}

// isWebhookNotFound reports whether err means no such subscription or delivery, or no
// webhooks at all.
func isWebhookNotFound(err error) bool {
	return errors.Is(err, webhooks.ErrNotFound) || errors.Is(err, errNoWebhooks)
}

// isRefusedSubscription reports whether err is the operator's mistake in a subscription (a URL
// the service will not call, an unknown event type): the page says why.
func isRefusedSubscription(err error) bool {
	return errors.Is(err, webhooks.ErrInvalidURL) || errors.Is(err, webhooks.ErrURLNotAllowed) ||
		errors.Is(err, webhooks.ErrUnknownEventType)
}

// isWebhookDisabled reports whether err means the subscription is disabled (its receiver
// answered 410 Gone), so nothing is redelivered to it.
func isWebhookDisabled(err error) bool { return errors.Is(err, webhooks.ErrDisabled) }
