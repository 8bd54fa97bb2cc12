-- +goose Up
-- Each external target's outcome for a person's deletion (saga_id: the deletion that runs it).
CREATE TABLE target_outcomes (
    person_id  TEXT NOT NULL,
    saga_id    TEXT NOT NULL,
    target     TEXT NOT NULL,
    state      TEXT NOT NULL, -- pending, deleted, failed
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (person_id, saga_id, target)
);

-- +goose Down
DROP TABLE target_outcomes;
