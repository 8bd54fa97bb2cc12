-- +goose Up
-- A subscription takes effect at a time rather than after a log sequence: every replica's intake
-- compares an outcome's recorded time with it, with no second write after the subscription is
-- stored (see webhooks.Service.Subscribe).
ALTER TABLE webhook_endpoints ADD COLUMN effective_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE webhook_endpoints DROP COLUMN from_seq;

-- +goose Down
ALTER TABLE webhook_endpoints ADD COLUMN from_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE webhook_endpoints DROP COLUMN effective_at;
