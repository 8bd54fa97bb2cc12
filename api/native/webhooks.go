package native

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/erasure-dev/erasure/api/httpx"
	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/webhooks"
)

// maxWebhookBody bounds a subscription request: a URL and a few event types.
const maxWebhookBody = 16 << 10

// SetWebhooks serves the webhook subscriptions (/v1/webhooks) from the dispatcher h; without it
// those routes answer 404.
func (api *API) SetWebhooks(h *webhooks.Service) *API {
	api.hooks = h
	return api
}

func (api *API) registerWebhooks(mux *http.ServeMux) {
	if api.hooks == nil {
		return
	}
	mux.HandleFunc("POST /v1/webhooks", api.createWebhook)
	mux.HandleFunc("GET /v1/webhooks", api.listWebhooks)
	mux.HandleFunc("GET /v1/webhooks/{id}", api.getWebhook)
	mux.HandleFunc("DELETE /v1/webhooks/{id}", api.deleteWebhook)
	mux.HandleFunc("POST /v1/webhooks/{id}/rotate", api.rotateWebhook)
	mux.HandleFunc("GET /v1/webhooks/{id}/deliveries", api.webhookDeliveries)
	mux.HandleFunc("POST /v1/webhooks/{id}/deliveries/{delivery}/redeliver", api.redeliverWebhook)
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

func toWebhookJSON(s webhooks.Subscription) webhookJSON {
	return webhookJSON{ID: s.ID, URL: s.URL, EventTypes: s.EventTypes, State: s.State, DisabledReason: s.DisabledReason,
		CreatedAt: s.CreatedAt, Secret: s.Secret, PreviousSecretExpiresAt: s.PreviousSecretExpiresAt}
}

func (api *API) createWebhook(w http.ResponseWriter, r *http.Request) {
	var req struct {
		URL        *string  `json:"url"`
		EventTypes []string `json:"event_types"`
	}
	if err := requireJSON(r); err != nil {
		writeError(w, err)
		return
	}
	if err := httpx.DecodeJSON(r, maxWebhookBody, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.URL == nil || *req.URL == "" {
		writeError(w, fmt.Errorf("%w: url is required", errMissing))
		return
	}
	sub, err := api.hooks.Subscribe(r.Context(), *req.URL, req.EventTypes)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Location", "/v1/webhooks/"+sub.ID)
	httpx.WriteJSON(w, http.StatusCreated, toWebhookJSON(sub))
}

func (api *API) listWebhooks(w http.ResponseWriter, r *http.Request) {
	subs, err := api.hooks.Subscriptions(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	out := struct {
		Webhooks []webhookJSON `json:"webhooks"`
	}{Webhooks: make([]webhookJSON, len(subs))}
	for i, s := range subs {
		out.Webhooks[i] = toWebhookJSON(s)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (api *API) getWebhook(w http.ResponseWriter, r *http.Request) {
	sub, err := api.hooks.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, toWebhookJSON(sub))
}

func (api *API) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	if err := api.hooks.Unsubscribe(r.Context(), r.PathValue("id")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// rotateWebhook answers the new secret. An optional body {"overlap_seconds":N} says how long
// the old secret keeps signing beside it (default 24 hours).
func (api *API) rotateWebhook(w http.ResponseWriter, r *http.Request) {
	var req struct {
		OverlapSeconds *int64 `json:"overlap_seconds"`
	}
	if r.ContentLength != 0 {
		if err := requireJSON(r); err != nil {
			writeError(w, err)
			return
		}
		if err := httpx.DecodeJSON(r, maxWebhookBody, &req); err != nil {
			writeError(w, err)
			return
		}
	}
	var overlap time.Duration
	if req.OverlapSeconds != nil {
		if *req.OverlapSeconds < 1 || *req.OverlapSeconds > 30*24*3600 {
			writeError(w, fmt.Errorf("%w: overlap_seconds must be 1..2592000 (30 days)", app.ErrInvalidArgument))
			return
		}
		overlap = time.Duration(*req.OverlapSeconds) * time.Second
	}
	sub, err := api.hooks.Rotate(r.Context(), r.PathValue("id"), overlap)
	if err != nil {
		writeError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, toWebhookJSON(sub))
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

func toDeliveryJSON(d webhooks.Delivery) deliveryJSON {
	return deliveryJSON{ID: d.ID, WebhookID: d.MessageID, EventType: d.EventType, State: d.State, Attempts: d.Attempts,
		NextAttemptAt: d.NextAttemptAt, LastStatus: d.LastStatus, LastError: d.LastError, LastLatencyMS: d.LastLatency.Milliseconds(),
		LastAttemptAt: d.LastAttemptAt, DeliveredAt: d.DeliveredAt, CreatedAt: d.CreatedAt}
}

// webhookDeliveries lists a subscription's deliveries: ?state=pending|delivered|dead&after=CURSOR&limit=N.
func (api *API) webhookDeliveries(w http.ResponseWriter, r *http.Request) {
	state := r.URL.Query().Get("state")
	switch state {
	case "", webhooks.DeliveryPending, webhooks.DeliveryDelivered, webhooks.DeliveryDead:
	default:
		writeError(w, fmt.Errorf("%w: state must be pending, delivered or dead", app.ErrInvalidArgument))
		return
	}
	afterParam, limit, err := pageParams(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var after int64
	if afterParam != "" {
		if after, err = strconv.ParseInt(afterParam, 10, 64); err != nil || after < 0 {
			writeError(w, fmt.Errorf("%w: after must be a cursor from a previous page", app.ErrInvalidArgument))
			return
		}
	}
	ds, err := api.hooks.Deliveries(r.Context(), r.PathValue("id"), state, after, limit)
	if err != nil {
		writeError(w, err)
		return
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
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (api *API) redeliverWebhook(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("delivery"), 10, 64)
	if err != nil {
		writeError(w, fmt.Errorf("delivery %q: %w", r.PathValue("delivery"), webhooks.ErrNotFound))
		return
	}
	d, err := api.hooks.Redeliver(r.Context(), r.PathValue("id"), id)
	if err != nil {
		writeError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusAccepted, toDeliveryJSON(d))
}
