-- +goose Up
-- GET /v1/targets: each target's figures by a count over this index, not the table, and its
-- latest refusal by one descent of it.
CREATE INDEX target_outcomes_target ON target_outcomes (target, state, updated_at);

-- +goose Down
DROP INDEX target_outcomes_target;
