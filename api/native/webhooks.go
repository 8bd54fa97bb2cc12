package native

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/webhooks"
)

// maxWebhookBody bounds a subscription request: a URL and a few event types.
const maxWebhookBody = 16 << 10

// registerWebhooks serves the webhook subscriptions (/v1/webhooks) where the application layer
// manages them (app.SetWebhooks); without a dispatcher those routes answer 404.
func (api *API) registerWebhooks(mux *http.ServeMux) {
	if api.app == nil || api.app.Webhooks() == nil {
		return
	}
	mux.HandleFunc("POST /v1/webhooks", answer(api.createWebhook))
	mux.HandleFunc("GET /v1/webhooks", answer(api.listWebhooks))
	mux.HandleFunc("GET /v1/webhooks/{id}", answer(api.getWebhook))
	mux.HandleFunc("DELETE /v1/webhooks/{id}", answer(api.deleteWebhook))
	mux.HandleFunc("POST /v1/webhooks/{id}/rotate", answer(api.rotateWebhook))
	mux.HandleFunc("GET /v1/webhooks/{id}/deliveries", answer(api.webhookDeliveries))
	mux.HandleFunc("POST /v1/webhooks/{id}/deliveries/{delivery}/redeliver", answer(api.redeliverWebhook))
}

type webhookJSON struct {
	ID                      string     `json:"id"`
	URL                     string     `json:"url"`
	EventTypes              []string   `json:"event_types"`
	State                   string     `json:"state"`
	DisabledReason          string     `json:"disabled_reason,omitempty"`
	CreatedAt               time.Time  `json:"created_at"`
	Secret                  string     `json:"secret,omitempty"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
}

func toWebhookJSON(s app.Webhook) webhookJSON {
	return webhookJSON{ID: s.ID, URL: s.URL, EventTypes: s.EventTypes, State: s.State, DisabledReason: s.DisabledReason,
		CreatedAt: s.CreatedAt, Secret: s.Secret, PreviousSecretExpiresAt: s.PreviousSecretExpiresAt}
}

func (api *API) createWebhook(r *http.Request) (reply, error) {
	var req struct {
		URL        *string  `json:"url"`
		EventTypes []string `json:"event_types"`
	}
	if err := decodeJSON(r, maxWebhookBody, &req); err != nil {
		return reply{}, err
	}
	if req.URL == nil || *req.URL == "" {
		return reply{}, fmt.Errorf("%w: url is required", errMissing)
	}
	sub, err := api.app.Webhooks().Subscribe(r.Context(), *req.URL, req.EventTypes)
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusCreated, body: toWebhookJSON(sub), header: http.Header{"Location": {"/v1/webhooks/" + sub.ID}}}, nil
}

func (api *API) listWebhooks(r *http.Request) (reply, error) {
	subs, err := api.app.Webhooks().List(r.Context())
	if err != nil {
		return reply{}, err
	}
	out := struct {
		Webhooks []webhookJSON `json:"webhooks"`
	}{Webhooks: make([]webhookJSON, len(subs))}
	for i, s := range subs {
		out.Webhooks[i] = toWebhookJSON(s)
	}
	return ok(out), nil
}

func (api *API) getWebhook(r *http.Request) (reply, error) {
	sub, err := api.app.Webhooks().Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return reply{}, err
	}
	return ok(toWebhookJSON(sub)), nil
}

func (api *API) deleteWebhook(r *http.Request) (reply, error) {
	if err := api.app.Webhooks().Delete(r.Context(), r.PathValue("id")); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusNoContent}, nil
}

// rotateWebhook answers the new secret. An optional body {"overlap_seconds":N} says how long
// the old secret keeps signing beside it (default 24 hours).
func (api *API) rotateWebhook(r *http.Request) (reply, error) {
	var req struct {
		OverlapSeconds *int64 `json:"overlap_seconds"`
	}
	if r.ContentLength != 0 {
		if err := decodeJSON(r, maxWebhookBody, &req); err != nil {
			return reply{}, err
		}
	}
	var overlap time.Duration
	if req.OverlapSeconds != nil {
		if *req.OverlapSeconds < 1 || *req.OverlapSeconds > 30*24*3600 {
			return reply{}, fmt.Errorf("%w: overlap_seconds must be 1..2592000 (30 days)", app.ErrInvalidArgument)
		}
		overlap = time.Duration(*req.OverlapSeconds) * time.Second
	}
	sub, err := api.app.Webhooks().RotateSecret(r.Context(), r.PathValue("id"), overlap)
	if err != nil {
		return reply{}, err
	}
	return ok(toWebhookJSON(sub)), nil
}

type deliveryJSON struct {
	ID            int64      `json:"id"`
	WebhookID     string     `json:"webhook_id"` // the webhook-id header: the receiver's dedup key
	EventType     string     `json:"event_type"`
	State         string     `json:"state"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	LastStatus    int        `json:"last_status,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	LastLatencyMS int64      `json:"last_latency_ms"`
	LastAttemptAt *time.Time `json:"last_attempt_at,omitempty"`
	DeliveredAt   *time.Time `json:"delivered_at,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
}

func toDeliveryJSON(d app.WebhookDelivery) deliveryJSON {
	return deliveryJSON{ID: d.ID, WebhookID: d.MessageID, EventType: d.EventType, State: d.State, Attempts: d.Attempts,
		NextAttemptAt: d.NextAttemptAt, LastStatus: d.LastStatus, LastError: d.LastError, LastLatencyMS: d.LastLatency.Milliseconds(),
		LastAttemptAt: d.LastAttemptAt, DeliveredAt: d.DeliveredAt, CreatedAt: d.CreatedAt}
}

// webhookDeliveries lists a subscription's deliveries: ?state=pending|delivered|dead&after=CURSOR&limit=N.
func (api *API) webhookDeliveries(r *http.Request) (reply, error) {
	state := r.URL.Query().Get("state")
	switch state {
	case "", webhooks.DeliveryPending, webhooks.DeliveryDelivered, webhooks.DeliveryDead:
	default:
		return reply{}, fmt.Errorf("%w: state must be pending, delivered or dead", app.ErrInvalidArgument)
	}
	afterParam, limit, err := pageParams(r)
	if err != nil {
		return reply{}, err
	}
	var after int64
	if afterParam != "" {
		if after, err = strconv.ParseInt(afterParam, 10, 64); err != nil || after < 0 {
			return reply{}, fmt.Errorf("%w: after must be a cursor from a previous page", app.ErrInvalidArgument)
		}
	}
	ds, err := api.app.Webhooks().Deliveries(r.Context(), r.PathValue("id"), state, after, limit)
	if err != nil {
		return reply{}, err
	}
	out := struct {
		Deliveries []deliveryJSON `json:"deliveries"`
		Next       *string        `json:"next"`
	}{Deliveries: make([]deliveryJSON, len(ds))}
	for i, d := range ds {
		out.Deliveries[i] = toDeliveryJSON(d)
	}
	if len(ds) == limit {
		next := strconv.FormatInt(ds[len(ds)-1].ID, 10)
		out.Next = &next
	}
	return ok(out), nil
}

func (api *API) redeliverWebhook(r *http.Request) (reply, error) {
	id, err := strconv.ParseInt(r.PathValue("delivery"), 10, 64)
	if err != nil {
		return reply{}, fmt.Errorf("delivery %q: %w", r.PathValue("delivery"), webhooks.ErrNotFound)
	}
	d, err := api.app.Webhooks().Redeliver(r.Context(), r.PathValue("id"), id)
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted, body: toDeliveryJSON(d)}, nil
}
