-- +goose Up
-- Webhook endpoints and their delivery queues (package webhooks). Not a read model: secrets,
-- attempts and dead letters cannot be rebuilt from the log, so they live with the stores and
-- `erasure replay` never touches them. Times are Unix milliseconds: the scheduler compares them
-- on both dialects alike.
CREATE TABLE webhook_endpoints (
    endpoint_id     TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,                    -- subscription | callback (a deletion's callback_url)
    url             TEXT NOT NULL,
    event_types     TEXT NOT NULL,                    -- comma-separated
    format          TEXT NOT NULL DEFAULT 'standard', -- standard | sophon
    secret          TEXT NOT NULL DEFAULT '',
    previous_secret TEXT NOT NULL DEFAULT '',         -- signs beside secret until previous_until
    previous_until  BIGINT NOT NULL DEFAULT 0,
    state           TEXT NOT NULL,                    -- active | disabled
    disabled_reason TEXT NOT NULL DEFAULT '',
    from_seq        BIGINT NOT NULL,                  -- gets the outcomes recorded after this log sequence
    created_at      BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_kind ON webhook_endpoints (kind, state);

-- One row per (endpoint, message): the endpoint's queue. A claimed delivery's next_attempt_at is
-- pushed to the end of its claim, so a delivery whose sender died is due again then, and is sent
-- again with the same message id (webhook-id).
CREATE TABLE webhook_deliveries (
    delivery_id     BIGSERIAL PRIMARY KEY,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (endpoint_id) ON DELETE CASCADE,
    message_id      TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    body            TEXT NOT NULL,
    state           TEXT NOT NULL,                    -- pending | delivered | dead
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claim           TEXT NOT NULL DEFAULT '',
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    last_latency_ms BIGINT NOT NULL DEFAULT 0,
    last_attempt_at BIGINT NOT NULL DEFAULT 0,
    delivered_at    BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    UNIQUE (endpoint_id, message_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, state, next_attempt_at);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
